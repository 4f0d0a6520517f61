"""Calibration for real: planted tasks in a real git repository, rerun through taskset.evaluate.

One planted task set is calibrated once (through the CLI, two jobs) and each rule is then checked
on its own task. The project is the minimal flat one of ``python_project_env``, so its
environment comes from the session cache instead of being built again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import taskset
from calibrate import pending
from cli import cli
from conftest import PROJECT_ENV_DATE, GitRepo, write_minimal_project
from taskset import Calibration, CalibrationStatus, Difficulty, EnvironmentSpec, Task

RUNS = "2"
MISSING_PACKAGE = "loopctl-sample-nonexistent-dependency==1.0"
"""Not on the package index: an environment that needs it cannot be built."""

CALC_BUGGY = (
    "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n\n\ndef double(x):\n    return x * 2\n"
)
CALC_FIXED_ADD = CALC_BUGGY.replace("return a - b", "return a + b")
CALC_FIXED_MUL = CALC_BUGGY.replace("return a + b\n\n\ndef double", "return a * b\n\n\ndef double")
TEST_OPS = "import calc\n\n\ndef test_double():\n    assert calc.double(2) == 4\n"
TEST_ADD = TEST_OPS + "\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n"
TEST_DOUBLE_ZERO = TEST_OPS + "\n\ndef test_double_zero():\n    assert calc.double(0) == 0\n"
# test_mul only passes after test_setup has run in the same process: order-dependent by design
TEST_ORDER = (
    "import calc\n\nSTATE = {}\n\n\ndef test_setup():\n    STATE['ready'] = True\n\n\n"
    "def test_mul():\n    assert STATE.get('ready')\n    assert calc.mul(2, 3) == 6\n"
)
# like the sample's flaky decoy: passes once, then finds the file its first run left behind
TEST_LEAK = (
    "from pathlib import Path\n\nimport calc\n\n\ndef test_add_once():\n"
    "    audit = Path(__file__).parent / 'audit.txt'\n    assert not audit.exists()\n"
    "    assert calc.add(2, 3) == 5\n    audit.write_text('checked')\n"
)


def flip_test(name: str, counter: Path, body: str) -> str:
    """A test that fails on its 2nd, 5th, 8th... run: the count lives outside every workspace."""
    return (
        f"from pathlib import Path\n\nimport calc\n\nCOUNTER = Path({str(counter)!r})\n\n\n"
        f"def {name}():\n    n = int(COUNTER.read_text()) if COUNTER.exists() else 0\n"
        f"    COUNTER.write_text(str(n + 1))\n    assert n % 3 != 1\n    {body}\n"
    )


def diff(repo: GitRepo, parent: str, fix: str, *paths: str) -> str:
    return repo.git("diff", parent, fix, "--", *paths) + "\n"


def make(repo: GitRepo, name: str, parent: str, fix: str, f2p, p2p, patch: str | None = None) -> Task:
    """A task by hand, as the miner would write it, for the fix commit ``fix`` of ``parent``."""
    return Task(
        instance_id=f"local__planted-{name}",
        repo="local/planted",
        repo_url=str(repo.path),
        base_commit=parent,
        fix_commit=fix,
        created_at="2024-03-01T12:00:00+00:00",
        patch=patch if patch is not None else diff(repo, parent, fix, "calc.py"),
        test_patch=diff(repo, parent, fix, "tests"),
        problem_statement=f"planted: {name}",
        FAIL_TO_PASS=tuple(f2p),
        PASS_TO_PASS=tuple(p2p),
        environment=EnvironmentSpec(exclude_newer=PROJECT_ENV_DATE),
    )


def planted_tasks(root: Path) -> list[Task]:
    """One repository, one fix commit per rule; each task branches from the same base."""
    repo = GitRepo(root / "planted")
    write_minimal_project(repo.path)
    base = repo.commit("base", {"calc.py": CALC_BUGGY, "tests/test_ops.py": TEST_OPS})

    def fix(branch: str, files: dict) -> str:
        repo.git("checkout", "-q", "-B", branch, base)
        return repo.commit(branch, files)

    ops = "tests/test_ops.py::"
    stable = fix("stable", {"calc.py": CALC_FIXED_ADD, "tests/test_ops.py": TEST_ADD})
    order = fix("order", {"calc.py": CALC_FIXED_MUL, "tests/test_order.py": TEST_ORDER})
    bad = fix("bad", {"calc.py": CALC_BUGGY.replace("x * 2", "2 * x"), "tests/test_ops.py": TEST_DOUBLE_ZERO})
    wrong = fix("wrong", {"calc.py": CALC_BUGGY.replace("a - b", "a * b")})
    flaky_p2p = fix("flaky-p2p", {"calc.py": CALC_FIXED_ADD, "tests/test_ops.py": TEST_ADD,
                                  "tests/test_flip.py": flip_test("test_flip", root / "p2p-count", "pass")})
    flaky_f2p = fix("flaky-f2p", {"calc.py": CALC_FIXED_ADD, "tests/test_flip.py": flip_test(
        "test_flip_add", root / "f2p-count", "assert calc.add(1, 2) == 3")})
    leak = fix("leak", {"calc.py": CALC_FIXED_ADD, "tests/test_leak.py": TEST_LEAK})
    return [
        make(repo, "leak", base, leak, ["tests/test_leak.py::test_add_once"], [ops + "test_double"]),
        make(repo, "stable", base, stable, [ops + "test_add"], [ops + "test_double"]),
        make(repo, "order", base, order, ["tests/test_order.py::test_mul"], ["tests/test_order.py::test_setup"]),
        make(repo, "bad-test", base, bad, [ops + "test_double_zero"], [ops + "test_double"]),
        make(repo, "broken", base, stable, [ops + "test_add"], [ops + "test_double"],
             patch=diff(repo, base, wrong, "calc.py")),
        make(repo, "flaky-p2p", base, flaky_p2p, [ops + "test_add"],
             [ops + "test_double", "tests/test_flip.py::test_flip"]),
        make(repo, "flaky-f2p", base, flaky_f2p, ["tests/test_flip.py::test_flip_add"], []),
        replace(make(repo, "no-env", base, stable, [ops + "test_add"], [ops + "test_double"]),
                environment=EnvironmentSpec(exclude_newer=PROJECT_ENV_DATE, requirements=(MISSING_PACKAGE,))),
        replace(make(repo, "stale-tests", base, stable, [ops + "test_add"], [ops + "test_double"]),
                test_patch=diff(repo, base, stable, "tests").replace("double(2) == 4", "double(2) == 40")),
    ]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, session_cache, python_project_env):
    """The planted set, calibrated once by ``calibrate DIR --runs 2 --jobs 2 --json``."""
    root = tmp_path_factory.mktemp("calibrate")
    with pytest.MonkeyPatch.context() as patch:
        _hermetic(patch, root, session_cache)
        # The planted flaky tests count their runs in a file outside every workspace: only an
        # unconfined run can write there (the sandbox exists to forbid exactly that leak).
        patch.setenv("LOOPCTL_SANDBOX", "none")
        tasks = taskset.TaskSet(root / "taskset")
        for task in planted_tasks(root):
            tasks.add(task)
        result = CliRunner().invoke(cli, ["calibrate", str(tasks.root), "--runs", RUNS, "--jobs", "2", "--json"])
    assert result.exit_code == 0, result.output
    return tasks.root, json.loads(result.stdout)


def _hermetic(patch: pytest.MonkeyPatch, root: Path, session_cache: Path) -> None:
    """The conftest ``hermetic`` pins, for a module-scoped fixture (it runs before them)."""
    (root / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    for name, value in {
        "GIT_AUTHOR_NAME": "Loop Tester", "GIT_AUTHOR_EMAIL": "tester@example.invalid",
        "GIT_COMMITTER_NAME": "Loop Tester", "GIT_COMMITTER_EMAIL": "tester@example.invalid",
        "GIT_AUTHOR_DATE": "2024-03-01T12:00:00+00:00", "GIT_COMMITTER_DATE": "2024-03-01T12:00:00+00:00",
        "GIT_CONFIG_GLOBAL": str(root / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
        "LOOPCTL_CACHE": str(session_cache / "loopctl"), "UV_CACHE_DIR": str(session_cache / "uv"),
    }.items():
        patch.setenv(name, value)


def status_of(calibrated, name: str):
    return taskset.load(calibrated[0])[f"local__planted-{name}"]


def test_stable_task_is_ok(calibrated):
    """A task whose tests fail on the buggy code and pass with the fix in every run is ok."""
    task = status_of(calibrated, "stable")
    c = task.calibration
    assert (c.status, c.reason, c.flaky_tests, c.runs) == (CalibrationStatus.OK, "", (), 2)
    assert c.gold_seconds > 0 and c.buggy_seconds > 0
    assert set(c.durations) == set(task.tests) and set(c.flake_rates.values()) == {0.0}
    assert c.loopctl_version and c.calibrated_at
    assert task.environment.requirements, "the frozen environment is recorded"


def test_order_dependent_test_is_caught(calibrated):
    """A FAIL_TO_PASS test that passes in the recorded order but fails alone is flaky, named order-dependent."""
    c = status_of(calibrated, "order").calibration
    assert c.status == CalibrationStatus.FLAKY
    assert "order-dependent" in c.reason and "tests/test_order.py::test_mul" in c.reason
    assert c.flake_rates["tests/test_order.py::test_mul"] > 0


def test_fail_to_pass_passing_on_buggy_code_is_bad_test(calibrated):
    """A FAIL_TO_PASS test that already passes on the buggy code is bad-test."""
    c = status_of(calibrated, "bad-test").calibration
    assert c.status == CalibrationStatus.BAD_TEST and "test_double_zero" in c.reason


def test_gold_patch_that_does_not_fix_is_broken(calibrated):
    """A gold patch under which a FAIL_TO_PASS test never passes makes the task broken."""
    c = status_of(calibrated, "broken").calibration
    assert c.status == CalibrationStatus.BROKEN and "test_add" in c.reason


def test_flaky_pass_to_pass_is_removed_and_listed(calibrated):
    """A flipping PASS_TO_PASS test leaves PASS_TO_PASS and is listed; the task stays ok."""
    task = status_of(calibrated, "flaky-p2p")
    assert task.calibration.status == CalibrationStatus.OK
    assert task.PASS_TO_PASS == ("tests/test_ops.py::test_double",)
    assert task.calibration.flaky_tests == ("tests/test_flip.py::test_flip",)


def test_flaky_fail_to_pass_makes_the_task_flaky(calibrated):
    """A FAIL_TO_PASS test that flips between identical runs makes the task flaky."""
    c = status_of(calibrated, "flaky-f2p").calibration
    assert c.status == CalibrationStatus.FLAKY and "identical runs" in c.reason


def test_environment_that_does_not_build_is_env_failed(calibrated):
    """A task whose environment can no longer be built is env-failed, with the installer's reason."""
    c = status_of(calibrated, "no-env").calibration
    assert c.status == CalibrationStatus.ENV_FAILED and "environment does not build" in c.reason
    assert c.runs == 0 and c.calibrated_at


