"""A run: the per-tier matrix (plus live ladders where context is carried), resumable, budgeted.

Layout of ``runs/NAME/``: ``run.json`` (settings and the pinned price table, written once),
``attempts.jsonl`` (append-only), ``answers.jsonl`` (raw answers, replayable), ``summary.json``.
Rerunning the same command skips every attempt already recorded.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import taskset
from taskset.atomic import write_atomic
from taskset.record import CalibrationStatus, Task

from harness.config import CarryOver, Tier
from harness.errors import HarnessError, RunDirError
from harness.loop import Context, Evaluate, _default_evaluate, earlier_from, tier_attempts
from harness.pricing import known_spend
from harness.prompts import read_sources
from harness.providers import Provider, make_provider
from harness.records import MATRIX, AttemptRecord, RunLog
from harness.strategies import (ALWAYS_FRONTIER, ALWAYS_LOCAL, CARRY, HEURISTIC, LOCAL_REPAIR, MODE_E, ORACLE_ROUTING,
                                STRATEGIES, heuristic_start, repair_tier)

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunSpec:
    """What ``harness run`` was asked to do."""

    taskset: Path
    """The task set directory."""
    out: Path
    """The run directory (created; reused to resume)."""
    tiers: tuple[Tier, ...]
    """The ladder, bottom first."""
    strategies: tuple[str, ...] = STRATEGIES
    """Strategies to report (computed from the matrix; modeE+carry runs live when carry_over=all)."""
    seeds: tuple[int, ...] = (42,)
    """Seeds: each tier runs once per task and seed."""
    task_ids: tuple[str, ...] = ()
    """Restrict to these tasks (empty: every usable task)."""
    jobs: int = 1
    """Tasks run in parallel."""
    max_cost: float | None = None
    """Stop starting paid attempts once priced spend reaches this many dollars."""
    max_attempts: int = 8
    """Global attempt cap per task and strategy."""
    carry_over: CarryOver = CarryOver.NONE
    """Which earlier failures prompts see."""
    include_uncalibrated: bool = False
    """Also run tasks calibration has not seen yet (never those it found untrustworthy)."""


@dataclass
class RunResult:
    """What a run did."""

    out: Path
    tasks: int = 0
    new_attempts: int = 0
    resumed_attempts: int = 0
    spent: float = 0.0
    stopped_by_cost: bool = False
    notes: list[str] = field(default_factory=list)


class Budget:
    """The --max-cost gate, shared by every job; unpriced paid tiers are let through (cost unknown)."""

    def __init__(self, limit: float | None, prices: dict[str, Tier], spent: float):
        self.limit, self.prices, self.spent = limit, prices, spent
        self.stopped = False
        self._lock = threading.Lock()

    def allow(self, tier: Tier) -> bool:
        """True unless this is a paid attempt and the spend has reached the limit."""
        with self._lock:
            if self.limit is None or not tier.paid or self.spent < self.limit:
                return True
            self.stopped = True
            return False

    def add(self, record: AttemptRecord) -> None:
        """Count a finished attempt's priced cost."""
        with self._lock:
            self.spent += known_spend([record], self.prices)


def select_tasks(spec: RunSpec) -> list[Task]:
    """The tasks to run: the named ones, else the calibrated (ok) ones, plus uncalibrated ones if asked."""
    tasks = taskset.load(spec.taskset)
    if spec.task_ids:
        return list(tasks.filter(ids=spec.task_ids))
    usable = {CalibrationStatus.OK}
    if spec.include_uncalibrated:
        usable.add(CalibrationStatus.UNCALIBRATED)
    chosen = [t for t in tasks if t.calibration.status in usable]
    if len(tasks) and not chosen:
        raise HarnessError(
            f"{spec.taskset}: none of its {len(tasks)} tasks is calibrated ok; "
            "run `calibrate` first, or pass --uncalibrated to use tasks calibration has not seen"
        )
    return chosen


