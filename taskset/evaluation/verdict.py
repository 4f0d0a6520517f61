"""The evaluator: the sole authority on whether a candidate resolves a task.

    workspace at base_commit + test patch  (no history past it)
      -> the task's own environment
      -> candidate patch, then candidate edits   (unsafe or test-touching changes are refused)
      -> test files restored to the fix commit's version
      -> bytecode cleared
      -> FAIL_TO_PASS + PASS_TO_PASS run by taskset.evaluation.runner
      -> Verdict: resolved only when every one of them passed

A candidate's own failure (refused edit, patch that does not apply, failing or hanging tests,
witnesses that disagree -- ``tampered``) is a Verdict, never an exception. A broken task (its
repository or test patch cannot be materialised) raises, because no candidate is to blame; so
does a failure of the machine (``InfrastructureError``: a damaged environment, a full disk, a
sandbox that cannot start where one is required), which is reported and retried, never judged.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from taskset.env import check as envcheck
from taskset.env import probe as envprobe
from taskset.errors import EditRefused, EnvironmentBuildError, InfraCause, InfrastructureError, PatchError, TestRunError
from taskset.evaluation import sandbox
from taskset.evaluation.feedback import feedback_for
from taskset.evaluation.junit import Outcome, TestResult, result_for, trim
from taskset.evaluation.runner import TestRun, run_tests
from taskset.evaluation.safeio import read_bounded
from taskset.evaluation.screen import screen
from taskset.workspace.workspace import Workspace

_log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
"""Seconds a test run may take when neither the caller nor the task's calibration says otherwise."""

TIMEOUT_FACTOR = 5.0
"""A calibrated task gets this many times its gold run's duration (never less than the default)."""

RESERVED_MODULES = frozenset({"pytest", "_pytest", "py", "pluggy", "loopctl_pytest_plugin", "loopctl_boot",
                              "sitecustomize", "usercustomize", "conftest"})
"""Top-level names a candidate may never create: how pytest starts, and our own plugin."""


class VerdictProblem(str, enum.Enum):
    """Why a candidate is (or is not) accepted; ``resolved`` is the only success."""

    RESOLVED = "resolved"
    UNSAFE_EDIT = "unsafe-edit"
    EDITS_TOUCH_TESTS = "edits-touch-tests"
    PATCH_DOES_NOT_APPLY = "patch-does-not-apply"
    TESTS_FAILED = "tests-failed"
    TESTS_TIMEOUT = "tests-timeout"
    ENV_FAILED = "env-failed"
    TAMPERED = "tampered"
    """The run's evidence disagrees with itself (report vs. live channel vs. exit code, test files
    changed during the run, canaries wrong): the candidate interfered with how it is judged."""


@dataclass(frozen=True)
class Verdict:
    """The evaluator's judgement of one candidate on one task."""

    instance_id: str
    resolved: bool
    problem: VerdictProblem
    results: dict[str, TestResult] = field(default_factory=dict)
    """Each of the task's requested tests, by node id (``missing`` if it never ran); never more, however
    many tests the run named."""
    fail_to_pass: dict[str, Outcome] = field(default_factory=dict)
    """The outcome of each FAIL_TO_PASS test that was part of the run."""
    pass_to_pass: dict[str, Outcome] = field(default_factory=dict)
    """The outcome of each PASS_TO_PASS test that was part of the run."""
    duration: float = 0.0
    """Seconds for the whole evaluation (workspace, environment, tests)."""
    message: str = ""
    """The refusal, patch, test-run or environment error text; empty when the tests decided."""
    feedback: str = ""
    """A compact account of what went wrong, fit to hand a model for a retry (empty if resolved)."""
    sandbox: str = ""
    """How the tests were confined: ``bwrap``, ``unshare`` or ``none`` ("" when no test ran)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as their values)."""
        return {
            "instance_id": self.instance_id,
            "resolved": self.resolved,
            "problem": self.problem.value,
            "fail_to_pass": {k: v.value for k, v in self.fail_to_pass.items()},
            "pass_to_pass": {k: v.value for k, v in self.pass_to_pass.items()},
            "results": {k: _result_dict(r) for k, r in self.results.items()},
            "duration": round(self.duration, 3),
            "message": self.message,
            "feedback": self.feedback,
            "sandbox": self.sandbox,
        }


SCREEN_CAP = 8 * 1024 * 1024
"""Bytes of one candidate file the static screen reads (head and tail beyond that)."""