def test_test_patch_that_no_longer_applies_is_broken(calibrated):
    """A task whose own test patch does not apply to its base can never be solved: broken."""
    c = status_of(calibrated, "stale-tests").calibration
    assert c.status == CalibrationStatus.BROKEN and "cannot be materialised" in c.reason


def test_test_that_leaves_state_behind_is_caught(calibrated):
    """A test that passes in a fresh workspace but fails when rerun in the same one is flaky."""
    c = status_of(calibrated, "leak").calibration
    assert c.status == CalibrationStatus.FLAKY and "leaves state behind" in c.reason


def test_json_summary_is_printed_and_written(calibrated):
    """--json prints one object; the same summary is in calibration.json beside the tasks."""
    root, printed = calibrated
    assert printed == json.loads((root / "calibration.json").read_text())
    assert printed["tasks"] == printed["calibrated"] == printed["calibrated_now"] == 9
    assert printed["status"]["ok"]["count"] == 2 and printed["status"]["flaky"]["count"] == 3
    assert printed["status"]["broken"]["count"] == 2 and printed["status"]["env-failed"]["count"] == 1
    assert {f["test"] for f in printed["flaky_tests"]} >= {"tests/test_flip.py::test_flip"}
    assert taskset.load(root).calibrated().ids == ["local__planted-flaky-p2p", "local__planted-stable"]


