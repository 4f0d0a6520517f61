"""`calibrate` refuses what it cannot do before doing anything: one line on stderr, exit 2, nothing written.

No test here runs a test suite: every refusal must come before the first unit of work.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import taskset
from cli import cli
from factories import make_task
from taskset import Calibration


@pytest.fixture
def task_set(tmp_path) -> Path:
    """A task set with one uncalibrated task (its repository does not exist: any work would fail loudly)."""
    tasks = taskset.TaskSet(tmp_path / "ts")
    tasks.add(make_task(calibration=Calibration(), repo_url=str(tmp_path / "no-such-repo")))
    return tasks.root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def refused(args: list[str], root: Path, *fragments: str) -> None:
    before = snapshot(root) if root.exists() else None
    result = CliRunner().invoke(cli, ["calibrate", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[0].startswith("Usage:"), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    if before is not None:
        after = {k: v for k, v in snapshot(root).items() if not k.startswith(".loopctl")}
        assert after == {k: v for k, v in before.items() if not k.startswith(".loopctl")}, "nothing is written"
    assert not (root / "calibration.json").exists()


BAD = {
    "no such directory": (["{missing}"], ["no such task set"]),
    "a file, not a task set": (["{file}"], ["not a task set"]),
    "zero runs": (["{root}", "--runs", "0"], ["--runs"]),
    "zero jobs": (["{root}", "--jobs", "0"], ["--jobs"]),
    "negative timeout": (["{root}", "--timeout", "-1"], ["--timeout"]),
    "zero samples": (["{root}", "--samples", "0"], ["--samples"]),
    "unknown task id": (["{root}", "--task-ids", "nope__nope-000000000000"], ["nope__nope-000000000000"]),
    "unknown tier": (["{root}", "--tiers", "nosuchtier"], ["nosuchtier"]),
    "missing tiers config": (["{root}", "--tiers", "oracle", "--config", "{missing}"], ["{missing}"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_before_any_work(case, task_set, tmp_path):
    """Every bad input is refused with one line and exit 2, the task set untouched (no task calibrated)."""
    args, fragments = BAD[case]
    (tmp_path / "a-file").write_text("not a directory\n")
    values = {"root": str(task_set), "missing": str(tmp_path / "missing"), "file": str(tmp_path / "a-file")}
    refused([a.format(**values) for a in args], task_set, *(f.format(**values) for f in fragments))
    assert taskset.load(task_set).ids == [make_task().instance_id]


def test_an_os_error_is_one_line(task_set):
    """A path the run cannot use (its lock file is a directory) is one line naming it, exit 2."""
    (task_set / ".loopctl.lock").mkdir()
    refused([str(task_set)], task_set, ".loopctl.lock")


HOLDER = textwrap.dedent("""
    import sys
    from taskset.files.dirlock import exclusive

    with exclusive(sys.argv[1], doing="calibrate"):
        print("held", flush=True)
        sys.stdin.read()
""")


def test_a_second_calibration_of_one_set_is_refused(task_set):
    """One writer per task set: while another process calibrates it, calibrate refuses with one line."""
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(task_set)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline() == "held\n"
            refused([str(task_set)], task_set, "in use by calibrate")
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)


def test_nothing_to_do_still_writes_the_summary(tmp_path):
    """With every task calibrated, a rerun does no work but prints and writes the summary."""
    import json

    taskset.TaskSet(tmp_path).add(make_task())
    result = CliRunner().invoke(cli, ["calibrate", str(tmp_path), "--json"])
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed["calibrated_now"] == 0 and printed["status"]["ok"]["count"] == 1
    assert json.loads((tmp_path / "calibration.json").read_text()) == printed


@pytest.mark.slow
def test_an_unreachable_index_is_exit_3_and_the_task_stays_to_retry(tmp_path, monkeypatch):
    """The machine failing (package index refused) is never a calibration status: one line, exit 3,
    the task still uncalibrated so the next run retries it."""
    from conftest import PROJECT_ENV_DATE, GitRepo, write_minimal_project
    from taskset import EnvironmentSpec

    repo = GitRepo(tmp_path / "repo")
    write_minimal_project(repo.path)
    base = repo.commit("base", {"calc.py": "def f():\n    return 1\n",
                                "tests/test_calc.py": "def test_x():\n    pass\n"})
    fix = repo.commit("fix", {"calc.py": "def f():\n    return 2\n",
                              "tests/test_calc.py": "import calc\n\ndef test_f():\n    assert calc.f() == 2\n"})
    task = make_task(instance_id="local__repo-" + fix[:12], repo="local/repo", repo_url=str(repo.path),
                     base_commit=base, fix_commit=fix, patch=repo.git("diff", base, fix, "--", "calc.py") + "\n",
                     test_patch=repo.git("diff", base, fix, "--", "tests") + "\n",
                     FAIL_TO_PASS=("tests/test_calc.py::test_f",), PASS_TO_PASS=(), calibration=Calibration(),
                     environment=EnvironmentSpec(exclude_newer=PROJECT_ENV_DATE))
    tasks = taskset.TaskSet(tmp_path / "ts")
    tasks.add(task)
    monkeypatch.setenv("LOOPCTL_CACHE", str(tmp_path / "cold-cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "cold-uv"))
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # the discard port: refused
    result = CliRunner().invoke(cli, ["calibrate", str(tasks.root)])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: the machine failed") and result.stderr.count("\n") == 1
    assert taskset.load(tasks.root)[task.instance_id].calibration.status.value == "uncalibrated"
