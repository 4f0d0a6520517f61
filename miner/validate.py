"""Validation: one candidate -> a Task proven by its own tests, or a Rejection saying why not.

In a workspace at the parent commit with the whole test side of the fix applied, the touched
test modules run on the buggy code; then the gold patch is applied and they run again, ``reruns``
times in the same workspace (a test that flips between those runs is flaky).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from taskset.errors import EditRefused, EnvironmentBuildError, PatchError, TestRunError, WorkspaceError
from taskset.provenance import public_url, release_version
from taskset.record import EnvironmentSpec, Task, TaskMeta
from taskset.testfiles import DEFAULT, TestFileConventions
from taskset.workspace import Workspace

from miner import statement
from miner.candidates import Candidate, Detail
from miner.judge import judge
from miner.rejections import Reason, Rejection, classify_failure, trim
from miner.split import diff


@dataclass(frozen=True)
class ValidateConfig:
    """How candidates are validated."""

    python: str = field(default_factory=lambda: sys.executable)
    """The interpreter the environments are built on (``--python``)."""
    reruns: int = 2
    """Gold runs in the same workspace; a FAIL_TO_PASS test that flips between them is flaky."""
    timeout: float = 300.0
    """Seconds per test run before its process group is killed."""
    conventions: TestFileConventions = DEFAULT
    """Which paths are tests."""


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
    """Validate one candidate (``info`` from ``candidates.details``); its own problems are rejections, never raised."""
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
        reason = classify_failure(exc.output, Reason.TEST_RUN_FAILED)
        outcome = _reject(candidate, reason, f"{exc}\n{_tail(exc.output)}")
    except WorkspaceError as exc:
        outcome = _reject(candidate, Reason.PATCH_DOES_NOT_APPLY, str(exc))
    timing = Timing(time.monotonic() - started, sum(run.duration for run in runs))
    return outcome, timing


def _validate(repo: Repo, candidate: Candidate, info: Detail, config: ValidateConfig, runs: list) -> Task | Rejection:
    from taskset.environment import ensure_environment
    from taskset.runner import run_tests

    sides = candidate.sides
    patch = diff(repo.git_dir, candidate.parent, candidate.sha, sides.source)
    test_patch = diff(repo.git_dir, candidate.parent, candidate.sha, sides.tests)
    with Workspace.create(repo.git_dir, candidate.parent, test_patch) as ws:
        modules = [p for p in sides.tests if is_test_module(p, config.conventions) and (ws.path / p).is_file()]
        if not modules:
            return _reject(candidate, Reason.NO_TEST_MODULE, "test-side paths: " + ", ".join(sides.tests[:10]))
        # The fix's own dependency files decide the environment: a fix may need a new dependency
        # (and one that cannot be installed makes the candidate unprovable).
        with Workspace.create(repo.git_dir, candidate.sha) as fixed_tree:
            env = ensure_environment(fixed_tree.path, python=config.python, resolution_date=info.created_at)

        def run():
            ws.clear_bytecode()
            result = run_tests(env, ws.path, modules, pythonpath=env.spec.pythonpath, timeout=config.timeout)
            runs.append(result)
            if result.timed_out:
                raise _TimedOut()
            return result

        try:
            buggy = run()
            ws.apply_patch(patch, what="gold patch", allow_tests=True)
            golds = [run() for _ in range(max(1, config.reruns))]
        except _TimedOut:
            return _reject(candidate, Reason.TIMEOUT, f"a test run exceeded {config.timeout:g} s")
    verdict = judge(buggy.results, [g.results for g in golds], patch)
    if verdict.reason is not None:
        return _reject(candidate, verdict.reason, verdict.detail)
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
            remedies=remedies(env.spec),
        ),
    )


class _TimedOut(Exception):
    """A test run hit the timeout (internal: becomes a ``timeout`` rejection)."""


def instance_id(repo_name: str, sha: str) -> str:
    """``owner__repo-<12-char fix sha>``."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', repo_name.replace('/', '__'))}-{sha[:12]}"


def is_test_module(path: str, conventions: TestFileConventions = DEFAULT) -> bool:
    """A test-side .py file pytest would collect tests from (not conftest.py, not __init__.py)."""
    name = PurePosixPath(path).name
    if not name.endswith(".py") or name in ("conftest.py", "__init__.py"):
        return False
    return any(fnmatchcase(name, glob) for glob in conventions.file_globs)


def remedies(spec: EnvironmentSpec) -> tuple[str, ...]:
    """The fixes a real history needed for this task (install-ladder rung, src layout, ...)."""
    found = []
    if spec.remedy and spec.remedy != "normal":
        found.append(spec.remedy)
    if any(entry not in (".", "") for entry in spec.pythonpath):
        found.append("pythonpath:" + ",".join(spec.pythonpath))
    return tuple(found)


def _tail(output: str) -> str:
    """The end of a failure's output, where the error is, led by its first matching error line."""
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line.strip() for line in lines if re.search(r"\b(?:error|Error|Failed)\b", line)]
    head = (errors[-1] + "\n") if errors else ""
    return head + trim(output, 1200)


def _reject(candidate: Candidate, reason: Reason, text: str) -> Rejection:
    return Rejection(candidate.sha, reason, trim(text), candidate.subject, candidate.score)
