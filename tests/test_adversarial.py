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

from factories import task_between
from taskset.evaluation import sandbox
from taskset.evaluation.runner import run_tests
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.record import Task

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
    return calc_task(make_repo)


def calc_task(make_repo, buggy: str = BUGGY, fixed: str = FIXED, tests: str = TESTS,
              more_p2p: tuple[str, ...] = ()) -> Task:
    """The task every attack here aims at (tests/test_machinery.py's too); other files' variants
    give their own ``calc.py`` before and after the fix, and tests (``more_p2p`` beside test_mul)."""
    repo = make_repo("calc")
    base = repo.commit("calc with a bug", {"calc.py": buggy, "tests/conftest.py": CONFTEST,
                                           "tests/test_calc.py": tests.split("\n\n\ndef test_add")[0] + "\n"})
    fix = repo.commit("fix add", {"calc.py": fixed, "tests/test_calc.py": tests})
    return task_between(repo, base, fix, ("calc.py",), (F2P,), (P2P, *more_p2p), statement="add() subtracts")


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
                   if not line.startswith(("diff --git", "index ")))
    assert evaluate(task, patch=p0 + "\n", env=env).resolved


# --- shadowing what starts the tests ---------------------------------------------------------------

FAKE_PYTEST = "import sys\ndef main(*a, **k):\n    return 0\nsys.exit(0)\n"


@pytest.mark.parametrize(
    "path",
    ["pytest.py", "pytest/__init__.py", "pytest/__main__.py", "_pytest/runner.py", "pluggy.py",
     "loopctl_pytest_plugin.py", "loopctl_boot.py", "sitecustomize/__init__.py", "usercustomize.py",
     "json.py", "unittest/__init__.py", "cheat.dist-info/entry_points.txt", "cheat.egg-info/entry_points.txt",
     "cheat-1.0.dist-info/METADATA", "x.pth"],
)
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
                            text=True, check=True).stdout
    assert "GIT binary patch" in binary
    assert_not_resolved(evaluate(task, patch=binary, env=env), VerdictProblem.UNSAFE_EDIT)


@pytest.mark.parametrize("path", ["pytest.toml", ".pytest.toml", "pytest.ini", "tests/pytest.ini", "sub/tox.ini"])
def test_candidate_pytest_configuration_never_applies(task, env, path):
    """pytest.toml / .pytest.toml (pytest 9) and config files anywhere in the tree are removed before the run."""
    body = ("[pytest]\naddopts = \"-p no:python\"\n" if path.endswith(".toml")
            else "[pytest]\naddopts = -p no:python\n")
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
                         ids=["os-exit-0", "pytest-exit-0", "exit-0-at-exit"])
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
                   "def pytest_runtest_makereport(item, call):\\n"
                   "    o = yield\\n    o.get_result().outcome = 'passed'\\n"),
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
    from taskset.workspace.mirrors import mirror, run_git

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
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'leak')\n"
            "except OSError:\n    pass\n")
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


# the report's path from the run's arguments only (no gc walk: the static screen would refuse the
# candidate before it ran, and this test is about reading a flood, not about the screen)
ARGV_REPORT = "\n".join(line for line in FIND_REPORT.splitlines()
                        if "gc" not in line and "Config" not in line and "xmlpath" not in line) + "\nimport json, sys\n"

JUNIT_FLOOD = ARGV_REPORT + """
import atexit
def _flood():
    case = '<testcase classname="tests" name="t%07d"/>\\n'
    with open(_report_path(), "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">\\n')
        for start in range(0, 1500000, 50000):
            f.write("".join(case % i for i in range(start, start + 50000)))
        f.write("</testsuite></testsuites>\\n")
atexit.register(_flood)
"""

CHANNEL_FLOOD = r"""
import json as _json, os as _os, sys as _sys
_fd = int(_json.load(open(_sys.argv[1]))["channel"])
_chunk = b"".join(b'{"k": "report", "nodeid": "tests/test_calc.py::t%07d", "when": "call", "outcome": "passed"}\n' % _i
                  for _i in range(10000))
for _ in range(64 * 1024 * 1024 // len(_chunk) + 1):
    _view = memoryview(_chunk)
    while _view:
        _view = _view[_os.write(_fd, _view):]
"""

EVALUATE_MEASURED = """
import json, pickle, resource, sys
from taskset.evaluation.verdict import evaluate
task, env, edits = pickle.loads(open(sys.argv[1], "rb").read())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
verdict = evaluate(task, edits=edits, env=env)
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"problem": verdict.problem.value, "ids": sorted(verdict.results), "grew_kib": grew,
                  "peak_kib": grew + before, "message": verdict.message}))
"""


