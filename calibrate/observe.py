"""The part of calibration that runs tests: the plan's runs through the evaluator, then the rules.

Every run but one is a plain ``taskset.evaluate`` call (a fresh workspace each). The exception is
the same-workspace rerun, which ``evaluate`` cannot do by design; it prepares and runs its tests
with the evaluator's own helper (``taskset.evaluation.verdict.run_task_tests``), so the two never drift.
"""

from __future__ import annotations

from dataclasses import replace

from calibrate.errors import InvalidSetting
from calibrate.rules import Observation, Side, Variant, judge, plan, stamp
from taskset.errors import EnvironmentBuildError, PatchError, TestRunError, WorkspaceError
from taskset.evaluation.junit import Outcome, TestResult
from taskset.evaluation.verdict import Verdict, VerdictProblem
from taskset.record import CalibrationStatus, Task


def calibrate_task(task: Task, *, runs: int = 3, timeout: float | None = None) -> Task:
    """Calibrate one task: build (or reuse) its environment, run the plan, judge. Writes nothing.

    Raises InfrastructureError (from the evaluator) when the machine, not the task, failed: such
    a failure is never recorded as the task's status.
    """
    if runs < 1:
        raise InvalidSetting("runs", runs, "must be at least 1")
    try:
        env = _environment(task)
        observations = observe(task, runs=runs, timeout=timeout, env=env)
    except EnvironmentBuildError as exc:
        return _failed(task, CalibrationStatus.ENV_FAILED, f"environment does not build: {exc}")
    except WorkspaceError as exc:
        # the task's own test patch no longer applies to its base: no candidate could ever pass
        return _failed(task, CalibrationStatus.BROKEN, f"the task cannot be materialised: {exc}")
    return replace(judge(task, observations, runs), environment=env.spec)


def observe(task: Task, *, runs: int = 3, timeout: float | None = None, env=None) -> list[Observation]:
    """Run the calibration plan through ``taskset.evaluate``; each call gets a fresh workspace."""
    from taskset.evaluation.verdict import evaluate

    observations = []
    for side, variant, tests in plan(task, runs):
        if variant == Variant.AGAIN:
            observations.append(_run_twice(task, tests, timeout, env))
            continue
        patch = task.patch if side == Side.GOLD else ""
        verdict = evaluate(task, patch=patch, tests=list(tests), timeout=timeout, env=env)
        observations.append(_from_verdict(side, variant, tests, verdict))
    return observations


def _run_twice(task: Task, tests: tuple[str, ...], timeout: float | None, env) -> Observation:
    """The gold patch's tests run twice in one workspace; the second run is the observation.

    evaluate() always starts from a fresh workspace, which is exactly what hides a test that
    leaves state behind.
    """
    from taskset.evaluation.verdict import run_task_tests
    from taskset.workspace.workspace import Workspace

    gold, again = Side.GOLD, Variant.AGAIN
    with Workspace.for_task(task) as ws:
        try:
            ws.apply_patch(task.patch, what="patch")
            for _ in range(2):
                second = run_task_tests(task, env, ws, tests, timeout=timeout)
        except PatchError as exc:
            return _observed(gold, again, tests, {}, 0.0, VerdictProblem.PATCH_DOES_NOT_APPLY, str(exc))
        except TestRunError as exc:  # as in evaluate(): an unusable report passes nothing
            return _observed(gold, again, tests, {}, 0.0, VerdictProblem.TESTS_FAILED, str(exc))
    problem = VerdictProblem.TESTS_TIMEOUT if second.timed_out else None
    return _observed(gold, again, tests, second.results, second.duration, problem)


def _from_verdict(side: Side, variant: Variant, tests: tuple[str, ...], verdict: Verdict) -> Observation:
    return _observed(side, variant, tests, verdict.results, verdict.duration, verdict.problem, verdict.message)


def _observed(
    side: Side,
    variant: Variant,
    tests: tuple[str, ...],
    results: dict[str, TestResult],
    seconds: float,
    problem: VerdictProblem | None = None,
    detail: str = "",
) -> Observation:
    return Observation(
        side=side,
        variant=variant,
        passed={test: test in results and results[test].outcome == Outcome.PASSED for test in tests},
        durations={test: float(results[test].duration) for test in tests if test in results},
        seconds=float(seconds),
        problem=problem,
        detail=detail[:500],
    )


def _failed(task: Task, status: CalibrationStatus, reason: str) -> Task:
    """A task calibration could not run at all: the status and reason, nothing measured."""
    return replace(task, calibration=stamp(replace(task.calibration, status=status, reason=reason[:2000], runs=0)))


def _environment(task: Task):
    """The task's environment, rebuilt from its recorded spec (or reused from the cache)."""
    from taskset.env.environment import environment_for
    from taskset.workspace.workspace import Workspace

    # the environment installs the project from its source at base_commit
    with Workspace.for_task(task) as workspace:
        return environment_for(task, workspace.path)
