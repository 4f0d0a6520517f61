"""Validation: one candidate -> a Task proven by its own tests, or a Rejection saying why not.

In a workspace at the parent commit with the whole test side of the fix applied, the touched
test modules run on the buggy code; then the gold patch is applied and they run again. Tests
that fail with the fix are rerun alone (order dependence); a proven verdict is then re-checked in
the evaluator's own shape -- only FAIL_TO_PASS + PASS_TO_PASS selected -- with the fix
(``reruns - 1`` times, at least once) and on the buggy code. Third-party modules missing on both
sides (``miner.remedy``) are looked up and installed, each in turn, before the verdict stands.
With ``python="auto"`` each candidate gets the installed interpreter that fits its commit.

The machine's own failures (``InfrastructureError``) are never turned into rejections: they
propagate, so the candidate is retried on the next run.
"""

from __future__ import annotations

import errno
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from miner import remedy, statement
from miner.candidates import Candidate, Detail
from miner.interpreters import NoInterpreter, environment_on, interpreters
from miner.judge import FAILING, Judgement, confirm, judge, suspects
from miner.rejections import Reason, Rejection, classify_failure, trim
from miner.split import diff
from taskset.env import layout, pythons
from taskset.errors import (
    EditRefused,
    EnvironmentBuildError,
    InfraCause,
    InfrastructureError,
    PatchError,
    TestRunError,
    WorkspaceError,
)
from taskset.evaluation.junit import Outcome
from taskset.record import EnvironmentSpec, Task, TaskMeta
from taskset.workspace.provenance import public_url, release_version, tag_version
from taskset.workspace.testfiles import DEFAULT, TestFileConventions
from taskset.workspace.testfiles import is_test_module as _is_test_module
from taskset.workspace.workspace import Workspace

ALONE_LIMIT = 6
"""Tests rerun one by one per candidate when they fail with the fix (beyond it, the module run stands)."""
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
_NO_SPACE = re.compile(r"No space left on device|Disk quota exceeded|Read-only file system")


@dataclass(frozen=True)
class ValidateConfig:
    """How candidates are validated."""

    python: str = field(default_factory=lambda: sys.executable)
    """The interpreter the environments are built on (``--python``); ``"auto"`` picks one per commit."""
    reruns: int = 2
    """Gold runs: the module run, then ``reruns - 1`` (at least one) runs of the task's own selection."""
    timeout: float = 300.0
    """Seconds per test run before its process group is killed."""
    conventions: TestFileConventions = DEFAULT
    """Which paths are tests (each candidate carries its commit's own, extended from these)."""


@dataclass(frozen=True)
class Repo:
    """What validation needs to know about the repository (picklable, for the process pool)."""

    git_dir: Path
    name: str
    url: str


@dataclass(frozen=True)
class Timing:
    """Where one validation's wall time went (for the benchmark's overhead ratio)."""

    wall: float = 0.0
    pytest: float = 0.0


def validate(repo: Repo, candidate: Candidate, info: Detail, config: ValidateConfig) -> tuple[Task | Rejection, Timing]:
    """Validate one candidate (``info`` from ``candidates.details``).

    Its own problems are rejections, never raised; the machine's (``InfrastructureError``) are raised.
    """
    started = time.monotonic()
    runs: list = []
    try:
        outcome = _validate(repo, candidate, info, config, runs)
    except (PatchError, EditRefused) as exc:
        outcome = _reject(candidate, Reason.PATCH_DOES_NOT_APPLY, str(exc))
    except EnvironmentBuildError as exc:
        step = f"[{exc.step}] " if exc.step else ""
        reason = classify_failure(exc.output, Reason.INSTALL_FAILED)
        outcome = _reject(candidate, reason, f"{step}{exc}\n{_tail(exc.output)}")
    except TestRunError as exc:
        if _NO_SPACE.search(exc.output):
            raise InfrastructureError(f"test run failed for lack of disk: {exc}", InfraCause.DISK, exc.output) from None
        reason = classify_failure(exc.output, Reason.TEST_RUN_FAILED)
        outcome = _reject(candidate, reason, f"{exc}\n{_tail(exc.output)}")
    except WorkspaceError as exc:
        outcome = _reject(candidate, Reason.PATCH_DOES_NOT_APPLY, str(exc))
    except NoInterpreter as exc:
        outcome = _reject(candidate, Reason.NO_INTERPRETER, str(exc))
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            raise InfrastructureError(f"disk: {exc}", InfraCause.DISK) from None
        raise
    timing = Timing(time.monotonic() - started, sum(run.duration for run in runs))
    return outcome, timing


