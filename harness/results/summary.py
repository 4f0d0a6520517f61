"""summary.json: per-strategy pass rates with CIs, paired differences, estimated and billed costs,
tokens, latency, per-tier recovery, the cascade sweep, the failure-mode catalog with the
infrastructure failures apart, and the modeE cost model — all from the records.

Dollars are computed here, from a price table (the run's pinned one, or another to re-price).
A run is counted over the (task, seed) pairs it was asked for: a pair a strategy could not
finish (budget stop, Ctrl-C, crash, infrastructure failure) is shown as incomplete, never folded
into the pass rate as a success or a failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import CarryOver, Tier
from harness.errors import RunDirError
from harness.loop.prehoc import DEFAULT_THRESHOLDS, HEURISTIC_CUTS, SCORE_RULE
from harness.modes import DESCRIPTIONS, INFRASTRUCTURE, FailureMode
from harness.names import Strategy
from harness.records.attempts import (
    ATTEMPTS_FILE,
    TASKS_FILE,
    AttemptRecord,
    final_records,
    read_attempts,
    read_settings,
    run_tiers,
)
from harness.results.agentmodes import agent_modes
from harness.results.classes import ClassKind, classes_of, decide, label_order
from harness.results.retrieval import context_of, recall_table
from harness.results.stats import bootstrap_ci, median, paired_ci
from harness.results.strategies import Matrix, Result
from taskset.files.atomic import write_atomic

SUMMARY_FILE = "summary.json"
INFRA_RULE = ("Infrastructure failures (api-error, timeout, env-failed: the model's server or the machine failed, "
              "not the answer) are never counted as a model's failure. The attempt is left unfinished, retried by "
              "the next run of the same command, and shown apart: the 'infra' columns count runs waiting on such a "
              "retry. A tampered verdict is the candidate's own doing (attempted cheating) and counts against its "
              "model.")
HEURISTIC_RULE = (f"heuristic routes on the pre-hoc score ({SCORE_RULE}): below {HEURISTIC_CUTS[0]:g} it starts at "
                  f"the bottom rung, below {HEURISTIC_CUTS[1]:g} mid-ladder, else at the top. No calibrated "
                  "difficulty is used, so its score does not leak the outcome.")
CASCADE_RULE = ("cascade@t sends a task to the first tier alone when its pre-hoc score is at most t, else to the "
                "last tier alone; every point comes from the same outcome matrix, at no extra model cost.")


@dataclass
class RunView:
    """A run directory read once: settings, ladder, price table, records, and the matrix over them."""

    out: Path
    settings: dict[str, Any]
    tiers: list[Tier]
    prices: dict[str, Tier]
    records: list[AttemptRecord]
    matrix: Matrix
    keys: list[tuple[str, int]]
    """The (task, seed) pairs the run was asked for."""
    strategies: list[Strategy]
    thresholds: list[float]
    notes: list[str]


def view(out: str | Path, prices: Sequence[Tier] | None = None) -> RunView:
    """Read a run directory (``prices`` re-prices it; default: the table pinned in run.json)."""
    out = Path(out)
    settings = read_settings(out)
    tiers = run_tiers(out)
    table = {t.name: t for t in (prices or tiers)}
    records = read_attempts(out / ATTEMPTS_FILE)
    notes: list[str] = []
    wanted = _strategies(settings, records, notes)
    carry = CarryOver(settings.get("carry_over", CarryOver.NONE.value))
    matrix = Matrix(records, tiers, table, settings.get("max_attempts", 8), carry, read_scores(out))
    thresholds = [float(t) for t in settings.get("cascade_thresholds", DEFAULT_THRESHOLDS)]
    return RunView(out, settings, tiers, table, records, matrix, _keys(settings, records), wanted, sorted(thresholds),
                   notes)


def summarize(out: str | Path, prices: Sequence[Tier] | None = None, by: ClassKind | None = None) -> dict[str, Any]:
    """The run's statistics; ``prices`` re-prices the run (default: the table pinned in run.json).

    ``by`` splits every table by task class (each cell with intervals resampled within it); the
    decision matrix is per class then, else one row for the whole run.
    """
    run = view(out, prices)
    matrix, keys, settings = run.matrix, run.keys, run.settings
    results = {s.value: {k: matrix.result(s, *k) for k in keys} for s in run.strategies if s is not Strategy.CASCADE}
    whole = section(run, keys, results)
    infra = [r for r in run.records if r.infrastructure]
    outstanding = {r.key: r for r in infra if r.key not in matrix.final}
    summary = {
        "run": {**{k: settings.get(k) for k in ("taskset", "seeds", "max_attempts", "carry_over", "started_at",
                                               "max_cost")},
                "context": context_of(run.tiers), "context_by_tier": {t.name: t.context.value for t in run.tiers}},
        "tasks": len({k[0] for k in keys}),
        "runs": len(keys),
        "attempts": len(final_records(run.records)),
        "complete": all(s["incomplete_runs"] == 0 for s in whole["strategies"].values()) and not outstanding,
        "prices": {t.name: {"input": t.price_input, "cached_input": t.price_cached_input, "output": t.price_output,
                            "per_hour": t.cost_per_hour} for t in run.prices.values()},
        **{k: v for k, v in whole.items() if k not in ("tasks", "runs")},
        "heuristic_rule": HEURISTIC_RULE,
        "retrieval": recall_table(final_records(run.records)),
        "infrastructure": {"rule": INFRA_RULE, "outstanding": len(outstanding), "events": len(infra),
                           "by_tier": _count(outstanding.values(), "tier"),
                           "by_mode": _count(outstanding.values(), "mode")},
        "notes": run.notes,
    }
    labels = read_classes(run.out, settings, [k[0] for k in keys], run.notes)
    cells = {}
    if by is not None:
        for label in label_order(by, {labels[t][by.value] for t, _ in keys}):
            subset = [k for k in keys if labels[k[0]][by.value] == label]
            cells[label] = section(run, subset, {n: {k: r[k] for k in subset} for n, r in results.items()})
    summary["classes"] = {"by": by.value if by else None, "cells": cells}
    summary["decision"] = [decide(label, c["strategies"], c["tasks"]) for label, c in cells.items()] or [
        decide("all tasks", whole["strategies"], whole["tasks"])]
    return summary


def section(run: RunView, keys: Sequence[Cell], results: Mapping[str, Mapping[Cell, Result]]) -> dict[str, Any]:
    """Every table over the (task, seed) pairs ``keys``: the whole run, or one task class."""
    matrix = run.matrix
    tasks = {k[0] for k in keys}
    strategies = {name: _stats(res) for name, res in results.items()}
    cascade = _cascade(matrix, keys, run.thresholds) if Strategy.CASCADE in run.strategies else []
    final = [r for r in final_records(run.records) if r.task in tasks]
    outstanding = {r.key: r for r in run.records if r.infrastructure and r.key not in matrix.final and r.task in tasks}
    return {
        "tasks": len(tasks),
        "runs": len(keys),
        "strategies": strategies,
        "differences": _differences(results),
        "tiers": _tiers(matrix, run.tiers, keys, results.get(Strategy.MODE_E.value, {})),
        "cascade": {"rule": CASCADE_RULE, "score": SCORE_RULE, "points": cascade} if cascade else {},
        "failure_modes": _catalog(final),
        "agent_modes": agent_modes(final + list(outstanding.values()), {t.name: t.kind for t in run.tiers}),
        "cost_model": _cost_model(matrix, run.tiers, keys, strategies),
    }


def write_summary(out: str | Path, prices: Sequence[Tier] | None = None) -> dict[str, Any]:
    """Compute the summary and write ``summary.json`` atomically."""
    data = summarize(out, prices)
    # insertion order is meaningful (modeE first, tiers bottom-up): do not sort keys
    write_atomic(Path(out) / SUMMARY_FILE, json.dumps(data, indent=2) + "\n")
    return data


def load_summary(out: str | Path) -> dict[str, Any]:
    """Read a run directory's summary.json."""
    path = Path(out) / SUMMARY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(str(out), f"no readable {SUMMARY_FILE} ({exc})") from None