@pytest.mark.parametrize("code", [JUNIT_FLOOD, CHANNEL_FLOOD], ids=["junit-60MiB-1.5M-cases", "channel-64MiB"])
def test_a_flood_of_evidence_is_tampering_at_small_cost(task, env, code, tmp_path):
    """A 60 MiB JUnit report of 1.5 million test cases written at exit, or 64 MiB of records on the
    live channel: ``tampered`` without reading the rest, the evaluator's own peak memory grows by
    less than 200 MB (measured in a process that does nothing else), and the Verdict holds the
    task's ids only."""
    import pickle
    import sys

    job = tmp_path / "job.pickle"
    job.write_bytes(pickle.dumps((task, env, {"calc.py": attack(code)})))
    done = subprocess.run([sys.executable, "-c", EVALUATE_MEASURED, str(job)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["problem"] == VerdictProblem.TAMPERED.value, verdict["message"]
    assert verdict["ids"] == sorted([F2P, P2P])
    assert verdict["grew_kib"] < 200 * 1024, verdict


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


# --- found by a red-team pass: routes around the first defences --------------------------------------

SWAP_ITEM = """
import gc as _gc
class _Swap:
    def pytest_collection_finish(self, session):
        for item in session.items:
            if item.name == "test_add":
                item.obj = lambda: None
for _o in _gc.get_objects():
    if type(_o).__name__ == "Config" and hasattr(_o, "pluginmanager"):
        _o.pluginmanager.register(_Swap(), "swap")
        break
"""

SWAP_CODE_ON_IMPORT = """
import sys as _sys
class _Finder:
    def find_spec(self, name, path=None, target=None):
        if not name.endswith("test_calc"):
            return None
        for finder in _sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        real_exec = spec.loader.exec_module
        def exec_module(module):
            real_exec(module)
            if hasattr(module, "test_add"):
                module.test_add.__code__ = (lambda: None).__code__
        spec.loader.exec_module = exec_module
        return spec
_sys.meta_path.insert(0, _Finder())
"""

SWAP_CODE_FORGED_NAME = """
import gc as _gc, sys as _sys
class _Swap:
    def pytest_collection_finish(self, session):
        for item in session.items:
            if item.name == "test_add":
                path = item.module.__file__
                line = item.obj.__code__.co_firstlineno
                source = "\\n" * (line - 1) + "def test_add():\\n    pass\\n"
                item.obj.__code__ = compile(source, path, "exec").co_consts[0]
for _o in _gc.get_objects():
    if type(_o).__name__ == "Config" and hasattr(_o, "pluginmanager"):
        _o.pluginmanager.register(_Swap(), "swap")
        break
"""

STRIP_ASSERTS = """
import ast as _ast
import _pytest.assertion.rewrite as _rw
_orig = _rw.rewrite_asserts
class _Strip(_ast.NodeTransformer):
    def visit_Assert(self, node):
        return _ast.copy_location(_ast.Pass(), node)
def rewrite_asserts(mod, *args, **kwargs):
    _Strip().visit(mod)
    _ast.fix_missing_locations(mod)
    return _orig(mod, *args, **kwargs)
_rw.rewrite_asserts = rewrite_asserts
"""

HOOK_FROM_A_RUNTIME_FILE = """
import gc as _gc, os as _os, sys as _sys, tempfile as _tf
_dir = _tf.mkdtemp()
with open(_os.path.join(_dir, "calc_helpers.py"), "w") as _f:
    _f.write('''
import pytest
class Cheat:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if item.name == "test_add":
            report.outcome, report.longrepr = "passed", None
''')
_sys.path.insert(0, _dir)
import calc_helpers as _h
for _o in _gc.get_objects():
    if type(_o).__name__ == "Config" and hasattr(_o, "pluginmanager"):
        _o.pluginmanager.register(_h.Cheat(), "cheat")
        break
"""

FORGED_CO_FILENAME = '''
import _pytest.runner as _r
_src = """
_original = _r.call_and_report
def call_and_report(item, when, log=True, **kwargs):
    if item.name == "test_add" and when == "call":
        from _pytest.reports import TestReport
        from _pytest.runner import CallInfo
        call = CallInfo.from_call(lambda: None, when="call")
        report = TestReport.from_item_and_call(item, call)
        item.ihook.pytest_runtest_logreport(report=report)
        return report
    return _original(item, when, log, **kwargs)
"""
_ns = {"_r": _r}
exec(compile(_src, _r.__file__, "exec"), _ns)
_r.call_and_report = _ns["call_and_report"]
'''

SILENCE_OUR_PLUGIN = """
import sys as _sys
import _pytest.reports as _rep
for _name in ("loopctl_pytest_plugin", "loopctl_integrity"):
    _module = _sys.modules[_name]
    for _attr in ("replaced", "hooks", "import_hooks", "_replaced", "_hooks", "_import_hooks"):
        if hasattr(_module, _attr):
            setattr(_module, _attr, lambda *a, **k: [])
    for _attr in ("test_problem", "test_origin", "_test_problem", "_test_origin"):
        if hasattr(_module, _attr):
            setattr(_module, _attr, lambda *a, **k: "")
_orig = _rep.TestReport.from_item_and_call.__func__
def _fake(cls, item, call):
    report = _orig(cls, item, call)
    if item.name == "test_add":
        report.outcome, report.longrepr = "passed", None
    return report
_rep.TestReport.from_item_and_call = classmethod(_fake)
"""

FORGED_TRANSCRIPT = r'''
import atexit as _atexit, json as _json, os as _os, re as _re, sys as _sys
_spec = _json.load(open(_sys.argv[1]))
_fd = int(_spec["channel"])
_junit = [a.split("=", 1)[1] for a in _spec["args"] if a.startswith("--junitxml=")][0]
def _say(**r):
    _os.write(_fd, (_json.dumps(r, sort_keys=True) + "\n").encode())
_say(k="start", pid=_os.getpid(), pytest="x", entry_points=[])
for _n in ("tests/test_calc.py::test_add", "tests/test_calc.py::test_mul", "::loopctl-canary-pass"):
    for _w in ("setup", "call", "teardown"):
        _say(k="report", nodeid=_n, when=_w, outcome="passed", xfail=False)
for _w, _o in (("setup", "passed"), ("call", "failed"), ("teardown", "passed")):
    _say(k="report", nodeid="::loopctl-canary-fail", when=_w, outcome=_o, xfail=False)
_say(k="finish", exitstatus=1, stopped=False, replaced=[], hooks=[])
_os.dup2(_os.open("/dev/null", _os.O_WRONLY), _fd)
def _fix_report():
    text = open(_junit).read()
    def case(m):
        block = m.group(0)
        if 'name="test_add"' in block:
            block = _re.sub(r"<failure[^>]*>.*?</failure>", "", block, flags=_re.S)
        return block
    open(_junit, "w").write(_re.sub(r"<testcase .*?</testcase>", case, text, flags=_re.S))
_atexit.register(_fix_report)
'''


@pytest.mark.parametrize(
    "code",
    [SWAP_ITEM, SWAP_CODE_ON_IMPORT, SWAP_CODE_FORGED_NAME, STRIP_ASSERTS, HOOK_FROM_A_RUNTIME_FILE,
     FORGED_CO_FILENAME, SILENCE_OUR_PLUGIN, FORGED_TRANSCRIPT],
    ids=["swap-the-test-function", "swap-its-code-on-import", "swap-its-code-under-its-own-name",
         "strip-asserts-in-the-rewriter", "hook-from-a-file-written-at-run-time", "borrowed-file-name",
         "silence-our-plugin", "forged-transcript-and-report"],
)
def test_changing_the_tests_or_the_witnesses_in_process_is_tampering(task, env, code):
    """A test's function or code swapped in memory, assertions stripped as they are rewritten, a
    reporting hook from a file written at run time or code borrowing pytest's own file name, our
    plugin's checks silenced, a whole fake transcript on the channel: ``tampered``, never resolved."""
    verdict = evaluate(task, edits={"calc.py": attack(code)}, env=env)
    assert_not_resolved(verdict, VerdictProblem.TAMPERED)


CHANNEL_JUNK = r'''
import json as _json, os as _os, sys as _sys
_fd = int(_json.load(open(_sys.argv[1]))["channel"])
for _line in (b"[" * 200000 + b"\n", b'{"k": "start", "entry_points": 5}\n', b'{"k": "finish", "replaced": 5}\n'):
    _view = memoryview(_line)
    while _view:
        _view = _view[_os.write(_fd, _view):]
'''

DEEP_TREE = """
import os as _os
_here = _os.open(".", _os.O_RDONLY)
_os.mkdir("deep")
_os.chdir("deep")
for _i in range(5000):
    _os.mkdir("d")
    _os.chdir("d")
_os.fchdir(_here)
"""


def test_junk_on_the_channel_and_a_deep_tree_are_verdicts_not_crashes(task, env):
    """Deeply nested JSON and wrongly typed records on the channel, a 5,000-deep folder chain left in
    the workspace: a verdict comes back, the workspace is removed, and the next evaluation works."""
    junk = evaluate(task, edits={"calc.py": attack(CHANNEL_JUNK)}, env=env)
    assert_not_resolved(junk, VerdictProblem.TAMPERED)
    deep = evaluate(task, edits={"calc.py": attack(DEEP_TREE)}, env=env)
    assert_not_resolved(deep)
    assert evaluate(task, patch=task.patch, env=env).resolved


@pytest.mark.parametrize(
    "candidate",
    [{"edits": {"calc\ud800.py": "x = 1\n"}}, {"edits": {"calc.py": "x = '\ud800'\n"}},
     {"patch": "--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-def add(a, b):\n+def add(a, b):  # \ud800\n"},
     {"patch": 'diff --git "a/x\\08.py" "b/x\\08.py"\nnew file mode 100644\n'
               '--- /dev/null\n+++ "b/x\\08.py"\n@@ -0,0 +1 @@\n+x = 1\n'},
     {"edits": {"/".join(["d" * 200] * 25) + "/x.py": "x = 1\n"}},
     {"edits": {"a/" * 1500 + "x.py": "x = 1\n"}},
     {"patch": "diff --git a/link b/link\nnew file mode 0120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n"
               "+/etc\n\\ No newline at end of file\n"}],
    ids=["surrogate-in-a-path", "surrogate-in-content", "surrogate-in-a-diff", "short-octal-escape",
         "5000-character-path", "1500-folders-deep", "symlink-mode-0120000"],
)
def test_malformed_candidates_are_verdicts_not_crashes(task, env, candidate):
    """Text that is not text, a quoted name git itself would reject, absurd paths, a symlink mode spelled
    with a leading zero: each is refused with a reason (never a traceback, never applied)."""
    verdict = evaluate(task, env=env, **candidate)
    assert_not_resolved(verdict, VerdictProblem.UNSAFE_EDIT, VerdictProblem.PATCH_DOES_NOT_APPLY)
    assert verdict.message


GIT_FILTER = """
import os as _os
try:
    with open(_os.path.join(_os.getcwd(), ".git", "config"), "a") as _f:
        _f.write('[filter "x"]\\n\\tclean = "sh -c \\'touch {marker}; cat\\'"\\n')
    with open(_os.path.join(_os.getcwd(), ".git", "info", "attributes"), "w") as _f:
        _f.write("* filter=x\\n")
except OSError:
    pass
"""


def test_code_under_test_cannot_plant_commands_for_our_git(task, env, tmp_path):
    """A clean filter written into the workspace's .git never runs in a git command of ours afterwards
    (.git is read-only in the sandbox, and put back before every git command we run there)."""
    from taskset.evaluation.runner import run_tests
    from taskset.workspace.workspace import Workspace

    marker = tmp_path / "ESCAPED"
    with Workspace.for_task(task) as ws:
        ws.apply_edits({"calc.py": attack(GIT_FILTER.format(marker=marker))})
        run_tests(env, ws, [F2P])
        ws.diff()  # git add -A: would run the clean filter on every file
    assert not marker.exists()


DAEMON = """
import os as _os, time as _time
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        open({pidfile!r} + ".tmp", "w").write(str(_os.getpid()))
        _os.rename({pidfile!r} + ".tmp", {pidfile!r})
        _time.sleep(600)
    _os._exit(0)
for _ in range(3000):  # the tests go on only once the daemon is surely running
    if _os.path.exists({pidfile!r}):
        break
    _time.sleep(0.01)
"""


@pytest.mark.filterwarnings("ignore::taskset.evaluation.sandbox.SandboxWarning")
def test_without_a_sandbox_no_daemon_outlives_the_run(task, env, tmp_path, monkeypatch):
    """Unconfined, a double-forked setsid daemon (which a process-group kill misses, and which could
    rewrite a later run's files) is killed by the run's reaper before the verdict comes back."""
    monkeypatch.setenv(sandbox.CHOICE_ENV, "none")
    pidfile = tmp_path / "daemon.pid"
    verdict = evaluate(task, edits={"calc.py": attack(DAEMON.format(pidfile=str(pidfile)))}, env=env)
    assert_not_resolved(verdict)
    pid = int(pidfile.read_text())
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break
        if state in ("Z", "X"):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        raise AssertionError("the daemon outlived the run")