@dataclass
class _Proof:
    """What one environment showed: the verdict, and the module runs it came from."""

    verdict: Judgement
    buggy: dict = field(default_factory=dict)
    gold: dict = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)


def _validate(repo: Repo, candidate: Candidate, info: Detail, config: ValidateConfig, runs: list) -> Task | Rejection:
    sides = candidate.sides
    patch = diff(repo.git_dir, candidate.parent, candidate.sha, sides.source)
    test_patch = diff(repo.git_dir, candidate.parent, candidate.sha, sides.tests)
    # The fix's own tree decides the environment and the interpreter: a fix may need a new
    # dependency (and one that cannot be installed makes the candidate unprovable).
    with Workspace.create(repo.git_dir, candidate.sha) as fixed_tree:
        version = tag_version(repo.git_dir, candidate.parent)
        python, env, passed_over = environment_on(interpreters(config.python, fixed_tree.path, info.created_at),
                                                   fixed_tree.path, info.created_at, version)
        proof = _attempt(repo, candidate, patch, test_patch, env, config, runs)
        extra: tuple[str, ...] = ()
        tried: set[str] = set()
        # each missing module installed in turn: a conftest's import may hide a test module's
        while len(tried) < remedy.LIMIT:
            module = _missing(proof, patch, fixed_tree.path)
            if not module or module in tried:
                break
            tried.add(module)
            found = _with_module(repo, candidate, patch, test_patch, config, runs, fixed_tree.path, python,
                                 info.created_at, version, extra, module, proof)
            if found is None:
                break  # not installable, or worse than before: the last verdict stands
            extra, env, proof = found
    if isinstance(proof, TestRunError):
        raise proof
    verdict = proof.verdict
    if verdict.reason is not None:
        detail = verdict.detail
        if verdict.reason is Reason.ENV_INCOMPATIBLE and config.python != pythons.AUTO:
            detail += f" (validated on Python {env.spec.python}; --python auto picks one of the commit's era)"
        return _reject(candidate, verdict.reason, detail)
    output = statement.failure_output(verdict.messages)
    url = public_url(repo.url)
    return Task(
        instance_id=instance_id(repo.name, candidate.sha),
        repo=repo.name,
        repo_url=url,
        repo_source=repo.url if repo.url != url else "",
        version=release_version(repo.git_dir, candidate.parent),
        base_commit=candidate.parent,
        fix_commit=candidate.sha,
        created_at=info.created_at,
        patch=patch,
        test_patch=test_patch,
        problem_statement=statement.render(candidate.subject, verdict.fail_to_pass, output, patch),
        FAIL_TO_PASS=verdict.fail_to_pass,
        PASS_TO_PASS=verdict.pass_to_pass,
        environment=env.spec,
        failure_output=statement.scrub(output, patch) if output else "",
        meta=TaskMeta(
            subject=candidate.subject,
            files_changed=info.files_changed,
            lines_added=info.lines_added,
            lines_removed=info.lines_removed,
            score=candidate.score,
            source_files=sides.source,
            test_files=sides.tests,
            fail_modes=verdict.fail_modes,
            remedies=remedies(env.spec) + passed_over + tuple(f"missing-dependency:{req}" for req in extra),
            order_dependent=verdict.order_dependent,
            failing_both=verdict.failing_both,
            programs=tuple(sorted({name for run in runs for name in run.programs})),
        ),
    )


def _attempt(repo: Repo, candidate: Candidate, patch: str, test_patch: str, env, config: ValidateConfig,
             runs: list) -> _Proof | TestRunError:
    """``_prove``, with a pytest that could not run at all returned (its output may name a missing module)."""
    try:
        return _prove(repo, candidate, patch, test_patch, env, config, runs)
    except TestRunError as exc:
        return exc


