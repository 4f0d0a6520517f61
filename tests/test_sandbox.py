"""The sandbox itself, for each kind this machine can start: what code under test can see and do."""

from __future__ import annotations

import os
import stat
import subprocess
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from taskset.errors import InfrastructureError
from taskset.evaluation import identity, sandbox
from taskset.evaluation.runner import run_tests
from taskset.evaluation.sandbox import SandboxKind, SandboxWarning

KINDS = [k for k in (SandboxKind.BWRAP, SandboxKind.UNSHARE) if sandbox._works(k)]

INSIDE = '''
import os, socket, pathlib

def test_confined():
    here = pathlib.Path.cwd()
    # the workspace, HOME and TMPDIR are writable
    (here / "written.txt").write_text("ok")
    pathlib.Path(os.environ["HOME"], "h.txt").write_text("ok")
    pathlib.Path(os.environ["TMPDIR"], "t.txt").write_text("ok")
    assert os.environ["HOME"] != {caller_home!r}
    # a private /tmp may take a write, but it never reaches the host (checked out there)
    try:
        open({outside!r}, "w").write("x")
    except OSError:
        pass
    # the system and the environment are read-only, and the caller's files are not there
    for target in ("/usr/loopctl-probe", {env_site!r} + "/probe.pth"):
        try:
            open(target, "w").write("x")
        except OSError:
            continue
        raise AssertionError("wrote " + target)
    assert not os.path.exists({secret_file!r})
    # root-only host files are hidden (empty, or not readable at all); the private /tmp is bounded
    for shadow in ("/etc/shadow", "/etc/gshadow"):
        try:
            assert open(shadow, "rb").read() == b""
        except OSError:
            pass
    stats = os.statvfs("/tmp")
    assert stats.f_blocks * stats.f_frsize <= 2 * 1024 ** 3
    # the test files are read-only for the run
    try:
        open(__file__, "a").write("# changed")
    except OSError:
        pass
    else:
        raise AssertionError("the test file was writable")
    # no capabilities, own PID namespace, no network but a private loopback
    caps = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
    assert int(caps, 16) == 0, caps
    assert not os.path.exists("/proc/{caller_pid}/environ") or {caller_pid} < 10
    assert sorted(os.listdir("/sys/class/net")) in ([], ["lo"]) if os.path.isdir("/sys/class/net") else True
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
    except OSError:
        pass
    else:
        raise AssertionError("reached the network")
'''


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_what_code_under_test_can_touch(kind, tmp_path, python_project_env, monkeypatch):
    """Writable: workspace, private HOME and TMPDIR. Not: anything else (the environment included),
    the test files; no capabilities, no view of the caller's processes, no network."""
    monkeypatch.setenv(sandbox.CHOICE_ENV, kind.value)
    secret_file = Path(os.environ["HOME"]) / ".netrc"
    secret_file.write_text("machine example.com password hunter2\n")
    env_site = next(python_project_env.path.glob("lib/python*/site-packages"))
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_inside.py").write_text(INSIDE.format(
        caller_home=os.environ["HOME"], outside=str(tmp_path / "outside.txt"), env_site=str(env_site),
        secret_file=str(secret_file), caller_pid=os.getpid(),
    ))
    run = run_tests(python_project_env, ws, ["tests/test_inside.py::test_confined"])
    assert run.sandbox == kind.value
    assert run.results["tests/test_inside.py::test_confined"].outcome.value == "passed", run.output
    assert (ws / "written.txt").read_text() == "ok"
    assert not (tmp_path / "outside.txt").exists()
    assert not (env_site / "probe.pth").exists()


def test_an_unknown_sandbox_name_is_an_infrastructure_error(monkeypatch):
    monkeypatch.setenv(sandbox.CHOICE_ENV, "jail")
    with pytest.raises(InfrastructureError, match="bwrap, unshare, none or auto"):
        sandbox.selected()