def read_classes(out: Path, settings: Mapping[str, Any], tasks: Sequence[str], notes: list[str]) -> dict[str, dict]:
    """Task -> its class labels, from tasks.jsonl; a task it lacks (older runs) from the task set, else unknown."""
    found: dict[str, dict] = {}
    for row in _task_lines(out):
        if isinstance(row.get("classes"), dict):
            found[row["task"]] = row["classes"]
    missing = [t for t in tasks if t not in found]
    if missing:
        from taskset.errors import TasksetError
        from taskset.store import load

        try:
            store = load(settings.get("taskset") or "")
            found.update({t.instance_id: classes_of(t) for t in store if t.instance_id in set(missing)})
        except (TasksetError, OSError) as exc:
            notes.append(f"task classes of {len(missing)} task(s) unknown: the task set cannot be read ({exc})")
    unknown = dict.fromkeys((k.value for k in ClassKind), "unknown")
    return {t: {**unknown, **found.get(t, {})} for t in tasks}


def _task_lines(out: Path) -> list[dict]:
    path = Path(out) / TASKS_FILE
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "task" in row:
                rows.append(row)
    return rows


def read_scores(out: Path) -> dict[str, float]:
    """Task -> pre-hoc score, from tasks.jsonl (the last line of a task wins)."""
    scores: dict[str, float] = {}
    for row in _task_lines(out):
        try:
            scores[row["task"]] = float(row["features"]["score"])
        except (ValueError, KeyError, TypeError):
            continue
    return scores