def run(spec: RunSpec, *, evaluate: Evaluate | None = None, providers: dict[str, Provider] | None = None) -> RunResult:
    """Run (or resume) the matrix and live ladders; returns counts and whether the budget stopped it."""
    if not spec.tiers:
        raise HarnessError("no tiers to run")
    tasks = select_tasks(spec)
    repair = repair_tier(spec.tiers[0], spec.tiers, spec.max_attempts) if LOCAL_REPAIR in spec.strategies else None
    columns = list(spec.tiers) + ([repair] if repair else [])
    open_run_dir(spec, columns)
    log = RunLog(spec.out)
    prices = {t.name: t for t in spec.tiers}
    budget = Budget(spec.max_cost, prices, known_spend(log, prices))
    result = RunResult(spec.out, tasks=len(tasks), resumed_attempts=len(log.records))
    providers = providers or {t.name: make_provider(t) for t in spec.tiers}
    evaluate = evaluate or _default_evaluate()
    live = spec.carry_over is CarryOver.ALL and MODE_E in spec.strategies

    def one_task(task: Task) -> None:
        ctx = Context(task, read_sources(task), evaluate, log, allow=budget.allow)
        for seed in spec.seeds:
            solved: list[bool] = []
            for index, tier in enumerate(spec.tiers):
                if needed(spec, index, solved, task):
                    outcome = tier_attempts(ctx, tier, seed, providers[tier.name], carry_over=spec.carry_over)
                    solved.append(outcome.resolved)
                else:
                    solved.append(False)
            if repair is not None:
                tier_attempts(ctx, repair, seed, providers[spec.tiers[0].name], carry_over=spec.carry_over)
            if live:
                carry_ladder(Context(task, ctx.sources, evaluate, log, CARRY, budget.allow), spec, seed, providers)

    log.on_append = budget.add
    with ThreadPoolExecutor(max_workers=max(1, spec.jobs)) as pool:
        for future in [pool.submit(one_task, task) for task in tasks]:
            future.result()
    result.new_attempts = len(log.records) - result.resumed_attempts
    result.spent, result.stopped_by_cost = budget.spent, budget.stopped
    if budget.stopped:
        result.notes.append(f"--max-cost {spec.max_cost:g} reached: no further paid attempts were started")
    if log.skipped_lines:
        result.notes.append(f"{log.skipped_lines} unreadable lines in attempts.jsonl were ignored")
    return result


def needed(spec: RunSpec, index: int, solved: Sequence[bool], task: Task) -> bool:
    """Whether any requested strategy needs tier ``index``'s cell, given what lower tiers solved.

    Cells are run lazily in ladder order, so a task modeE solves at the bottom never pays for
    the top unless always-frontier (or the oracle-routing bound) asks for it.
    """
    wanted = set(spec.strategies)
    last = len(spec.tiers) - 1
    if ORACLE_ROUTING in wanted or (index == 0 and ALWAYS_LOCAL in wanted) or (index == last and ALWAYS_FRONTIER in wanted):
        return True
    used = sum(t.attempts for t in spec.tiers[:index])
    if MODE_E in wanted and not any(solved) and used < spec.max_attempts:
        return True
    start = heuristic_start(task.calibration.difficulty, len(spec.tiers))
    return HEURISTIC in wanted and start <= index and not any(solved[start:index])


def carry_ladder(ctx: Context, spec: RunSpec, seed: int, providers: dict[str, Provider]) -> None:
    """modeE with carry-over ``all``: later tiers see earlier tiers' failures, so it runs live."""
    left, earlier = spec.max_attempts, []
    for tier in spec.tiers:
        if left <= 0:
            return
        outcome = tier_attempts(ctx, tier, seed, providers[tier.name], max_attempts=left, earlier=earlier,
                                carry_over=CarryOver.ALL)
        if outcome.resolved or outcome.stopped:
            return
        left -= len(outcome.records)
        earlier += [earlier_from(r, ctx.log.answers.get(r.key, "") if ctx.log else "") for r in outcome.records]


def open_run_dir(spec: RunSpec, columns: Sequence[Tier]) -> dict:
    """Write run.json on the first run; on a rerun, refuse if the tiers are a different experiment."""
    path = spec.out / RUN_FILE
    settings = {
        "taskset": str(Path(spec.taskset).resolve()),
        "tiers": [t.public() for t in spec.tiers],
        "columns": [t.public() for t in columns],
        "strategies": list(spec.strategies),
        "seeds": list(spec.seeds),
        "max_attempts": spec.max_attempts,
        "carry_over": spec.carry_over.value,
        "max_cost": spec.max_cost,
    }
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunDirError(str(spec.out), f"{RUN_FILE} is unreadable ({exc})") from None
        before = [Tier(**_tier_args(t)).fingerprint() for t in old.get("tiers", [])]
        if before != [t.fingerprint() for t in spec.tiers]:
            raise RunDirError(str(spec.out), "was started with different tiers; use a new --out to compare")
        old.update({k: settings[k] for k in ("strategies", "seeds", "max_cost", "columns")})
        settings = {**old, "resumed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    else:
        settings["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_atomic(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return settings


def _tier_args(data: dict) -> dict:
    from harness.config import EditFormat, ProviderKind

    known = set(Tier.__dataclass_fields__)
    args = {k: v for k, v in data.items() if k in known}
    args["provider"] = ProviderKind(args.get("provider", "openai"))
    args["edit_format"] = EditFormat(args.get("edit_format", "search-replace"))
    return args


def run_tiers(out: Path) -> list[Tier]:
    """The ladder a run directory was started with (its pinned price table)."""
    path = Path(out) / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(str(out), f"not a run directory ({RUN_FILE}: {exc})") from None
    return [Tier(**_tier_args(t)) for t in data.get("tiers", [])]


def run_settings(out: Path) -> dict:
    """The run directory's settings as written in run.json."""
    run_tiers(out)
    return json.loads((Path(out) / RUN_FILE).read_text(encoding="utf-8"))