def evaluate(
    task,
    *,
    edits: Mapping[str, str | bytes | None] | None = None,
    patch: str | None = None,
    tests: Sequence[str] | None = None,
    timeout: float | None = None,
    env=None,
) -> Verdict:
    """Judge a candidate (a diff and/or whole-file edits) against ``task``'s tests.

    ``tests`` replaces FAIL_TO_PASS + PASS_TO_PASS (calibration reruns subsets and orders);
    then ``resolved`` means every requested test passed. ``env`` skips the environment lookup.
    A run that did not resolve is checked for a damaged environment (``taskset.env.check.recheck``):
    then the environment is rebuilt and the candidate judged once more from a fresh workspace.
    Raises WorkspaceError/RepositoryError only when the task itself cannot be materialised, and
    InfrastructureError when the machine fails (never a verdict: retry later), including an
    environment damaged again after its rebuild, or a damaged one the caller passed as ``env``.
    """
    started = time.monotonic()
    sandbox.selected()  # a required sandbox that cannot start refuses before any work
    candidate = _Candidate(edits, patch, tests, timeout)
    try:
        return _evaluate(task, candidate, env, started)
    except _Damaged as first:
        if env is not None:
            raise InfrastructureError(f"the environment {first.venv} is damaged ({first.problem}); rebuild it",
                                      cause=InfraCause.CACHE, output=first.output) from None
        _log.warning("environment %s was damaged under a run (%s): rebuilding it and judging again",
                     first.venv, first.problem)
    try:
        return _evaluate(task, candidate, None, started)
    except _Damaged as again:
        raise InfrastructureError(f"the environment {again.venv} is damaged again after a rebuild ({again.problem})",
                                  cause=InfraCause.CACHE, output=again.output) from None


@dataclass(frozen=True)
class _Candidate:
    edits: Mapping[str, str | bytes | None] | None
    patch: str | None
    tests: Sequence[str] | None
    timeout: float | None


class _Damaged(Exception):
    """A run failed in an environment that is no longer the one built: the machine's fault."""

    def __init__(self, venv: Path, problem: str, output: str):
        super().__init__(problem)
        self.venv, self.problem, self.output = venv, problem, output


def _evaluate(task, candidate: _Candidate, env, started: float) -> Verdict:
    edits, patch, tests = candidate.edits, candidate.patch, candidate.tests
    wanted = list(tests) if tests is not None else list(task.FAIL_TO_PASS) + list(task.PASS_TO_PASS)
    with Workspace.for_task(task) as ws:
        roots = _import_roots(task, ws.path)
        try:
            if env is None:
                env = _environment(task, ws)
            else:  # the caller's environment (calibration's): this workspace still needs its build products
                env.prepare(ws.path)
        except EnvironmentBuildError as exc:
            return _refusal(task, VerdictProblem.ENV_FAILED, _build_error_text(exc), started)
        facts = envprobe.probe(env.python)
        ws.guard_imports(roots, facts.stdlib | facts.top_level | RESERVED_MODULES)
        try:
            touched = ws.apply_patch(patch, what="patch") if patch else []
            touched += ws.apply_edits(dict(edits)) if edits else []
            # the build placed before the patch compiled the sources it may have changed
            env.drop_stale(ws.path, touched)
        except EditRefused as exc:
            return _refusal(task, VerdictProblem(exc.kind), str(exc), started)
        except PatchError as exc:
            return _refusal(task, VerdictProblem.PATCH_DOES_NOT_APPLY, str(exc), started)
        except (ValueError, UnicodeError, RuntimeError, RecursionError, OSError) as exc:
            # a candidate shaped so that no check above foresaw it: still a verdict, never a crash
            return _refusal(task, VerdictProblem.UNSAFE_EDIT, f"the candidate could not be applied: {exc}", started)
        # only what the candidate wrote: files a build left in the tree are not its words
        hits = [hit for hit in screen(ws.diff(exclude_tests=True), lambda rel: _text(ws.path / rel))
                if hit.path in touched] if touched else []
        if hits:
            return _refusal(task, VerdictProblem.TAMPERED, "the candidate reaches into the test machinery: "
                            + "; ".join(str(hit) for hit in hits[:5]), started)
        run = _run(env, ws, wanted, task, candidate.timeout, touched)
    verdict = _judge(task, wanted, run, time.monotonic() - started)
    if not verdict.resolved:
        # Is it the environment's failure? Checked afresh: a module deleted under a run, an
        # interpreter gone. Never the candidate's verdict then (docs/evaluator.md).
        # A run that left no usable report may have lost its interpreter or pytest: ask them too.
        problem = envcheck.recheck(Path(env.python).parent.parent, deep=isinstance(run, TestRunError))
        if problem:
            raise _Damaged(Path(env.python).parent.parent, problem, verdict.message)
    return verdict


def _import_roots(task, tree: Path) -> tuple[str, ...]:
    """Where the project under test is imported from: the tree's own layout (``src/`` or flat),
    then any root the task recorded. Environments never hold the project, so a task without a
    recorded layout (an imported SWE-bench row) must still find its ``src/`` in the workspace."""
    from taskset.env import layout  # reading packaging files pulls in the toml and packaging libraries

    return tuple(dict.fromkeys(layout.pythonpath(Path(tree)) + tuple(task.environment.pythonpath or ())))