def _prove(repo: Repo, candidate: Candidate, patch: str, test_patch: str, env, config: ValidateConfig,
           runs: list) -> _Proof:
    """Buggy and gold module runs, alone reruns, the verdict, and its check in the evaluator's shape."""
    from taskset.evaluation.runner import run_tests

    def run(ws: Workspace, tests: Sequence[str], written: Sequence[str] = ()):
        # written: the gold patch's paths on the fixed side: suspects, as when the evaluator judges it.
        # As the evaluator does, the build is of the unpatched tree (never of a patched one)
        if not written:
            env.prepare(ws.path)
        ws.clear_bytecode()
        result = run_tests(env, ws.path, list(tests), pythonpath=layout.pythonpath(ws.path), timeout=config.timeout,
                           suspects=written)
        runs.append(result)
        if result.timed_out:
            raise _TimedOut()
        if result.tampered:
            # the evaluator would judge every later run of this task the same way: never resolved
            raise _Untrusted("; ".join(result.tampered))
        return result.results

    conventions = candidate.conventions or config.conventions
    with Workspace.create(repo.git_dir, candidate.parent, test_patch) as ws:
        modules = [p for p in candidate.sides.tests if _runnable(ws.path, p, conventions)]
        if not modules:
            # only shared test code changed (a base class in tests/__init__.py, conftest.py, a helper):
            # the tests exercising it live in the modules beside it
            modules = _modules_beside(ws.path, candidate.sides.test_py, conventions)
        if not modules:
            tests = ", ".join(candidate.sides.tests[:10])
            return _Proof(Judgement(reason=Reason.NO_TEST_MODULE, detail="test-side paths: " + tests))
        try:
            buggy = run(ws, modules)
            if not any(r.outcome in FAILING for r in buggy.values()):
                # nothing fails on the buggy code: nothing can go from fail to pass; the gold runs
                # could only tell which no-task reason applies
                ran = sum(r.outcome is not Outcome.MISSING for r in buggy.values())
                verdict = judge(buggy, [buggy], patch) if not ran else Judgement(
                    reason=Reason.NO_FAIL_TO_PASS, detail=f"{ran} tests ran; none failed on the buggy code")
                return _Proof(verdict, buggy, {}, modules)
            touched = ws.apply_patch(patch, what="gold patch", allow_tests=True)
            env.drop_stale(ws.path, touched)  # the extensions compiled from sources the patch changed
            gold = run(ws, modules, touched)
            alone = _alone(lambda tests: run(ws, tests, touched), suspects(buggy, [gold]))
            verdict = judge(buggy, [gold], patch, alone)
            if verdict.reason is None:
                selection = verdict.fail_to_pass + verdict.pass_to_pass
                golds = [run(ws, selection, touched) for _ in range(max(1, config.reruns - 1))]
                with Workspace.create(repo.git_dir, candidate.parent, test_patch) as buggy_ws:
                    verdict = confirm(verdict, golds, run(buggy_ws, selection))
        except _TimedOut:
            verdict = Judgement(reason=Reason.TIMEOUT, detail=f"a test run exceeded {config.timeout:g} s")
            return _Proof(verdict)
        except _Untrusted as exc:
            verdict = Judgement(reason=Reason.TEST_RUN_FAILED,
                                detail=f"the evaluator would not trust this run's results: {exc}")
            return _Proof(verdict)
    return _Proof(verdict, buggy, gold, modules)


def _alone(run, tests: list[str]) -> dict:
    """Reruns of tests that failed with the fix: together first, then the ones still failing one by one."""
    if not tests:
        return {}
    together = run(tests)
    results = {t: together[t] for t in tests if t in together}
    failing = [t for t in tests if t not in results or results[t].outcome in FAILING]
    for test in failing[:ALONE_LIMIT]:
        single = run([test])
        if test in single:
            results[test] = single[test]
    return results


BESIDE_LIMIT = 100
"""Test modules run at most when a fix touches only shared test code."""


