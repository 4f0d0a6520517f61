"""Calibration: rerun a task until it can be trusted as a gate, and record what the reruns showed.

A mined task is a claim: "these tests fail on the buggy code and pass with the fix". Calibration
checks the claim ``runs`` times in fresh workspaces (every ``evaluate`` call makes its own), and
varies what commonly hides flakiness: each FAIL_TO_PASS test also runs alone, and the whole set
runs in reversed order; and the gold run is repeated a second time in one workspace, which catches
tests that leave state behind (a file written into the tree). The rules, first match wins:

- the environment no longer builds                          -> ``env-failed``
- the test patch or gold patch no longer applies, or a test never passes with the gold patch
                                                             -> ``broken``
- a FAIL_TO_PASS test passes on the buggy code in every run  -> ``bad-test``
- a FAIL_TO_PASS test's outcome differs between runs of the same code (repeats, alone,
  reversed, again)                                           -> ``flaky`` (the reason names order
  dependence or left-behind state when the repeats agree and only the variation changed it)
- otherwise ``ok``; a PASS_TO_PASS test that flipped is removed from PASS_TO_PASS and listed in
  ``calibration.flaky_tests``: the task stays usable.

The judgement (:func:`judge`) is a pure function of the observations, so its rules are readable
in one place; :func:`observe` is the only part that runs tests.
"""

from __future__ import annotations

import functools
import multiprocessing
import statistics
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from typing import Callable, Iterable, Iterator

from taskset.errors import EnvironmentBuildError, PatchError, TestRunError, WorkspaceError
from taskset.junit import Outcome
from taskset.record import Calibration, CalibrationStatus, FailKind, Task
from taskset.store import TaskSet

BUGGY = "buggy"
GOLD = "gold"
REPEAT = "repeat"
ALONE = "alone"
REVERSED = "reversed"
AGAIN = "again"
_VARIANT_WORDS = {ALONE: "alone", REVERSED: "in reversed order"}
_ENV_FAILED = "env-failed"
_NO_PATCH = "patch-does-not-apply"


@dataclass(frozen=True)
class Observation:
    """One evaluate() call during calibration: which code, which variant, what each test did."""

    side: str
    """``buggy`` (no patch) or ``gold`` (the task's own patch)."""
    variant: str
    """``repeat`` (every test, recorded order), ``alone`` (one FAIL_TO_PASS test), ``reversed``, or
    ``again`` (the second run of every test in a workspace that already ran them once)."""
    passed: dict[str, bool]
    """Per requested test id: did it pass? Skipped, missing and errored tests did not."""
    durations: dict[str, float]
    seconds: float
    problem: str = ""
    """The verdict's problem value (``resolved``, ``tests-failed``, ``patch-does-not-apply``, ...)."""
    detail: str = ""