def test_rerun_continues_with_tasks_not_yet_calibrated(calibrated, tmp_path):
    """A rerun calibrates only uncalibrated tasks and leaves finished task files untouched."""
    root = tmp_path / "copy"
    shutil.copytree(calibrated[0], root)
    tasks = taskset.load(root)
    tasks.add(replace(tasks["local__planted-stable"], calibration=Calibration()))
    before = {p.name: p.read_bytes() for p in (root / "tasks").glob("*.json")}
    result = CliRunner().invoke(cli, ["calibrate", str(root), "--runs", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["calibrated_now"] == 1
    after = {p.name: p.read_bytes() for p in (root / "tasks").glob("*.json")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"local__planted-stable.json"}
    assert taskset.load(root)["local__planted-stable"].calibration.status == CalibrationStatus.OK


def labelled_copy(calibrated, tmp_path: Path, *args: str) -> tuple[Path, dict]:
    """Copy the calibrated set and run ``calibrate --tiers ...`` on it (only labelling is left to do)."""
    root = tmp_path / "labelled"
    shutil.copytree(calibrated[0], root)
    replay = tmp_path / "wrong.jsonl"
    replay.write_text("".join(
        json.dumps({"task": task.instance_id, "tier": "wrong", "attempt": 1, "content": ""}) + "\n"
        for task in taskset.load(root)
    ))
    config = tmp_path / "tiers.toml"
    config.write_text(f'[tiers.wrong]\nprovider = "replay"\nreplay_file = {str(replay)!r}\nattempts = 1\n'
                      'price_input = 0.0\nprice_output = 0.0\n')
    result = CliRunner().invoke(cli, ["calibrate", str(root), "--config", str(config), "--json", *args])
    assert result.exit_code == 0, result.output
    return root, json.loads(result.stdout)


def test_first_tier_passing_labels_trivial(calibrated, tmp_path):
    """--tiers oracle: the first tier resolves every ok task, so each is trivial with its pass counts."""
    root, summary = labelled_copy(calibrated, tmp_path, "--tiers", "oracle", "--samples", "2")
    stable = taskset.load(root)["local__planted-stable"].calibration
    assert (stable.difficulty, stable.tier_passes) == (Difficulty.TRIVIAL, {"oracle": (2, 2)})
    assert summary["calibrated_now"] == 0
    assert summary["difficulty"]["trivial"] == {"count": 2, "percent": 100.0}
    flaky = taskset.load(root)["local__planted-order"].calibration
    assert flaky.difficulty == Difficulty.UNKNOWN, "only ok tasks are labelled"


def test_only_a_later_tier_passing_labels_medium(calibrated, tmp_path):
    """--tiers wrong,oracle: the first tier never resolves, the second does: medium."""
    root, _ = labelled_copy(calibrated, tmp_path, "--tiers", "wrong,oracle")
    stable = taskset.load(root)["local__planted-stable"].calibration
    assert (stable.difficulty, stable.tier_passes) == (Difficulty.MEDIUM, {"wrong": (0, 1), "oracle": (1, 1)})


def test_no_tier_passing_labels_hard(calibrated, tmp_path):
    """--tiers wrong: a tier answering with an empty edit never resolves: hard."""
    root, summary = labelled_copy(calibrated, tmp_path, "--tiers", "wrong")
    assert taskset.load(root)["local__planted-stable"].calibration.difficulty == Difficulty.HARD
    assert summary["difficulty"]["hard"]["count"] == 2


TEST_SLOW = (
    "import time\n\nimport calc\n\n\ndef test_add_slowly():\n    assert calc.add(2, 3) == 5\n    time.sleep(3600)\n"
)
"""Fails at once on the buggy code; with the fix it never finishes by itself (only a timeout or a stop ends it)."""


def slow_task(root: Path) -> Task:
    """A task whose gold runs hang: its calibration cannot finish before an interrupt, however fast the machine."""
    repo = GitRepo(root / "slow")
    write_minimal_project(repo.path)
    base = repo.commit("base", {"calc.py": CALC_BUGGY, "tests/test_ops.py": TEST_OPS})
    fix = repo.commit("slow", {"calc.py": CALC_FIXED_ADD, "tests/test_slow.py": TEST_SLOW})
    return replace(make(repo, "zz-slow", base, fix, ["tests/test_slow.py::test_add_slowly"], []),
                   instance_id="local__planted-zz-slow")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_interrupt_leaves_every_task_valid_and_a_rerun_resumes(calibrated, tmp_path):
    """Ctrl-C mid-run (--jobs 2): exit 130 at once, finished tasks kept, no process left, a rerun does the rest.

    Deterministic: the interrupt waits for events (a task saved, the slow task's tests running),
    and the slow task cannot finish by itself, so the run is always interrupted mid-way.
    """
    root = tmp_path / "interrupted"
    shutil.copytree(calibrated[0], root)
    tasks = taskset.load(root)
    reset = ["local__planted-bad-test", "local__planted-broken", "local__planted-stable"]
    for instance_id in reset:
        tasks.add(replace(tasks[instance_id], calibration=Calibration()))
    tasks.add(slow_task(tmp_path))
    command = [sys.executable, "-c", "import cli; cli.calibrate_main()", str(root), "--runs", "1", "--jobs", "2"]
    # faulthandler: should the run ever hang, SIGABRT makes every process print where it is
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONFAULTHANDLER": "1"}) as proc:
        try:
            wait_until(lambda: pending_below(root, len(reset) + 1), proc, "a task saved")
            wait_until(lambda: any("test_slow.py" in cmdline for _, cmdline in descendants(proc.pid)), proc,
                       "the slow task's tests running")
            started = descendants(proc.pid)
            proc.send_signal(signal.SIGINT)
            _, err = communicate_or_explain(proc, timeout=120)  # the slow unit is aborted, not waited for
        finally:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    assert outlived(started) == [], "a worker or a test run outlived the interrupt"
    left = len(pending(taskset.load(root)))  # every task file still parses
    assert 0 < left < len(reset) + 1
    assert "local__planted-zz-slow" in [t.instance_id for t in pending(taskset.load(root))]
    result = CliRunner().invoke(cli, ["calibrate", str(root), "--runs", "1", "--jobs", "2", "--timeout", "5", "--json"])
    assert json.loads(result.stdout)["calibrated_now"] == left
    assert pending(taskset.load(root)) == []


def communicate_or_explain(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """``proc.communicate``; on a hang, fail with where each of its processes was stuck."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stuck = descendants(proc.pid)
        for pid in [pid for pid, cmdline in stuck if "python" in cmdline] + [proc.pid]:
            os.kill(pid, signal.SIGABRT)
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"no exit {timeout:.0f}s after the interrupt; processes: {stuck}\nstderr:\n{err}")


def pending_below(root: Path, count: int) -> bool:
    """True once fewer than ``count`` tasks are uncalibrated; a file mid-rename is never half-read."""
    return len(pending(taskset.load(root))) < count


def wait_until(condition, proc: subprocess.Popen, what: str) -> None:
    """Wait for an event, never for a time; the deadline only stops a broken test from hanging."""
    deadline = time.monotonic() + 300
    while not condition():
        assert proc.poll() is None, f"calibrate ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.05)


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every live process below ``pid`` (workers, sandboxes, pytest runs), with its command line."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        try:
            raw = (Path("/proc") / str(child) / "cmdline").read_bytes()
            cmdline = raw.replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((child, cmdline))
        todo += children.get(child, [])
    return found


def outlived(processes: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The processes still running once each had its chance to exit (the wait ends when they do)."""
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid, _ in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [(pid, cmdline) for pid, cmdline in processes if alive(pid)]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper does not count)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