def _strategies(settings: dict, records, notes: list[str]) -> list[Strategy]:
    """The strategies run.json asked for, modeE first, oracle-routing always; unknown names skipped."""
    asked: list[Strategy] = []
    for name in settings.get("strategies", []):
        try:
            asked.append(Strategy(name))
        except ValueError:
            notes.append(f"run.json names an unknown strategy {name!r}: skipped")
    asked = [s for s in asked if s not in (Strategy.MATRIX, Strategy.ORACLE_ROUTING)]
    carry = (settings.get("carry_over") == CarryOver.ALL.value and Strategy.MODE_E in asked) or any(
        r.strategy is Strategy.CARRY for r in records)
    order = [Strategy.MODE_E] if Strategy.MODE_E in asked else []
    order += [s for s in asked if s not in (Strategy.MODE_E, Strategy.CARRY)]
    order.append(Strategy.ORACLE_ROUTING)
    if carry or Strategy.CARRY in asked:
        order.append(Strategy.CARRY)
    return order


def _keys(settings: dict, records) -> list[tuple[str, int]]:
    tasks = settings.get("tasks") or sorted({r.task for r in records})
    seeds = sorted(set(settings.get("seeds") or []) | {r.seed for r in records}) or [0]
    return [(task, seed) for task in tasks for seed in seeds]


def per_task(results: Mapping[tuple[str, int], Result]) -> dict[str, float]:
    """Task -> share of its (complete) seeds resolved."""
    by_task: dict[str, list[float]] = {}
    for (task, _), result in results.items():
        if result.complete:
            by_task.setdefault(task, []).append(float(result.resolved))
    return {task: sum(v) / len(v) for task, v in by_task.items()}


def _mean(values: list[float | None], n: int) -> float | None:
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None) / n if n else None


def _stats(results: Mapping[tuple[str, int], Result]) -> dict[str, Any]:
    done = [r for r in results.values() if r.complete]
    tasks = per_task(results)
    attempts = [a for r in done for a in r.attempts]
    timed = [a for a in attempts if a.latency > 0]
    n = len(done)
    return {
        "pass_rate": sum(tasks.values()) / len(tasks) if tasks else None,
        "ci95": list(bootstrap_ci(list(tasks.values()))) if tasks else None,
        "tasks": len(tasks),
        "runs": n,
        "incomplete_runs": len(results) - n,
        "infra_runs": sum(1 for r in results.values() if not r.complete and r.infra),
        "resolved_runs": sum(r.resolved for r in done),
        "cost_per_task": _mean([r.cost for r in done], n),
        "billed_per_task": _mean([r.billed for r in done], n),
        "cloud_fraction": sum(r.paid for r in done) / n if n else None,
        "attempts_per_task": len(attempts) / n if n else None,
        "tokens_per_task": {kind: (sum(getattr(a, f"{kind}_tokens") for a in attempts) / n if n else 0.0)
                            for kind in ("prompt", "cached", "completion", "reasoning")},
        "latency_median": median([a.latency for a in timed]),
        "ttft_median": median([a.ttft for a in timed if a.ttft is not None]),
        "tokens_per_second": median([a.tokens_per_second for a in attempts if a.tokens_per_second]),
        "tampered": sum(1 for a in attempts if a.failure_mode is FailureMode.TAMPERED),
    }


def _differences(results: Mapping[str, Mapping[tuple[str, int], Result]]) -> list[dict[str, Any]]:
    base_name = Strategy.MODE_E.value
    if base_name not in results:
        return []
    base = per_task(results[base_name])
    out = []
    for name, res in results.items():
        if name == base_name:
            continue
        diff, ci = paired_ci(base, per_task(res))
        out.append({"a": base_name, "b": name, "pass_rate_diff": diff, "ci95": list(ci)})
    return out