def plan(task: Task, runs: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """The (side, variant, tests) runs that calibrate ``task``: repeats first, then the variations."""
    everything = task.tests
    steps = [(side, REPEAT, everything) for _ in range(runs) for side in (BUGGY, GOLD)]
    if len(everything) > 1:
        # a test that failed at collection on the buggy code fails at import in any order: its
        # buggy-side alone run would teach nothing (PyJWT: most FAIL_TO_PASS tests are such)
        collection = {t for t, mode in task.meta.fail_modes.items() if mode.kind == FailKind.COLLECTION}
        steps += [
            (side, ALONE, (test,))
            for test in task.FAIL_TO_PASS
            for side in (BUGGY, GOLD)
            if side == GOLD or test not in collection
        ]
        steps += [(side, REVERSED, tuple(reversed(everything))) for side in (BUGGY, GOLD)]
    steps.append((GOLD, AGAIN, everything))
    return steps


def observe(task: Task, *, runs: int = 3, timeout: float | None = None, env=None) -> list[Observation]:
    """Run the calibration plan through ``taskset.evaluate``; each call gets a fresh workspace."""
    from taskset.evaluate import evaluate  # the evaluator is heavy; keep `import taskset` cheap

    observations = []
    for side, variant, tests in plan(task, runs):
        if variant == AGAIN:
            observations.append(_run_twice(task, tests, timeout, env))
            continue
        patch = task.patch if side == GOLD else ""
        verdict = evaluate(task, patch=patch, tests=list(tests), timeout=timeout, env=env)
        observations.append(_observation(side, variant, tests, verdict))
    return observations


def _run_twice(task: Task, tests: tuple[str, ...], timeout: float | None, env) -> Observation:
    """The gold patch's tests run twice in one workspace; the second run is the observation.

    evaluate() always starts from a fresh workspace, which is exactly what hides a test that
    leaves state behind, so this one check prepares its workspace the way evaluate() does.
    """
    from taskset.evaluate import DEFAULT_TIMEOUT, TIMEOUT_FACTOR
    from taskset.runner import run_tests
    from taskset.workspace import Workspace

    limit = timeout if timeout is not None else max(DEFAULT_TIMEOUT, TIMEOUT_FACTOR * task.calibration.gold_seconds)
    pythonpath = task.environment.pythonpath or (".",)
    with Workspace.for_task(task) as ws:
        try:
            ws.apply_patch(task.patch, what="patch")
            for _ in range(2):
                ws.restore_test_files()
                ws.clear_bytecode()
                second = run_tests(env, ws, list(tests), pythonpath=pythonpath, timeout=limit)
        except PatchError as exc:
            return _observed(GOLD, AGAIN, tests, {}, 0.0, _NO_PATCH, str(exc))
        except TestRunError as exc:  # as in evaluate(): an unusable report passes nothing
            return _observed(GOLD, AGAIN, tests, {}, 0.0, "tests-failed", str(exc))
    return _observed(GOLD, AGAIN, tests, second.results, second.duration, "tests-timeout" if second.timed_out else "")


def _observation(side: str, variant: str, tests: tuple[str, ...], verdict) -> Observation:
    return _observed(side, variant, tests, verdict.results, verdict.duration, verdict.problem.value, verdict.message)


def _observed(side, variant, tests, results, seconds: float, problem: str = "", detail: str = "") -> Observation:
    return Observation(
        side=side,
        variant=variant,
        passed={test: test in results and results[test].outcome == Outcome.PASSED for test in tests},
        durations={test: float(results[test].duration) for test in tests if test in results},
        seconds=float(seconds),
        problem=problem,
        detail=detail[:500],
    )


def judge(task: Task, observations: list[Observation], runs: int) -> Task:
    """Apply the calibration rules to the observations; returns the task with its new calibration."""
    status, reason = _status(task, observations)
    flaky_p2p = tuple(t for t in task.PASS_TO_PASS if _flipped(t, observations))
    kept = tuple(t for t in task.PASS_TO_PASS if t not in flaky_p2p)
    if status == CalibrationStatus.OK and flaky_p2p:
        reason = "removed flaky PASS_TO_PASS: " + "; ".join(_describe_flip(t, observations) for t in flaky_p2p)
    flaky_f2p = tuple(t for t in task.FAIL_TO_PASS if _flipped(t, observations))
    calibration = replace(
        _stamp(Calibration(status=status, reason=reason, runs=runs)),
        flaky_tests=flaky_f2p + flaky_p2p,
        flake_rates={test: _flake_rate(test, observations) for test in task.tests},
        durations=_test_durations(task, observations),
        buggy_seconds=_median(o.seconds for o in observations if o.side == BUGGY and o.variant == REPEAT),
        gold_seconds=_median(o.seconds for o in observations if o.side == GOLD and o.variant == REPEAT),
        # difficulty comes from the tiers, not from reruns: keep what an earlier labelling found
        difficulty=task.calibration.difficulty,
        tier_passes=task.calibration.tier_passes,
    )
    return replace(task, PASS_TO_PASS=kept, calibration=calibration)


def _status(task: Task, observations: list[Observation]) -> tuple[CalibrationStatus, str]:
    env_failed = [o for o in observations if o.problem == _ENV_FAILED]
    if env_failed:
        return CalibrationStatus.ENV_FAILED, f"environment failed during a run: {env_failed[0].detail}".strip()
    unapplied = [o for o in observations if o.side == GOLD and o.problem == _NO_PATCH]
    if unapplied:
        return CalibrationStatus.BROKEN, f"the gold patch does not apply: {unapplied[0].detail}".strip()
    for test in task.tests:
        gold = _outcomes(test, observations, GOLD)
        if gold and not any(gold):
            return CalibrationStatus.BROKEN, f"{test} fails with the gold patch in all {len(gold)} runs"
    for test in task.FAIL_TO_PASS:
        buggy = _outcomes(test, observations, BUGGY)
        if buggy and all(buggy):
            return CalibrationStatus.BAD_TEST, f"FAIL_TO_PASS {test} passes on the buggy code in all {len(buggy)} runs"
    flaky = [test for test in task.FAIL_TO_PASS if _flipped(test, observations)]
    if flaky:
        return CalibrationStatus.FLAKY, "; ".join(_describe_flip(test, observations) for test in flaky)
    return CalibrationStatus.OK, ""


def _outcomes(test: str, observations: list[Observation], side: str, variant: str | None = None) -> list[bool]:
    return [
        o.passed[test]
        for o in observations
        if o.side == side and test in o.passed and (variant is None or o.variant == variant)
    ]


def _flipped(test: str, observations: list[Observation]) -> bool:
    """A test flipped when the same code (buggy, or gold) gave it both outcomes."""
    for side in (BUGGY, GOLD):
        seen = set(_outcomes(test, observations, side))
        if len(seen) > 1:
            return True
    return False


def _describe_flip(test: str, observations: list[Observation]) -> str:
    """How a test flipped: between identical repeats, or only when alone, reversed or rerun in place."""
    for side in (BUGGY, GOLD):
        repeats = _outcomes(test, observations, side, REPEAT)
        if len(set(repeats)) > 1:
            return f"{test} is flaky: on the {side} code it passed {sum(repeats)} of {len(repeats)} identical runs"
        if not repeats:
            continue
        usual = "passes" if repeats[0] else "fails"
        other = "fails" if repeats[0] else "passes"
        for variant, words in _VARIANT_WORDS.items():
            varied = _outcomes(test, observations, side, variant)
            if varied and set(varied) != set(repeats):
                return f"{test} is order-dependent: on the {side} code it {usual} in the recorded order but {other} {words}"
        if set(_outcomes(test, observations, side, AGAIN)) - set(repeats):
            return (f"{test} leaves state behind: on the {side} code it {usual} in a fresh workspace "
                    f"but {other} when run again in the same one")
    return f"{test} is flaky"


def _flake_rate(test: str, observations: list[Observation]) -> float:
    """The share of a test's runs that disagreed with that test's usual outcome on the same code."""
    minority = total = 0
    for side in (BUGGY, GOLD):
        outcomes = _outcomes(test, observations, side)
        minority += min(sum(outcomes), len(outcomes) - sum(outcomes))
        total += len(outcomes)
    return round(minority / total, 4) if total else 0.0


def _test_durations(task: Task, observations: list[Observation]) -> dict[str, float]:
    gold = [o for o in observations if o.side == GOLD and o.variant == REPEAT]
    return {
        test: _median(o.durations[test] for o in gold if test in o.durations)
        for test in task.tests
        if any(test in o.durations for o in gold)
    }


def _median(values: Iterable[float]) -> float:
    values = list(values)
    return round(statistics.median(values), 4) if values else 0.0


def _stamp(calibration: Calibration) -> Calibration:
    """Date and loopctl version, so a reader knows which calibration produced the block."""
    try:
        version = metadata.version("loopctl")
    except metadata.PackageNotFoundError:
        version = "unknown"
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return replace(calibration, calibrated_at=now, loopctl_version=version)


def calibrate_task(task: Task, *, runs: int = 3, timeout: float | None = None) -> Task:
    """Calibrate one task: build (or reuse) its environment, run the plan, judge. Writes nothing."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    try:
        env = _environment(task)
        observations = observe(task, runs=runs, timeout=timeout, env=env)
    except EnvironmentBuildError as exc:
        return _failed(task, CalibrationStatus.ENV_FAILED, f"environment does not build: {exc}")
    except WorkspaceError as exc:
        # the task's own test patch no longer applies to its base: no candidate could ever pass
        return _failed(task, CalibrationStatus.BROKEN, f"the task cannot be materialised: {exc}")
    return replace(judge(task, observations, runs), environment=env.spec)


def _failed(task: Task, status: CalibrationStatus, reason: str) -> Task:
    """A task calibration could not run at all: the status and reason, nothing measured."""
    return replace(task, calibration=_stamp(replace(task.calibration, status=status, reason=reason[:2000], runs=0)))


def _environment(task: Task):
    """The task's environment, rebuilt from its recorded spec (or reused from the cache)."""
    from taskset.environment import environment_for
    from taskset.workspace import Workspace

    # the environment installs the project from its source at base_commit
    with Workspace.for_task(task) as workspace:
        return environment_for(task, workspace.path)


def pending(tasks: TaskSet, *, ids: Iterable[str] | None = None, force: bool = False) -> list[Task]:
    """The tasks a run should calibrate: not yet calibrated ones, or every selected one with ``force``."""
    selected = tasks.filter(ids=ids) if ids is not None else tasks
    return [t for t in selected if force or t.calibration.status == CalibrationStatus.UNCALIBRATED]


def calibrate_tasks(
    tasks: TaskSet,
    todo: Iterable[Task],
    *,
    runs: int = 3,
    jobs: int = 1,
    timeout: float | None = None,
) -> Iterator[Task]:
    """Calibrate ``todo``, writing each task into ``tasks`` atomically the moment it is judged.

    Yields each written task (for a progress bar).
    """
    return process_each(tasks, todo, functools.partial(calibrate_task, runs=runs, timeout=timeout), jobs=jobs)


def process_each(tasks: TaskSet, todo: Iterable[Task], work: Callable[[Task], Task], *, jobs: int = 1) -> Iterator[Task]:
    """Apply ``work`` to each task (``jobs`` at a time, in worker processes) and save each result at once.

    ``work`` must be picklable (a module-level function or a partial of one). Only this process
    writes, so parallel jobs never race on a task file or the index; an interrupt leaves every
    finished task saved and every other task file as it was.
    """
    todo = list(todo)
    if jobs <= 1:
        for task in todo:
            done = work(task)
            tasks.add(done)
            yield done
        return
    # spawn, not fork: the caller may run threads (a progress bar) that fork would copy mid-lock
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        running = {pool.submit(work, task) for task in todo}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                done = future.result()
                tasks.add(done)
                yield done
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