def _text(path: Path) -> str:
    """A candidate's file as text for the screen ("" when it is not a regular file we can read)."""
    try:
        data = read_bounded(path, SCREEN_CAP)
    except TestRunError:  # a link or a FIFO: not a file of code, nothing to screen
        return ""
    return data.decode("utf-8", errors="replace") if data is not None else ""


def _environment(task, ws: Workspace):
    from taskset.env.environment import environment_for  # building envs pulls in uv and filelock

    return environment_for(task, ws.path)


def _run(
    env, ws: Workspace, wanted: list[str], task, timeout: float | None, touched: list[str]
) -> TestRun | TestRunError:
    try:
        return run_task_tests(task, env, ws, wanted, timeout=timeout, suspects=touched)
    except TestRunError as exc:
        return exc


def run_task_tests(task, env, ws: Workspace, tests: Sequence[str], *, timeout: float | None = None,
                   suspects: Sequence[str] = ()) -> TestRun:
    """Run ``tests`` in a prepared workspace exactly as the evaluator does before a verdict.

    Test files restored to the fix's version, bytecode cleared, the task's source roots first on
    the path, :func:`time_limit`. Calibration's same-workspace rerun uses it too, so the two never
    drift apart. ``suspects`` are the paths a candidate wrote (code from them may not reshape
    pytest's reporting). Raises TestRunError when the run leaves no usable report.
    """
    # Refusals already stop test edits; restoring is the second lock on the same door.
    ws.restore_test_files()
    ws.clear_bytecode()
    return run_tests(env, ws, list(tests), pythonpath=_import_roots(task, ws.path), timeout=time_limit(task, timeout),
                     suspects=suspects)


def time_limit(task, timeout: float | None = None) -> float:
    """Seconds a test run of ``task`` may take: ``timeout`` if given, else scaled from calibration."""
    if timeout is not None:
        return timeout
    return max(DEFAULT_TIMEOUT, TIMEOUT_FACTOR * task.calibration.gold_seconds)


def _judge(task, wanted: list[str], run: TestRun | TestRunError, duration: float) -> Verdict:
    """Every requested test must have passed; anything else (skipped, missing, error) is not a pass."""
    message = ""
    if isinstance(run, TestRunError):
        message = f"{run}\n{trim(run.output, 2000)}".strip()
        results = {t: TestResult(t, Outcome.ERROR, message=trim(run.output, 1000)) for t in wanted}
        timed_out = False
    else:
        results, timed_out = run.results, run.timed_out
    tampered = () if isinstance(run, TestRunError) else run.tampered
    outcome = {t: result_for(t, results).outcome for t in wanted}
    # No tests is never a resolution: "nothing failed" is not evidence of a fix.
    resolved = bool(wanted) and not timed_out and not tampered and all(o is Outcome.PASSED for o in outcome.values())
    if not wanted:
        message = "the task names no tests to run"
    if tampered:
        problem = VerdictProblem.TAMPERED
        message = "the run's evidence disagrees with itself: " + "; ".join(tampered)
    elif resolved:
        problem = VerdictProblem.RESOLVED
    elif timed_out:
        problem = VerdictProblem.TESTS_TIMEOUT
        message = "the test run exceeded its timeout and was killed"
    else:
        problem = VerdictProblem.TESTS_FAILED
    verdict = Verdict(
        instance_id=task.instance_id,
        resolved=resolved,
        problem=problem,
        results={t: result_for(t, results) for t in wanted},  # the task's ids only, whatever the run named
        fail_to_pass={t: outcome[t] for t in task.FAIL_TO_PASS if t in outcome},
        pass_to_pass={t: outcome[t] for t in task.PASS_TO_PASS if t in outcome},
        duration=duration,
        message=message,
        sandbox="" if isinstance(run, TestRunError) else run.sandbox,
    )
    output = "" if isinstance(run, TestRunError) else run.output
    return _with_feedback(verdict, wanted, output)


def _refusal(task, problem: VerdictProblem, message: str, started: float) -> Verdict:
    verdict = Verdict(task.instance_id, False, problem, duration=time.monotonic() - started, message=message)
    return _with_feedback(verdict, [], "")


def _with_feedback(verdict: Verdict, wanted: list[str], output: str) -> Verdict:
    if verdict.resolved:
        return verdict
    text = feedback_for(verdict.problem.value, verdict.message, wanted, verdict.results, output)
    return replace(verdict, feedback=text)


def _build_error_text(exc: EnvironmentBuildError) -> str:
    step = f" (step: {exc.step})" if exc.step else ""
    return f"{exc}{step}\n{trim(exc.output, 3000)}".strip()


def _result_dict(result: TestResult) -> dict[str, Any]:
    return {
        "outcome": result.outcome.value,
        "duration": round(result.duration, 3),
        "exception": result.exception,
        "collection_error": result.collection_error,
        "message": result.message,
    }
