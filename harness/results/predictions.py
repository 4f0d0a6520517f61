"""A run's answers as SWE-bench predictions files: one per tier and one per strategy.

Each line is ``{"instance_id", "model_name_or_path", "model_patch"}``, what SWE-bench's
``run_evaluation --predictions_path`` reads. The patch is the answer that decided the run (the
resolving attempt, else the last one), as a git diff; an answer that could not be used is an
empty patch. Runs a strategy could not finish have no line. With several seeds, one file per
seed (``NAME.seed7.jsonl``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from harness.names import Strategy
from harness.records.attempts import ANSWERS_FILE, Answer, Key, read_answers
from harness.results.strategies import Matrix, Result
from taskset.files.atomic import write_atomic

PREDICTIONS_DIR = "predictions"


def write_predictions(out: Path, matrix: Matrix, keys: Iterable[tuple[str, int]],
                      strategies: Iterable[Strategy], thresholds: Iterable[float] = ()) -> list[Path]:
    """Write ``out/predictions/*.jsonl``; returns the files written."""
    keys = list(keys)
    answers = read_answers(out / ANSWERS_FILE)
    seeds = sorted({seed for _, seed in keys})
    columns: list[tuple[str, str, dict[tuple[str, int], Result]]] = []
    for tier in matrix.tiers:
        columns.append((tier.name, tier.model or tier.name, {k: matrix.ladder(*k, [tier]) for k in keys}))
    for strategy in strategies:
        if strategy is Strategy.CASCADE:
            for t in thresholds:
                name = f"cascade@{t:g}"
                columns.append((name, f"loopctl-{name}", {k: matrix.result(strategy, *k, t) for k in keys}))
        elif strategy is not Strategy.MATRIX:
            columns.append((strategy.value, f"loopctl-{strategy.value}",
                            {k: matrix.result(strategy, *k) for k in keys}))
    written = []
    for name, model, results in columns:
        for seed in seeds:
            rows = [_row(task, model, result, answers) for (task, s), result in results.items()
                    if s == seed and result.complete and result.attempts]
            suffix = f".seed{seed}" if len(seeds) > 1 else ""
            path = out / PREDICTIONS_DIR / f"{_safe(name)}{suffix}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
            written.append(path)
    return written


def _row(task: str, model: str, result: Result, answers: dict[Key, Answer]) -> dict[str, str]:
    deciding = next((r for r in result.attempts if r.resolved), result.attempts[-1])
    answer = answers.get(deciding.key)
    return {"instance_id": task, "model_name_or_path": model, "model_patch": answer.patch if answer else ""}


def _safe(name: str) -> str:
    return re.sub(r"[^\w.@+-]", "_", name)