def _modules_beside(root: Path, touched: Sequence[str], conventions: TestFileConventions) -> list[str]:
    """Test modules in the folders of touched shared test files (conftest, ``__init__``, helpers);
    for a helper module, only those that mention it."""
    found: list[str] = []
    for path in touched:
        folder = (root / path).parent
        stem = Path(path).stem
        if not folder.is_dir() or not folder.resolve().is_relative_to(root.resolve()):
            continue
        for file in sorted(folder.rglob("*.py")):
            rel = file.relative_to(root).as_posix()
            if rel in found or not _runnable(root, rel, conventions):
                continue
            if stem not in ("conftest", "__init__") and stem not in file.read_text(encoding="utf-8", errors="replace"):
                continue
            found.append(rel)
    return found[:BESIDE_LIMIT]


def _runnable(root: Path, path: str, conventions: TestFileConventions) -> bool:
    file = root / path
    if not file.is_file() or not path.endswith(".py"):
        return False
    if _is_test_module(path, conventions):
        return True
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return _is_test_module(path, conventions, text)


def _missing(proof: _Proof | TestRunError, patch: str, root: Path) -> str:
    """The third-party module the last attempt's tests missed on both sides ("" when none)."""
    if isinstance(proof, TestRunError):
        return remedy.missing_module(proof.output, {}, {}, patch, root)
    return remedy.missing_module("", proof.buggy, proof.gold, patch, root)


def _with_module(repo: Repo, candidate: Candidate, patch: str, test_patch: str, config: ValidateConfig,
                 runs: list, tree: Path, python: str | Path, date: str, version: str, extra: tuple[str, ...],
                 module: str,
                 proof: _Proof | TestRunError):
    """(requirements, environment, proof) with ``module`` installed too, or None when no requirement
    for it installs, or the tests then cannot run where they could before."""
    from taskset.env.environment import ensure_environment

    for requirement in remedy.requirements_for(tree, module):
        try:
            env = ensure_environment(tree, python=python, resolution_date=date,
                                     extra_requirements=extra + (requirement,), version=version)
        except EnvironmentBuildError:
            continue  # the project's own line for it may not install here: the bare name may
        again = _attempt(repo, candidate, patch, test_patch, env, config, runs)
        if isinstance(again, TestRunError) and not isinstance(proof, TestRunError):
            return None
        return extra + (requirement,), env, again
    return None


class _TimedOut(Exception):
    """A test run hit the timeout (internal: becomes a ``timeout`` rejection)."""


class _Untrusted(Exception):
    """A run's evidence disagrees with itself (``TestRun.tampered``): the code under test changed how it
    is judged. The evaluator calls such a run ``tampered``, so no task can come of it (internal: becomes
    a ``test-run-failed`` rejection)."""


def instance_id(repo_name: str, sha: str) -> str:
    """``owner__repo-<12-char fix sha>``."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', repo_name.replace('/', '__'))}-{sha[:12]}"


def is_test_module(path: str, conventions: TestFileConventions = DEFAULT) -> bool:
    """A test-side .py file pytest would collect tests from by its name (not conftest.py, not __init__.py)."""
    return _is_test_module(path, conventions)


def remedies(spec: EnvironmentSpec) -> tuple[str, ...]:
    """The fixes a real history needed for this task (install-ladder rung, src layout, ...)."""
    found = []
    if spec.remedy and spec.remedy != "normal":
        found.append(spec.remedy)
    if any(entry not in (".", "") for entry in spec.pythonpath):
        found.append("pythonpath:" + ",".join(spec.pythonpath))
    found += dict.fromkeys(f"relaxed:{note.split(':', 1)[0]}" for note in spec.relaxed)
    return tuple(found)


def _tail(output: str) -> str:
    """The end of a failure's output, where the error is, led by its first matching error line."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line.strip() for line in lines if re.search(r"\b(?:error|Error|Failed)\b", line)]
    head = (errors[-1] + "\n") if errors else ""
    return head + trim(output, 1200)


def _reject(candidate: Candidate, reason: Reason, text: str) -> Rejection:
    return Rejection(candidate.sha, reason, trim(text), candidate.subject, candidate.score)
