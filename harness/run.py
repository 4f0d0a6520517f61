"""A run: the per-tier matrix (plus live ladders where context is carried), resumable, budgeted.

Layout of ``runs/NAME/``: ``run.json`` (settings, the tasks, the pinned price table),
``attempts.jsonl`` (append-only), ``answers.jsonl`` (raw answers, replayable), ``tasks.jsonl``
(each task's pre-hoc features), ``summary.json`` and the reports. Rerunning the same command
skips every attempt already recorded and retries those that failed for infrastructure reasons.

Order of work: every input is checked (nothing written yet), each tier's server is asked for its
models, the run directory is locked (one writer), then tasks run on ``jobs`` threads (with
``--backend ray`` the cells a thread decides on run as Ray tasks and are written back here:
``harness.loop.raycells``). Ctrl-C or SIGTERM stops new attempts at once, cuts model calls in
flight, lets evaluations in flight finish and returns with ``interrupted`` set; a second signal
quits at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from harness.checks import check_cache, check_options, check_servers, check_writable_dir
from harness.config import CarryOver, Tier, TierKind
from harness.errors import AgentUnavailable, RunDirError
from harness.loop.gate import Gate, stop_on_signals
from harness.loop.prehoc import DEFAULT_THRESHOLDS, Features, features, heuristic_start
from harness.loop.prompts import Earlier, read_sources
from harness.loop.tier import (
    Alias,
    Attempt,
    Context,
    Evaluate,
    TierOutcome,
    default_evaluate,
    earlier_from,
    shared_prefix,
    tier_attempts,
)
from harness.names import DEFAULT, Strategy, parse_strategies
from harness.providers.calls import Calls
from harness.providers.completion import Provider
from harness.providers.factory import make_provider
from harness.records.attempts import RUN_FILE, TASKS_FILE, RunLog, read_settings, tier_from_dict
from harness.records.pricing import known_spend
from harness.results.classes import classes_of
from harness.results.strategies import repair_tier
from harness.tasksource import load_tasks, select_tasks
from harness.workers import Counter, run_threads
from taskset.errors import TasksetError
from taskset.files.atomic import append_line, remove_stale_temporaries, write_atomic
from taskset.files.dirlock import LOCK_FILE, exclusive
from taskset.jobs.pool import Backend
from taskset.jobs.progress import SILENT, Progress
from taskset.record import Task


@dataclass(frozen=True)
class RunSpec:
    """What ``harness run`` was asked to do."""

    taskset: Path
    """The task set directory, or a SWE-bench .jsonl/.json file."""
    out: Path
    """The run directory (created; reused to resume)."""
    tiers: tuple[Tier, ...]
    """The ladder, bottom first."""
    strategies: tuple[Strategy, ...] = DEFAULT
    """Strategies to compare; only the cells they need are run."""
    seeds: tuple[int, ...] = (42,)
    """Seeds: each tier runs once per task and seed."""
    task_ids: tuple[str, ...] = ()
    """Restrict to these tasks (empty: every usable task)."""
    jobs: int | None = None
    """Tasks run at once (None: one locally; on Ray, as many as the cluster has CPUs)."""
    backend: Backend = Backend.LOCAL
    """Where each (task, seed, tier) cell runs: a thread here, or a Ray task (``--backend ray``)."""
    max_cost: float | None = None
    """Stop starting paid attempts once the spend reaches this many dollars."""
    max_attempts: int = 8
    """Global attempt cap per task and strategy."""
    carry_over: CarryOver = CarryOver.NONE
    """Which earlier failures prompts see; ``all`` adds the live modeE+carry ladder to modeE."""
    include_uncalibrated: bool = False
    """Also run tasks calibration has not seen yet (never those it found untrustworthy)."""
    cascade_thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    """The pre-hoc score thresholds the cascade strategy is swept over."""

    def __post_init__(self) -> None:
        # names are accepted too (an unknown one is a HarnessError before anything runs)
        object.__setattr__(self, "strategies", parse_strategies(s.value if isinstance(s, Strategy) else s
                                                                for s in self.strategies))
        object.__setattr__(self, "out", Path(self.out))

    @property
    def wanted(self) -> frozenset[Strategy]:
        """The strategies to compute (carry_over=all with modeE implies the live ladder)."""
        extra = {Strategy.CARRY} if self.carry_over is CarryOver.ALL and Strategy.MODE_E in self.strategies else set()
        return frozenset(self.strategies) | extra


@dataclass
class RunResult:
    """What a run did."""

    out: Path
    tasks: int = 0
    new_attempts: int = 0
    resumed_attempts: int = 0
    spent: float = 0.0
    stopped_by_cost: bool = False
    interrupted: bool = False
    """A stop (Ctrl-C, SIGTERM) ended the run early; what finished is recorded."""
    infra_failures: int = 0
    """Attempts that failed for infrastructure reasons and wait for the next run."""
    notes: list[str] = field(default_factory=list)


Cell = Callable[..., TierOutcome]
"""Runs one (task, seed, tier) cell: ``tier_attempts`` here, or ``harness.loop.raycells.RayCells`` on Ray."""


@dataclass
class _Plan:
    spec: RunSpec
    tasks: list[Task]
    providers: dict[str, Provider]
    repair: Tier
    repair_shared: int
    carry_shared: int
    cell: Cell = tier_attempts
    agent: Attempt | None = None
    """How agent tiers' attempts run (None when the ladder has none)."""