Cell = tuple[str, int]
"""(task, seed): one cell of the run."""


def _tiers(
    matrix: Matrix, tiers: Sequence[Tier], keys: Sequence[Cell], mode_e: Mapping[Cell, Result]
) -> dict[str, Any]:
    out = {}
    for tier in tiers:
        alone = {k: matrix.ladder(*k, [tier]) for k in keys}
        ran = {k: r for k, r in alone.items() if r.attempts or r.infra}  # cells no strategy needed are absent
        stats = _stats(ran) if ran else _stats({})
        attempts = [a for r in alone.values() for a in r.attempts]
        recovered = sum(1 for r in mode_e.values() if r.complete and r.solved_by == tier.name)
        out[tier.name] = {**{k: stats[k] for k in ("runs", "incomplete_runs", "infra_runs", "pass_rate", "ci95",
                                                   "cost_per_task", "billed_per_task", "latency_median",
                                                   "ttft_median", "tokens_per_second", "tampered")},
                          "runaway": sum(1 for a in attempts if a.failure_mode is FailureMode.RUNAWAY),
                          "recovered": recovered, "priced": tier.priced, "paid": tier.paid}
    return out


def _cascade(matrix: Matrix, keys: Sequence[Cell], thresholds: Sequence[float]) -> list[dict[str, Any]]:
    points = []
    for threshold in sorted(thresholds):
        results = {k: matrix.result(Strategy.CASCADE, *k, threshold) for k in keys}
        stats = _stats(results)
        local = sum(1 for task in {k[0] for k in keys} if matrix.scores.get(task, float("inf")) <= threshold)
        points.append({"threshold": threshold, "tasks_local": local, **{
            k: stats[k] for k in ("pass_rate", "ci95", "cloud_fraction", "cost_per_task", "billed_per_task", "runs",
                                  "incomplete_runs", "infra_runs")}})
    return points


def _catalog(records) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        counts.setdefault(record.failure_mode.value, {}).setdefault(record.tier, 0)
        counts[record.failure_mode.value][record.tier] += 1
    total = len(records) or 1
    return {mode.value: {"count": sum(counts.get(mode.value, {}).values()), "by_tier": counts.get(mode.value, {}),
                         "share": sum(counts.get(mode.value, {}).values()) / total,
                         "infrastructure": mode in INFRASTRUCTURE, "meaning": DESCRIPTIONS[mode]}
            for mode in FailureMode}


def _count(records, what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for record in records:
        name = record.tier if what == "tier" else record.failure_mode.value
        out[name] = out.get(name, 0) + 1
    return out


def _cost_model(matrix: Matrix, tiers: Sequence[Tier], keys: Sequence[Cell], strategies) -> dict[str, Any]:
    """Projected modeE cost per task as a function of the first tier's pass rate p: c1 + (1 - p) * rest."""
    if not tiers or not keys:
        return {}
    first = [matrix.ladder(*k, tiers[:1]) for k in keys]
    saved, matrix.cap = matrix.cap, matrix.cap - tiers[0].attempts
    rest = [matrix.ladder(*k, tiers[1:]) for k in keys]
    matrix.cap = saved
    pairs = [(f, r) for f, r in zip(first, rest, strict=True) if f.complete]
    failed = [r for f, r in pairs if not f.resolved and r.attempts and r.complete] or [
        r for _, r in pairs if r.attempts and r.complete]
    c1 = _mean([f.cost for f, _ in pairs], len(pairs)) if pairs else None
    c_rest = _mean([r.cost for r in failed], len(failed)) if failed else 0.0
    frontier = strategies.get(Strategy.ALWAYS_FRONTIER.value, {}).get("cost_per_task")
    p = sum(f.resolved for f, _ in pairs) / len(pairs) if pairs else None
    model: dict[str, Any] = {"first_tier_pass_rate": p, "first_tier_cost": c1, "rest_cost_when_first_fails": c_rest,
                             "always_frontier_cost": frontier, "curve": [], "break_even_pass_rate": None}
    if c1 is None or c_rest is None:
        return model
    model["curve"] = [[i / 10, c1 + (1 - i / 10) * c_rest] for i in range(11)]
    if frontier is not None and c_rest > 0:
        model["break_even_pass_rate"] = min(1.0, max(0.0, 1 - (frontier - c1) / c_rest))
    return model
