"""Builders for test data shared by several test modules."""

from __future__ import annotations

import subprocess

from taskset import Calibration, CalibrationStatus, EnvironmentSpec, FailKind, FailMode, Task, TaskMeta


def make_task(**overrides) -> Task:
    fields = dict(
        instance_id="octo__lib-0123456789ab",
        repo="octo/lib",
        repo_url="https://example.invalid/octo/lib.git",
        base_commit="a" * 40,
        fix_commit="0123456789ab" + "c" * 28,
        created_at="2024-03-01T12:00:00+00:00",
        patch="diff --git a/x.py b/x.py\n",
        test_patch="diff --git a/tests/test_x.py b/tests/test_x.py\n",
        problem_statement="Fix the thing",
        FAIL_TO_PASS=("tests/test_x.py::test_a[1-2]",),
        PASS_TO_PASS=("tests/test_x.py::test_b",),
        environment=EnvironmentSpec(python="3.11.7", install=(".[test]",), requirements=("pytest==8.0.0",)),
        calibration=Calibration(status=CalibrationStatus.OK, tier_passes={"local": (1, 3)}, durations={"t": 0.5}),
        meta=TaskMeta(
            subject="Fix the thing",
            fail_modes={"tests/test_x.py::test_a[1-2]": FailMode(FailKind.EXCEPTION, "ZeroDivisionError")},
        ),
    )
    fields.update(overrides)
    return Task(**fields)


def mine_repo(repo, out, **validate):
    """Mine the GitRepo ``repo`` into ``out`` with ``ValidateConfig(**validate)``; the tasks and the
    rejections, each by fix commit (no machine failure allowed)."""
    from miner import MineConfig, ValidateConfig, mine, read_rejections
    from taskset import TaskSet

    summary = mine(MineConfig(repo=str(repo.path), out=out, validate=ValidateConfig(**validate)))
    assert not summary.infrastructure, summary.infrastructure
    tasks = {task.fix_commit: task for task in TaskSet.open(out, create=True)}
    rejections = {r.fix_commit: r for r in read_rejections(out / "rejections.jsonl")}
    return tasks, rejections


def task_of(tasks, rejections, sha):
    """The task mined of ``sha``; fails with its rejection when there is none."""
    assert sha in tasks, rejections.get(sha)
    return tasks[sha]


def git_diff(repo, base: str, fix: str, *paths: str) -> str:
    """``git diff base fix -- paths`` in a test's GitRepo."""
    return subprocess.run(["git", "diff", base, fix, "--", *paths], cwd=repo.path, capture_output=True, text=True,
                          check=True).stdout


def task_between(repo, base: str, fix: str, source: tuple[str, ...], fail_to_pass: tuple[str, ...],
                 pass_to_pass: tuple[str, ...] = (), tests: tuple[str, ...] = ("tests",),
                 statement: str = "") -> Task:
    """The task a test's GitRepo holds from ``base`` to ``fix``: the gold patch is the diff of the
    ``source`` paths, the test patch that of ``tests`` (none when empty); named after the repo's folder."""
    name = repo.path.name
    return Task(instance_id=f"local__{name}-{fix[:12]}", repo=f"local/{name}", repo_url=str(repo.path),
                base_commit=base, fix_commit=fix, created_at="2024-03-01T12:00:00+00:00",
                patch=git_diff(repo, base, fix, *source),
                test_patch=git_diff(repo, base, fix, *tests) if tests else "",
                problem_statement=statement, FAIL_TO_PASS=tuple(fail_to_pass), PASS_TO_PASS=tuple(pass_to_pass))