def prepare(spec: RunSpec, providers: dict[str, Provider] | None = None, calls: Calls | None = None) -> _Plan:
    """Check every input and build the providers; raises HarnessError/TasksetError, writes nothing."""
    if not spec.tiers:
        raise RunDirError(str(spec.out), "no tiers to run")
    check_options(spec.jobs, spec.max_cost, spec.seeds, spec.cascade_thresholds)
    check_writable_dir(Path(spec.out), "--out")
    _same_ladder(spec)
    check_cache()
    tasks, swebench = load_tasks(Path(spec.taskset))
    tasks = select_tasks(tasks, Path(spec.taskset), spec.task_ids, spec.include_uncalibrated, swebench)
    if providers is None:
        providers = {t.name: make_provider(t, calls) for t in spec.tiers}
    first = spec.tiers[0]
    repair = repair_tier(first, spec.tiers, spec.max_attempts)
    return _Plan(spec, tasks, providers, repair, shared_prefix(first, spec.carry_over, repair, spec.carry_over),
                 shared_prefix(first, spec.carry_over, first, CarryOver.ALL),
                 agent=agent_runner(spec.tiers, spec.backend))


def agent_runner(tiers: Sequence[Tier], backend: Backend = Backend.LOCAL) -> Attempt | None:
    """``harness.agent``'s attempt when ``tiers`` has an agent tier (mini-swe-agent checked before any work)."""
    agents = [t.name for t in tiers if t.kind is TierKind.AGENT]
    if not agents:
        return None
    if backend is Backend.RAY:
        raise AgentUnavailable(f"agent tiers ({', '.join(agents)}) run on this machine only: use --backend local")
    from harness.agent import MINI_VERSION, installed_version  # sets mini's switches before it is imported

    try:
        found = installed_version()
    except ImportError as exc:
        raise AgentUnavailable(f"agent tiers need mini-swe-agent: pip install 'loopctl[agent]' ({exc})") from None
    if found != MINI_VERSION:
        raise AgentUnavailable(f"agent tiers need mini-swe-agent {MINI_VERSION}, found {found}: "
                               "pip install 'loopctl[agent]'")
    from harness.agent.attempt import agent_attempt

    return agent_attempt


