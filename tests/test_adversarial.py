"""The evaluator against a hostile candidate: every route that once gave a non-fix ``resolved``.

The task: ``add()`` subtracts; FAIL_TO_PASS ``test_add``, PASS_TO_PASS ``test_mul``; the task's
conftest imports ``calc`` (so candidate code runs before the test module is collected). Every
attack below keeps the bug and tries to get ``resolved`` anyway, escape the workspace, read a
secret, or hang or crash the evaluator. Each test names the rule it guards. The suite runs in
whatever sandbox this machine has (``LOOPCTL_SANDBOX`` picks one); tests that only a sandbox can
pass are skipped, with the reason, where none can start.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from taskset import sandbox
from taskset.evaluate import VerdictProblem, evaluate
from taskset.record import Task
from taskset.runner import run_tests

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = BUGGY.replace("a - b", "a + b")
CONFTEST = "import calc  # the project's own conftest loads the code under test early\n"
TESTS = (
    "from calc import add, mul\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)
F2P = "tests/test_calc.py::test_add"
P2P = "tests/test_calc.py::test_mul"
SECRET = "sk-loopctl-test-secret-0123456789"


def _confined() -> bool:
    return sandbox.selected() is not sandbox.SandboxKind.NONE


needs_sandbox = pytest.mark.skipif("not _confined()", reason="no sandbox can start on this machine")


@pytest.fixture
def task(make_repo) -> Task:
    repo = make_repo("calc")
    base = repo.commit("calc with a bug", {"calc.py": BUGGY, "tests/conftest.py": CONFTEST,
                                           "tests/test_calc.py": TESTS.split("\n\n\ndef test_add")[0] + "\n"})
    fix = repo.commit("fix add", {"calc.py": FIXED, "tests/test_calc.py": TESTS})

    def diff(*paths: str) -> str:
        return subprocess.run(["git", "diff", base, fix, "--", *paths], cwd=repo.path, capture_output=True,
                              text=True, check=True).stdout  # fmt: skip

    return Task(
        instance_id="local__calc-" + fix[:12], repo="local/calc", repo_url=str(repo.path), base_commit=base,
        fix_commit=fix, created_at="2024-03-01T12:00:00+00:00", patch=diff("calc.py"),
        test_patch=diff("tests"), problem_statement="add() subtracts", FAIL_TO_PASS=(F2P,), PASS_TO_PASS=(P2P,),
    )  # fmt: skip


@pytest.fixture
def env(python_project_env):
    return python_project_env


def attack(code: str) -> str:
    """calc.py with the bug kept, plus ``code`` run when the module is imported."""
    return BUGGY + "\n\n" + textwrap.dedent(code)


def assert_not_resolved(verdict, *problems: VerdictProblem):
    assert not verdict.resolved, verdict.message
    if problems:
        assert verdict.problem in problems, (verdict.problem, verdict.message)


# --- the baseline: the task is honest, and legitimate fixes of every shape resolve -------------


def test_the_gold_patch_resolves_and_the_bug_does_not(task, env):
    """Without an attacker the verdicts are the plain ones (and say which sandbox ran them)."""
    gold = evaluate(task, patch=task.patch, env=env)
    assert gold.resolved and not gold.message, gold.message
    assert gold.sandbox == sandbox.selected().value
    assert_not_resolved(evaluate(task, patch="", env=env), VerdictProblem.TESTS_FAILED)


@pytest.mark.parametrize(
    "edits",
    [
        {"calc.py": BUGGY.replace("a - b", "sum((a, b))")},
        {"calc.py": BUGGY.replace("return a - b", "from calc_impl import plus\n    return plus(a, b)"),
         "calc_impl.py": "def plus(a, b):\n    return a + b\n"},
        {"calc.py": "from calc_new import add, mul  # noqa\n", "calc_new.py": FIXED},
    ],
    ids=["other-implementation", "adds-a-module", "moves-the-code"],
)
def test_legitimate_alternative_fixes_resolve(task, env, edits):
    """A fix that differs from the gold patch -- another implementation, a new module -- still resolves."""
    verdict = evaluate(task, edits=edits, env=env)
    assert verdict.resolved, verdict.message + verdict.feedback


def test_a_fix_that_deletes_a_file_resolves(task, env):
    """Deleting a file is a legitimate part of a fix: calc.py becomes the package calc/."""
    verdict = evaluate(task, edits={"calc.py": None, "calc/__init__.py": FIXED}, env=env)
    assert verdict.resolved, verdict.message + verdict.feedback


def test_crlf_and_p0_diffs_resolve(task, env):
    """A diff mangled to CRLF by its transport, and a ``-p0`` diff, are the fix all the same."""
    assert evaluate(task, patch=task.patch.replace("\n", "\r\n"), env=env).resolved
    p0 = "\n".join(line.replace("--- a/", "--- ").replace("+++ b/", "+++ ") for line in task.patch.splitlines()
                   if not line.startswith(("diff --git", "index ")))  # fmt: skip
    assert evaluate(task, patch=p0 + "\n", env=env).resolved


# --- shadowing what starts the tests ---------------------------------------------------------------

FAKE_PYTEST = "import sys\ndef main(*a, **k):\n    return 0\nsys.exit(0)\n"


@pytest.mark.parametrize(
    "path",
    ["pytest.py", "pytest/__init__.py", "pytest/__main__.py", "_pytest/runner.py", "pluggy.py",
     "loopctl_pytest_plugin.py", "loopctl_boot.py", "sitecustomize/__init__.py", "usercustomize.py",
     "json.py", "unittest/__init__.py", "cheat.dist-info/entry_points.txt", "cheat.egg-info/entry_points.txt",
     "cheat-1.0.dist-info/METADATA", "x.pth"],
)  # fmt: skip
def test_files_that_shadow_how_the_tests_start_are_refused(task, env, path):
    """A new top-level module named like pytest, its plugins, ours, the stdlib or an installed package,
    start-up hooks and package metadata (pytest11 entry points) are refused before anything is written."""
    verdict = evaluate(task, edits={path: FAKE_PYTEST}, env=env)
    assert_not_resolved(verdict, VerdictProblem.UNSAFE_EDIT)


def test_a_binary_patch_cannot_smuggle_pytest_in(task, env, make_repo):
    """The same rule holds for a git binary diff (its paths come from git's own reading)."""
    repo = make_repo("binary")
    repo.commit("empty", {"README": "x\n"})
    (repo.path / "pytest.py").write_bytes(FAKE_PYTEST.encode() + b"\x00\xff")
    repo.git("add", "-A")
    binary = subprocess.run(["git", "diff", "--cached", "--binary"], cwd=repo.path, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert "GIT binary patch" in binary
    assert_not_resolved(evaluate(task, patch=binary, env=env), VerdictProblem.UNSAFE_EDIT)


@pytest.mark.parametrize("path", ["pytest.toml", ".pytest.toml", "pytest.ini", "tests/pytest.ini", "sub/tox.ini"])
def test_candidate_pytest_configuration_never_applies(task, env, path):
    """pytest.toml / .pytest.toml (pytest 9) and config files anywhere in the tree are removed before the run."""
    body = ("[pytest]\naddopts = \"-p no:python\"\n" if path.endswith(".toml")
            else "[pytest]\naddopts = -p no:python\n")  # fmt: skip
    verdict = evaluate(task, edits={path: body}, env=env)
    assert not verdict.resolved


def test_shadowing_files_already_in_the_workspace_do_not_reach_pytest(tmp_path, env):
    """Defence in depth, bypassing the edit checks: pytest.py, sitecustomize and a pytest11 entry point
    sitting in the workspace itself still do not change how pytest starts."""
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_x.py").write_text("def test_x():\n    assert False\n")
    (ws / "pytest.py").write_text(FAKE_PYTEST)
    (ws / "sitecustomize.py").write_text("import os\nos._exit(0)\n")
    (ws / "cheat.dist-info").mkdir()
    (ws / "cheat.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: cheat\nVersion: 1\n")
    (ws / "cheat.dist-info" / "entry_points.txt").write_text("[pytest11]\ncheat = cheat_plugin\n")
    (ws / "cheat_plugin.py").write_text("raise SystemExit(0)\n")
    run = run_tests(env, ws, ["tests/test_x.py::test_x"])
    assert run.results["tests/test_x.py::test_x"].outcome.value == "failed", run.output


# --- forging results ------------------------------------------------------------------------------

# Where the attacks find pytest's report: the command line of however pytest was started.
FIND_REPORT = """
import gc, json, sys
def _report_path():
    for obj in gc.get_objects():
        if type(obj).__name__ == "Config" and getattr(getattr(obj, "option", None), "xmlpath", None):
            return obj.option.xmlpath
    for arg in sys.argv:
        if arg.startswith("--junitxml="):
            return arg.split("=", 1)[1]
        if arg.endswith(".json"):
            for a in json.load(open(arg)).get("args", []):
                if a.startswith("--junitxml="):
                    return a.split("=", 1)[1]
"""

FORGE_REPORT = FIND_REPORT + """
import atexit, re
def _forge():
    path = _report_path()
    text = open(path).read()
    text = re.sub(r"<failure[^>]*>.*?</failure>", "", text, flags=re.S)
    text = re.sub(r'failures="\\d+"', 'failures="0"', text)
    open(path, "w").write(text)
atexit.register(_forge)
"""


def test_a_report_rewritten_at_exit_is_tampering(task, env):
    """All-pass JUnit written at exit while pytest exits 1: the live channel and the canaries disagree."""
    assert_not_resolved(evaluate(task, edits={"calc.py": attack(FORGE_REPORT)}, env=env), VerdictProblem.TAMPERED)


DETACHED = FIND_REPORT + """
import os, sys, time
report = _report_path()
if report and os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        text = None
        for _ in range(400):                      # until pytest has written its report
            time.sleep(0.01)
            if os.path.exists(report):
                text = open(report).read()
                break
        import re
        if text:
            open(report, "w").write(re.sub(r"<failure[^>]*>.*?</failure>", "", text, flags=re.S))
    os._exit(0)
"""


def test_a_detached_process_cannot_rewrite_the_report(task, env):
    """A double-forked, setsid'd process that rewrites the report after pytest ends does not resolve."""
    assert_not_resolved(evaluate(task, edits={"calc.py": attack(DETACHED)}, env=env))


PATCH_REPORTS = """
import _pytest.reports
_original = _pytest.reports.TestReport.from_item_and_call.__func__
def _always_pass(cls, item, call):
    report = _original(cls, item, call)
    report.outcome = "passed"
    report.longrepr = None
    return report
_pytest.reports.TestReport.from_item_and_call = classmethod(_always_pass)
"""

TARGETED_HOOK = """
import gc, pytest
class _Cheat:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if item.name == "test_add":
            report.outcome, report.longrepr = "passed", None
for _obj in gc.get_objects():
    if type(_obj).__name__ == "Config" and hasattr(_obj, "pluginmanager"):
        _obj.pluginmanager.register(_Cheat(), "cheat")
        break
"""

TARGETED_PATCH = """
import _pytest.runner
_original = _pytest.runner.call_and_report
def call_and_report(item, when, log=True, **kwargs):
    report = _original(item, when, log=False, **kwargs) if False else None
    if item.name == "test_add" and when == "call":
        from _pytest.reports import TestReport
        from _pytest.runner import CallInfo
        call = CallInfo.from_call(lambda: None, when="call")
        report = TestReport.from_item_and_call(item, call)
        item.ihook.pytest_runtest_logreport(report=report)
        return report
    return _original(item, when, log, **kwargs)
_pytest.runner.call_and_report = call_and_report
"""


@pytest.mark.parametrize("code", [PATCH_REPORTS, TARGETED_HOOK, TARGETED_PATCH],
                         ids=["patch-every-report", "register-a-reporting-hook", "replace-call-and-report"])
def test_patching_pytest_in_process_is_detected(task, env, code):
    """In-process patching of pytest's reporting (all tests, or exactly the failing one) is ``tampered``."""
    assert_not_resolved(evaluate(task, edits={"calc.py": attack(code)}, env=env), VerdictProblem.TAMPERED)


@pytest.mark.parametrize("code", ["import os\nos._exit(0)\n", "import pytest\npytest.exit('done', returncode=0)\n",
                                  "import atexit, os\natexit.register(lambda: os._exit(0))\n"],
                         ids=["os-exit-0", "pytest-exit-0", "exit-0-at-exit"])  # fmt: skip
def test_exiting_early_with_success_is_not_a_pass(task, env, code):
    """Ending the process with status 0 before, during or after the tests never resolves."""
    assert_not_resolved(evaluate(task, edits={"calc.py": attack(code)}, env=env))


# --- changing the tests during the run ---------------------------------------------------------------

REWRITE_TESTS = """
import atexit, os
_path = os.path.join(os.getcwd(), "tests", "test_calc.py")
try:
    _saved = open(_path).read()
    open(_path, "w").write(_saved.replace("assert add(2, 3) == 5", "assert True"))
    atexit.register(lambda: open(_path, "w").write(_saved))
except OSError:
    pass
"""


def test_rewriting_a_test_module_before_collection_does_not_pass(task, env):
    """Source imported by the conftest rewrites a test module collected later and restores it at exit:
    read-only in the sandbox, detected by the collection-time hash without one."""
    verdict = evaluate(task, edits={"calc.py": attack(REWRITE_TESTS)}, env=env)
    assert_not_resolved(verdict)
    if not _confined():
        assert verdict.problem is VerdictProblem.TAMPERED


# --- poisoning later runs -----------------------------------------------------------------------------

POISON_ENV = """
import os, site, sys
for folder in site.getsitepackages():
    try:
        open(os.path.join(folder, "zz_loopctl_poison.pth"), "w").write("import os; os._exit(0)\\n")
    except OSError:
        pass
"""

POISON_PARENT = """
import os
_parent = os.path.dirname(os.getcwd())
for name, text in (("conftest.py", "import pytest\\n@pytest.hookimpl(hookwrapper=True)\\n"
                   "def pytest_runtest_makereport(item, call):\\n    o = yield\\n    o.get_result().outcome = 'passed'\\n"),
                   ("pytest.ini", "[pytest]\\naddopts = -p no:python\\n")):
    try:
        open(os.path.join(_parent, name), "w").write(text)
    except OSError:
        pass
"""


@needs_sandbox
def test_the_environment_cannot_be_poisoned(task, env):
    """The cached environment is read-only to the tests: a .pth dropped into site-packages never lands,
    and a later evaluation of an empty patch is not resolved."""
    site = next((env.path / "lib").glob("python*/site-packages"))
    before = sorted(p.name for p in site.iterdir())
    evaluate(task, edits={"calc.py": attack(POISON_ENV)}, env=env)
    assert sorted(p.name for p in site.iterdir()) == before
    assert_not_resolved(evaluate(task, patch="", env=env), VerdictProblem.TESTS_FAILED)


def test_files_in_the_workspace_parent_never_reach_a_later_run(task, env, tmp_path, monkeypatch):
    """A conftest.py / pytest.ini planted above the workspace is invisible to the next run: the parent
    is not writable in the sandbox, and pytest is given its configuration and a conftest cut-off."""
    parent = tmp_path / "workspaces"
    monkeypatch.setenv("TMPDIR", str(parent))
    parent.mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    evaluate(task, edits={"calc.py": attack(POISON_PARENT)}, env=env)
    if _confined():
        assert not (parent / "conftest.py").exists()
    else:  # plant them by hand: the unconfined run could have
        (parent / "conftest.py").write_text("raise SystemExit(0)\n")
        (parent / "pytest.ini").write_text("[pytest]\naddopts = -p no:python\n")
    assert_not_resolved(evaluate(task, patch="", env=env), VerdictProblem.TESTS_FAILED)


def test_a_replace_ref_in_the_mirror_cannot_bring_the_fix_in(task, env):
    """``git replace`` of the base commit by the fix (planted in the cached mirror) is ignored."""
    from taskset.repos import mirror, run_git

    git_dir = mirror(task.repo_url, update=False)
    done = run_git(["--git-dir", str(git_dir), "replace", task.base_commit, task.fix_commit])
    assert done.returncode == 0, done.stderr
    assert_not_resolved(evaluate(task, patch="", env=env), VerdictProblem.TESTS_FAILED)


# --- reading what it must not --------------------------------------------------------------------------

STEAL = """
import glob, os
_found = []
for path in glob.glob("/proc/*/environ"):
    try:
        _found.append(open(path, "rb").read().decode("latin-1"))
    except OSError:
        pass
_found.append(repr(dict(os.environ)))
for _root in (os.environ.get("HOME", ""), "/root", "/tmp", os.path.expanduser("~")):
    for _dirpath, _dirs, _files in os.walk(_root or "/nonexistent"):
        if _dirpath.endswith(".git") or _dirpath.endswith("-" + "repos"):
            import subprocess
            _found.append(subprocess.run(["git", "--git-dir", _dirpath, "log", "--all", "-p"],
                                         capture_output=True, text=True).stdout)
        if _dirpath.count(os.sep) > 8:
            _dirs[:] = []
print("STOLEN:" + "|".join(_found))
raise AssertionError("STOLEN:" + "|".join(_found)[-30000:])
"""


@needs_sandbox
def test_secrets_and_the_gold_patch_cannot_be_read(task, env, monkeypatch):
    """The caller's API key is not in any process's environment the tests can read (/proc included),
    and the mirror that holds the fix is not there to read: neither reaches the verdict."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    verdict = evaluate(task, edits={"calc.py": attack(STEAL)}, env=env)
    text = json.dumps(verdict.to_dict())
    assert "STOLEN" in text  # the attack ran and reported what it found
    assert SECRET not in text
    assert task.fix_commit not in text and "return a + b" not in text


@needs_sandbox
def test_no_network_not_even_to_the_callers_loopback(task, env):
    """Code under test cannot reach a server on the caller's 127.0.0.1."""
    received = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(30)
    port = server.getsockname()[1]

    def accept():
        try:
            conn, _ = server.accept()
            received.append(conn.recv(100))
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'leak')\nexcept OSError:\n    pass\n"
    evaluate(task, edits={"calc.py": attack(code)}, env=env)
    server.close()
    thread.join(5)
    assert received == []


# --- denial of service -----------------------------------------------------------------------------------

FIFO_LOG = """
import os
try:
    _log = os.readlink("/proc/self/fd/1")
    os.unlink(_log)
    os.mkfifo(_log)
except OSError:
    pass
"""

SPARSE_REPORT = FIND_REPORT + """
import atexit
def _grow():
    with open(_report_path(), "ab") as f:
        f.truncate(8 * 1024 ** 3)
atexit.register(_grow)
"""

FIFO_REPORT = FIND_REPORT + """
import atexit, os
def _swap():
    path = _report_path()
    os.unlink(path)
    os.mkfifo(path)
atexit.register(_swap)
"""

KEEP_WRITING = """
import os, time
if os.fork() == 0:
    os.setsid()
    _root = os.getcwd()
    for _i in range(3000):
        try:
            os.makedirs(os.path.join(_root, "junk", str(_i)), exist_ok=True)
        except OSError:
            pass
        time.sleep(0.002)
    os._exit(0)
"""


@pytest.mark.parametrize("code", [FIFO_LOG, SPARSE_REPORT, FIFO_REPORT, KEEP_WRITING],
                         ids=["fifo-log", "sparse-report", "fifo-report", "writer-blocks-cleanup"])
def test_sabotage_never_hangs_or_crashes_the_evaluator(task, env, code):
    """A FIFO or an 8 GiB sparse file in place of the log or the report, a process that keeps writing
    into the workspace while it is removed: a verdict comes back, not resolved, within the timeout."""
    started = time.monotonic()
    verdict = evaluate(task, edits={"calc.py": attack(code)}, env=env, timeout=120)
    assert_not_resolved(verdict)
    assert time.monotonic() - started < 120


def test_an_overlong_path_component_is_a_verdict(task, env):
    """A file name over 255 bytes is refused with a reason, not an OSError."""
    assert_not_resolved(evaluate(task, edits={"x" * 300 + ".py": "pass\n"}, env=env), VerdictProblem.UNSAFE_EDIT)


# --- shared state ----------------------------------------------------------------------------------------

HOME_STATE = """
import os
_marker = os.path.expanduser("~/.cache/loopctl-test-state")
if os.path.exists(_marker):
    def add(a, b):  # only a run that sees an earlier run's HOME would "fix" the bug
        return a + b
os.makedirs(os.path.dirname(_marker), exist_ok=True)
open(_marker, "w").write("seen")
"""


def test_each_run_has_a_fresh_private_home(task, env):
    """Tests never see the caller's HOME nor an earlier run's: the second run does not find the marker."""
    home = Path(os.environ["HOME"])
    first = evaluate(task, edits={"calc.py": attack(HOME_STATE)}, env=env)
    second = evaluate(task, edits={"calc.py": attack(HOME_STATE)}, env=env)
    assert not first.resolved and not second.resolved
    assert not (home / ".cache" / "loopctl-test-state").exists()