def test_unconfined_runs_warn_once_and_say_so_in_the_run(tmp_path, python_project_env, monkeypatch):
    """With no sandbox the tests still run, the run records ``none``, and a SandboxWarning is given once."""
    monkeypatch.setenv(sandbox.CHOICE_ENV, "none")
    sandbox._warn_once.cache_clear()
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run_tests(python_project_env, ws, ["tests/test_a.py::test_a"])
        run_tests(python_project_env, ws, ["tests/test_a.py::test_a"])
    assert first.sandbox == "none"
    assert [w.category for w in caught] == [SandboxWarning]


def test_required_sandbox_refuses_to_run_unconfined(tmp_path, python_project_env, monkeypatch):
    """LOOPCTL_REQUIRE_SANDBOX: no sandbox means an InfrastructureError, never an unconfined run."""
    monkeypatch.setenv(sandbox.CHOICE_ENV, "none")
    monkeypatch.setenv(sandbox.REQUIRE_ENV, "1")
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    with pytest.raises(InfrastructureError, match="REQUIRE_SANDBOX"):
        run_tests(python_project_env, ws, ["tests/test_a.py::test_a"])


def test_cli_require_sandbox_is_one_line_and_exit_2(tmp_path, monkeypatch, make_repo):
    """``loopctl evaluate --require-sandbox`` where none can start: one line on stderr, exit 2 (the
    machine must be set up first; a plain rerun would not help)."""
    from factories import make_task
    from taskset.store import TaskSet

    monkeypatch.setenv(sandbox.CHOICE_ENV, "none")
    repo = make_repo("calc")
    base = repo.commit("base", {"calc.py": "X = 1\n", "tests/test_calc.py": "def test_x():\n    pass\n"})
    tasks = TaskSet.open(tmp_path / "set", create=True)
    task = make_task(repo_url=str(repo.path), base_commit=base, fix_commit=base, test_patch="",
                     FAIL_TO_PASS=("tests/test_calc.py::test_x",))
    tasks.add(task)
    result = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "set"), task.instance_id, "--empty",
                                      "--require-sandbox"])
    assert result.exit_code == 2, result.output
    assert "REQUIRE_SANDBOX" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_no_descriptor_of_the_caller_reaches_the_tests(tmp_path, python_project_env):
    """An inheritable descriptor the caller holds (a key file, a socket) is not open in the test process:
    only stdin, stdout/stderr and the result channel are."""
    secret = tmp_path / "key.txt"
    secret.write_text("sk-not-for-tests\n")
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_fds.py").write_text(
        "import os\n"
        "def test_fds():\n"
        "    for name in os.listdir('/proc/self/fd'):\n"
        "        try:\n"
        "            target = os.readlink('/proc/self/fd/' + name)\n"
        "        except OSError:\n"
        "            continue\n"
        "        assert 'key.txt' not in target, (name, target)\n"
    )
    try:
        run = run_tests(python_project_env, ws, ["tests/test_fds.py::test_fds"])
    finally:
        os.close(fd)
    assert run.results["tests/test_fds.py::test_fds"].outcome.value == "passed", run.output


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_a_placed_folder_is_seen_at_its_place_and_hides_nothing_bound_inside_it(kind, tmp_path):
    """Mounts.placed shows a host folder at another path (Harbor's /testbed, /tmp): writes land in the host
    folder, and a read-only folder whose path lies under the placed one is still shown over it."""
    host, inner = tmp_path / "placed", tmp_path / "inner"
    host.mkdir()
    inner.mkdir()
    (inner / "kept.txt").write_text("still here")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    mounts = sandbox.Mounts(read_only=(inner,), writable=(), placed=((host, Path(str(tmp_path))),),
                            cwd=Path(str(tmp_path)))
    script = f"echo made > {tmp_path}/made.txt && cat {inner}/kept.txt && ! ls {tmp_path}/placed 2>/dev/null"
    with identity.lent((host,)):  # written by the sandbox's uid, as every confined run's folders are
        done = subprocess.run(sandbox.wrap(kind, mounts, ["/bin/sh", "-c", script], scratch), capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still here"
    assert (host / "made.txt").read_text() == "made\n"
    assert not (tmp_path / "made.txt").exists()


def test_a_placed_folder_without_a_sandbox_is_refused(tmp_path):
    """Nothing can move a folder without a mount namespace: unconfined, placed folders are an infrastructure error."""
    mounts = sandbox.Mounts(read_only=(), writable=(), placed=((tmp_path, Path("/testbed")),))
    with pytest.raises(InfrastructureError, match="need a sandbox"):
        sandbox.wrap(SandboxKind.NONE, mounts, ["true"], tmp_path)
ROOTLESS = '''
import os, stat

def test_rootless():
    assert os.getuid() != 0 and os.geteuid() != 0 and os.getgid() != 0
    caps = [l for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "CapAmb"))]
    assert all(int(l.split()[1], 16) == 0 for l in caps), caps
    # the kernel's settings: opening one to write is refused (nothing is ever written)
    for knob in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"):
        if os.path.exists(knob):
            try:
                os.close(os.open(knob, os.O_WRONLY))
            except OSError:
                continue
            raise AssertionError("opened for writing: " + knob)
    # files under /etc that not every user may read: masked or unreadable
    for path in {hidden!r}:
        try:
            assert open(path, "rb").read() == b"", path
        except OSError:
            pass
    # what the tests write in the workspace, set-uid bit included
    open("made.txt", "w").write("ok")
    os.chmod("made.txt", 0o4755)
'''


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_tests_never_run_as_root(kind, tmp_path, python_project_env, monkeypatch, make_repo):
    """Code under test runs as an unprivileged uid with no capabilities: it cannot open /proc/sys or
    /proc/sysrq-trigger for writing (the host's core_pattern is unchanged), cannot read /etc files
    the host keeps from other users (one root-only file made for the test when we are root), and
    what it leaves in the workspace belongs to the caller afterwards, set-uid bit dropped, so our
    git still works there."""
    monkeypatch.setenv(sandbox.CHOICE_ENV, kind.value)
    core_pattern = Path("/proc/sys/kernel/core_pattern").read_bytes()
    made = None
    if os.geteuid() == 0:
        made = Path("/etc") / f"loopctl-root-only-{os.getpid()}"
        made.write_text("root only\n")
        made.chmod(0o600)
    try:
        # masked if the per-process list of /etc was made after it, else refused by the kernel
        hidden = [str(made)] if made is not None else []
        hidden += [p for p in identity.hidden_in_etc()[0] if os.path.isfile(p)]
        ws = make_repo("ws").path
        (ws / "tests").mkdir()
        (ws / "tests" / "test_rootless.py").write_text(ROOTLESS.format(hidden=hidden))
        run = run_tests(python_project_env, ws, ["tests/test_rootless.py::test_rootless"])
    finally:
        if made is not None:
            made.unlink()
            identity._hidden.cache_clear()
    assert run.sandbox == kind.value
    assert run.results["tests/test_rootless.py::test_rootless"].outcome.value == "passed", run.output
    assert Path("/proc/sys/kernel/core_pattern").read_bytes() == core_pattern
    info = (ws / "made.txt").lstat()
    assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid())
    assert not info.st_mode & stat.S_ISUID
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ws, capture_output=True, text=True)
    assert status.returncode == 0 and "made.txt" in status.stdout, status.stderr


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_a_placed_folder_under_a_folder_the_host_lacks_is_reachable_by_the_tests_uid(kind, tmp_path):
    """Harbor's /logs/verifier: the sandbox makes /logs itself, and the tests' uid (never root) can
    enter it and write the placed folder (a folder made 0700 for root would lock it out)."""
    host = tmp_path / "verifier"
    host.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    mounts = sandbox.Mounts(read_only=(), writable=(), placed=((host, Path("/loopctl-logs/verifier")),),
                            cwd=Path("/loopctl-logs/verifier"))
    script = "touch reward.txt && rm -f reward.txt reward.json && echo written > detail.txt"
    with identity.lent((host,)):
        done = subprocess.run(sandbox.wrap(kind, mounts, ["/bin/sh", "-c", script], scratch), capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (host / "detail.txt").read_text() == "written\n"