def run(spec: RunSpec, *, evaluate: Evaluate | None = None, providers: dict[str, Provider] | None = None,
        progress: Progress | None = None, check: bool = True) -> RunResult:
    """Run (or resume) the matrix and live ladders that the requested strategies need.

    ``progress`` (taskset.jobs.progress.Progress) hears of each task finished, labelled by how it went;
    one with a ``status(text)`` method also gets the attempts made and the dollars spent so far.
    """
    calls = Calls()
    plan = prepare(spec, providers, calls)
    if (spec.out / LOCK_FILE).exists():
        with exclusive(spec.out, doing="harness run"):  # busy? say so before asking any server
            pass
    if check:
        check_servers(spec.tiers, plan.providers)
    jobs = spec.jobs or 1
    if spec.backend is Backend.RAY:
        from taskset.jobs import raypool

        jobs = spec.jobs or raypool.cluster_cpus()  # connects (RAY_ADDRESS, else local) before the lock
    evaluate = evaluate or default_evaluate()
    with exclusive(spec.out, doing="harness run"):
        remove_stale_temporaries(spec.out)
        open_run_dir(spec, plan.tasks)
        log = RunLog(spec.out)
        prices = {t.name: t for t in spec.tiers}
        gate = Gate(spec.max_cost, prices, known_spend(log, prices))
        if spec.backend is Backend.RAY:
            from harness.loop import raycells

            remote, plan.cell = raycells.start(gate)  # the gate moves into an actor every cell asks
            gate = cast(Gate, remote)  # the same interface, answered by the actor
        result = RunResult(spec.out, tasks=len(plan.tasks), resumed_attempts=len(log.records))
        # on Ray each cell tells the gate about its attempts where they end; locally the log does
        counter = Counter(gate, progress or SILENT, counts_spend=not getattr(plan.cell, "counts_spend", False))
        counter.progress.phase(f"harness run: {len(plan.tasks)} tasks", total=len(plan.tasks))
        log.on_append = counter.attempt_done

        def stop() -> None:
            gate.stop.set()
            calls.cancel_all()
            counter.progress.note("stopping: no new attempt starts; evaluations in flight finish "
                                  "(press Ctrl-C again to quit at once)")

        with stop_on_signals(stop):
            run_threads(plan.tasks, lambda task: _one_task(plan, task, log, gate, evaluate, result, counter), jobs,
                  gate.stop)
        result.new_attempts = counter.attempts  # what the progress said, by construction
        _finish(result, log, gate, spec)
        return result


def _one_task(plan: _Plan, task: Task, log: RunLog, gate: Gate, evaluate: Evaluate, result: RunResult,
              counter: Counter) -> None:
    spec = plan.spec
    try:
        ctx = Context(task, read_sources(task), evaluate, log, Strategy.MATRIX, gate, agent=plan.agent)
        for tier in spec.tiers:  # each context setting retrieves once per task, before any attempt
            ctx.for_tier(tier)
    except TasksetError as exc:  # the task's repository or workspace failed: retried on the next run
        result.notes.append(f"{task.instance_id}: its files could not be read ({exc}); rerun to retry")
        return
    sources = ctx.sources
    # the score still counts the gold patch's files, as the heuristic was built on (docs/harness.md says so)
    feats = features(task, sources)
    append_line(spec.out / TASKS_FILE, json.dumps({"task": task.instance_id, "features": feats.to_dict(),
                                                    "classes": classes_of(task)}, sort_keys=True))
    tiers, wanted = spec.tiers, spec.wanted
    outcomes: list[bool | None] = []
    unfinished = False
    for seed in spec.seeds:
        solved: list[bool | None] = []
        for index, tier in enumerate(tiers):
            if gate.stopping:
                return
            if needed(spec, index, solved, feats):
                outcome = plan.cell(ctx, tier, seed, plan.providers[tier.name], carry_over=spec.carry_over)
                solved.append(outcome.resolved if outcome.resolved or outcome.complete else None)
            else:
                solved.append(False)
        outcomes.append(True if any(solved) else None if None in solved else False)
        if Strategy.LOCAL_REPAIR in wanted and not gate.stopping:
            repair = plan.cell(ctx, plan.repair, seed, plan.providers[tiers[0].name], carry_over=spec.carry_over,
                               alias=Alias(tiers[0], plan.repair_shared))
            unfinished = unfinished or not repair.complete
        if Strategy.CARRY in wanted and not gate.stopping:
            done = carry_ladder(Context(task, sources, evaluate, log, Strategy.CARRY, gate, retrieved=ctx.retrieved,
                                        agent=plan.agent), plan, seed)
            unfinished = unfinished or not done
    # the same test as the summary's: a strategy with a run left to finish leaves the task unfinished
    label = "unfinished" if unfinished or None in outcomes else "solved" if all(outcomes) else "unsolved"
    counter.task_done(label)


def needed(spec: RunSpec, index: int, solved: Sequence[bool | None], feats: Features) -> bool:
    """Whether a requested strategy needs tier ``index``'s cell, given what lower tiers did.

    Cells run lazily in ladder order: a task modeE solves at the bottom never pays for the top
    unless a strategy that starts there (always-frontier, the cascade, the heuristic) asks for
    it. A lower cell left unfinished (None) decides nothing: modeE waits for the next run.
    """
    wanted, tiers, last = spec.wanted, spec.tiers, len(spec.tiers) - 1
    if (index == 0 and wanted & {Strategy.ALWAYS_LOCAL, Strategy.CARRY}) or (
            index == last and Strategy.ALWAYS_FRONTIER in wanted):
        return True
    if Strategy.CASCADE in wanted and spec.cascade_thresholds:
        if (index == 0 and feats.score <= max(spec.cascade_thresholds)) or (
                index == last and feats.score > min(spec.cascade_thresholds)):
            return True
    used = sum(t.attempts for t in tiers[:index])
    if Strategy.MODE_E in wanted and all(s is False for s in solved[:index]) and used < spec.max_attempts:
        return True
    start = heuristic_start(feats.score, len(tiers))
    used = sum(t.attempts for t in tiers[start:index])
    return (Strategy.HEURISTIC in wanted and start <= index and all(s is False for s in solved[start:index])
            and used < spec.max_attempts)


def carry_ladder(ctx: Context, plan: _Plan, seed: int) -> bool:
    """modeE with every earlier failure carried up the ladder: later tiers' prompts differ, so it runs live.

    Its first tier sends the matrix's requests word for word, so those attempts are the matrix's.
    Returns False when a rung was left unfinished (a stop, an infrastructure failure).
    """
    spec = plan.spec
    left = spec.max_attempts
    earlier: list[Earlier] = []
    for index, tier in enumerate(spec.tiers):
        if left <= 0:
            return True
        alias = Alias(tier, plan.carry_shared) if index == 0 else None
        outcome = plan.cell(ctx, tier, seed, plan.providers[tier.name], max_attempts=left, earlier=earlier,
                            carry_over=CarryOver.ALL, alias=alias)
        if outcome.resolved or not outcome.complete:
            return outcome.complete
        left -= len(outcome.records)
        answers = ctx.log.answer_text if ctx.log is not None else (lambda key: "")
        earlier += [earlier_from(r, answers(r.key)) for r in outcome.records]
    return True


def _finish(result: RunResult, log: RunLog, gate: Gate, spec: RunSpec) -> None:
    result.spent, result.stopped_by_cost = gate.spent, gate.budget_reached
    result.interrupted = gate.stopping
    result.infra_failures = len(log.outstanding_infra())
    if gate.budget_reached:
        result.notes.append(f"--max-cost {spec.max_cost:g} reached: no further paid attempts were started")
    for tier, why in gate.suspended.items():
        result.notes.append(f"tier {tier!r} suspended for the rest of the run: {why}")
    if result.infra_failures:
        result.notes.append(f"{result.infra_failures} attempts failed for infrastructure reasons (not counted "
                            "against any model); rerun the same command to retry them")
    for tier in sorted(gate.unknown_spend):
        result.notes.append(f"tier {tier!r} has no price and reported no billed cost: its spend is unknown "
                            "to --max-cost")
    if log.skipped_lines:
        result.notes.append(f"{log.skipped_lines} unreadable lines in attempts.jsonl were ignored")


def _same_ladder(spec: RunSpec) -> dict:
    """An existing run directory's settings; RunDirError if it was started with another ladder."""
    if not (spec.out / RUN_FILE).exists():
        return {}
    old = read_settings(spec.out)
    before = [tier_from_dict(t).fingerprint() for t in old.get("tiers", [])]
    if before != [t.fingerprint() for t in spec.tiers]:
        raise RunDirError(str(spec.out), "was started with different tiers; use a new --out to compare")
    return old


def open_run_dir(spec: RunSpec, tasks: Sequence[Task]) -> dict:
    """Write run.json (first run) or update it (rerun); refuse a rerun with a different ladder."""
    path = spec.out / RUN_FILE
    settings: dict[str, Any] = {
        "taskset": str(Path(spec.taskset).resolve()),
        "tiers": [t.public() for t in spec.tiers],
        "strategies": [s.value for s in spec.strategies],
        "seeds": list(spec.seeds),
        "max_attempts": spec.max_attempts,
        "carry_over": spec.carry_over.value,
        "max_cost": spec.max_cost,
        "cascade_thresholds": list(spec.cascade_thresholds),
        "tasks": [t.instance_id for t in tasks],
    }
    if path.exists():
        old = _same_ladder(spec)
        settings["tasks"] = list(dict.fromkeys([*old.get("tasks", []), *settings["tasks"]]))
        settings = {**old, **settings, "tiers": old["tiers"], "started_at": old.get("started_at"),
                    "resumed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    else:
        settings["started_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_atomic(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return settings
