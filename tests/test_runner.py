"""The test runner: real pytest runs in a real venv, in workspaces built in tmp dirs."""

from __future__ import annotations

import os
import pwd
import py_compile
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from taskset.env.environment import Environment
from taskset.errors import TestRunError
from taskset.evaluation.junit import Outcome
from taskset.evaluation.runner import run_tests, scrubbed_env
from taskset.record import EnvironmentSpec
from taskset.workspace.files import clear_bytecode

UV = str(Path(sys.executable).parent / "uv")


def build_env(root: Path, python: str, pytest_req: str) -> Environment:
    """A venv with pytest, built with uv into ``root`` (reused when already there)."""
    venv_python = root / "bin" / "python"
    if not venv_python.exists():
        uv_env = {**os.environ, "UV_CACHE_DIR": str(root.parent / "uv")}
        subprocess.run([UV, "venv", "-q", "--python", python, str(root)], check=True, env=uv_env)
        subprocess.run([UV, "pip", "install", "-q", "--python", str(venv_python), pytest_req], check=True, env=uv_env)
    return Environment(path=root, python=venv_python, spec=EnvironmentSpec(python=python, pytest=pytest_req))


@pytest.fixture
def pytest_env(python_project_env) -> Environment:
    """The session's shared environment (host interpreter, current pytest)."""
    return python_project_env


def workspace(tmp_path: Path, files: dict[str, str]) -> Path:
    """A workspace directory holding ``files``."""
    root = tmp_path / "ws"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def outcomes(run) -> dict[str, str]:
    return {nodeid: result.outcome.value for nodeid, result in run.results.items()}


def test_passed_failed_and_exception_names(tmp_path, pytest_env):
    """Each requested id gets its outcome and a failure's exception type name."""
    ws = workspace(tmp_path, {"tests/test_a.py": "def test_ok(): pass\ndef test_bad(): raise KeyError(1)\n"})
    run = run_tests(pytest_env, ws, ["tests/test_a.py::test_ok", "tests/test_a.py::test_bad"])
    assert outcomes(run) == {"tests/test_a.py::test_ok": "passed", "tests/test_a.py::test_bad": "failed"}
    assert run.results["tests/test_a.py::test_bad"].exception == "KeyError"
    assert run.exit_code == 1 and run.junit_found and not run.timed_out


def test_selection_order_is_honoured(tmp_path, pytest_env):
    """Tests run in the order requested (reversed here), and unrequested tests do not run."""
    body = "".join(f"def test_{n}(): open('log', 'a').write('{n}\\n')\n" for n in "abc")
    ws = workspace(tmp_path, {"tests/test_o.py": body})
    run = run_tests(pytest_env, ws, ["tests/test_o.py::test_c", "tests/test_o.py::test_a"])
    assert (ws / "log").read_text().split() == ["c", "a"]
    assert set(run.results) == {"tests/test_o.py::test_c", "tests/test_o.py::test_a"}


def test_a_file_path_selects_all_its_tests(tmp_path, pytest_env):
    """A plain file path among the requested tests selects every test in it."""
    ws = workspace(tmp_path, {"tests/test_f.py": "def test_a(): pass\ndef test_b(): pass\n"})
    run = run_tests(pytest_env, ws, ["tests/test_f.py"])
    assert outcomes(run) == {"tests/test_f.py::test_a": "passed", "tests/test_f.py::test_b": "passed"}


def test_parametrized_ids_are_kept_whole(tmp_path, pytest_env):
    """Parametrized ids with '/', '::', spaces and brackets are kept whole and selectable alone."""
    params = ["a-b/c::d", "sp ace", "br[ack]et"]
    ws = workspace(tmp_path, {"tests/test_p.py": (
        "import pytest\n"
        f"@pytest.mark.parametrize('v', {params!r})\n"
        "def test_f(v):\n    assert v != 'sp ace'\n"
    )})
    ids = [f"tests/test_p.py::test_f[{p}]" for p in params]
    run = run_tests(pytest_env, ws, ids)
    assert outcomes(run) == {ids[0]: "passed", ids[1]: "failed", ids[2]: "passed"}
    alone = run_tests(pytest_env, ws, [ids[1]])
    assert outcomes(alone) == {ids[1]: "failed"}


def test_collection_error_is_an_error_with_collection_error_set(tmp_path, pytest_env):
    """A requested test whose module cannot import is an error with collection_error set."""
    ws = workspace(tmp_path, {
        "tests/test_broken.py": "import no_such_module_here\ndef test_x(): pass\n",
        "tests/test_fine.py": "def test_y(): pass\n",
    })
    run = run_tests(pytest_env, ws, ["tests/test_broken.py::test_x", "tests/test_fine.py::test_y"])
    broken = run.results["tests/test_broken.py::test_x"]
    assert broken.outcome is Outcome.ERROR and broken.collection_error
    assert broken.exception == "ModuleNotFoundError" and "no_such_module_here" in broken.message
    assert run.results["tests/test_fine.py::test_y"].outcome is Outcome.PASSED


def test_uncollected_ids_are_missing(tmp_path, pytest_env):
    """A requested id that is never collected is missing (exit 5), as is one in an absent file."""
    ws = workspace(tmp_path, {"tests/test_m.py": "def test_here(): pass\n"})
    run = run_tests(pytest_env, ws, ["tests/test_m.py::test_gone", "tests/test_nofile.py::test_x"])
    assert outcomes(run) == {"tests/test_m.py::test_gone": "missing", "tests/test_nofile.py::test_x": "missing"}
    assert run.exit_code == 1  # our must-fail canary ran; nothing of the task did


def test_skipped_and_xfail_are_skipped(tmp_path, pytest_env):
    """skip and xfail are skipped (not a pass); a strict xpass is failed."""
    ws = workspace(tmp_path, {"tests/test_s.py": (
        "import pytest\n"
        "@pytest.mark.skip(reason='later')\ndef test_skip(): pass\n"
        "@pytest.mark.xfail\ndef test_xfail(): assert 0\n"
        "@pytest.mark.xfail(strict=True)\ndef test_xpass(): pass\n"
    )})
    run = run_tests(pytest_env, ws, ["tests/test_s.py"])
    assert outcomes(run) == {
        "tests/test_s.py::test_skip": "skipped",
        "tests/test_s.py::test_xfail": "skipped",
        "tests/test_s.py::test_xpass": "failed",
    }


def test_timeout_kills_the_whole_process_group(tmp_path, pytest_env):
    """A test that sleeps forever is killed at the timeout, and a grandchild it spawned dies too."""
    marker = f"loopctl-grandchild-{uuid.uuid4().hex}"
    ws = workspace(tmp_path, {"tests/test_t.py": (
        "import subprocess, sys, time\n"
        "def test_forever():\n"
        f"    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\n"
        "    time.sleep(600)\n"
    )})
    started = time.monotonic()
    run = run_tests(pytest_env, ws, ["tests/test_t.py::test_forever"], timeout=4)
    assert run.timed_out and run.exit_code is None
    assert time.monotonic() - started < 30
    assert run.results["tests/test_t.py::test_forever"].outcome is Outcome.MISSING
    assert _gone(marker)


def _gone(marker: str) -> bool:
    """No process on this machine carries ``marker`` on its command line (zombies aside).

    The grandchild's pid inside the sandbox's PID namespace means nothing out here, so it is
    found by its command line. Polls: a namespace's processes are killed as its init exits.
    """
    for _ in range(100):
        alive = []
        for entry in Path("/proc").iterdir():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state not in ("Z", "X"):
                        alive.append(entry.name)
            except OSError:
                continue
        if not alive:
            return True
        time.sleep(0.1)
    return False


def test_secrets_are_not_visible_and_clock_hash_locale_are_pinned(tmp_path, pytest_env, monkeypatch):
    """The caller's API keys and tokens never reach test code; TZ, PYTHONHASHSEED and locale are pinned."""
    for name, value in {"OPENAI_API_KEY": "sk-x", "GITHUB_TOKEN": "gh-x", "DB_PASSWORD": "pw",
                        "AWS_SECRET": "s", "TZ": "America/New_York", "PYTHONHASHSEED": "123",
                        "SOME_RANDOM_VAR": "1"}.items():
        monkeypatch.setenv(name, value)
    ws = workspace(tmp_path, {"tests/test_env.py": (
        "import os, sys, time\n"
        "def test_env():\n"
        "    leaked = [k for k in os.environ if k.endswith(('_API_KEY', '_TOKEN', '_SECRET', '_PASSWORD'))]\n"
        "    assert leaked == []\n"
        "    assert 'SOME_RANDOM_VAR' not in os.environ\n"
        "    assert os.environ['TZ'] == 'UTC' and time.strftime('%Z') == 'UTC'\n"
        "    assert os.environ['PYTHONHASHSEED'] == '0' and sys.flags.hash_randomization == 0\n"
        "    assert os.environ['LC_ALL'] == 'C.UTF-8'\n"
    )})
    run = run_tests(pytest_env, ws, ["tests/test_env.py::test_env"])
    assert outcomes(run) == {"tests/test_env.py::test_env": "passed"}, run.output


def test_tests_see_the_workspace_but_not_our_packages(tmp_path, pytest_env):
    """sys.path holds the workspace and its source roots, never loopctl's packages; child processes
    get the source roots on PYTHONPATH (set by the boot script, never for pytest's own start-up)."""
    ws = workspace(tmp_path, {
        "src/pkg/__init__.py": "VALUE = 7\n",
        "tests/test_path.py": (
            "import os, subprocess, sys\n"
            "def test_path():\n"
            "    import pkg\n"
            "    assert pkg.VALUE == 7\n"
            "    for name in ('taskset', 'miner', 'harness', 'cli'):\n"
            "        try:\n"
            "            __import__(name)\n"
            "        except ImportError:\n"
            "            continue\n"
            "        raise AssertionError(name + ' is importable')\n"
            "    root = os.getcwd()\n"
            "    assert os.environ['PYTHONPATH'].split(os.pathsep) == [os.path.join(root, 'src'), root]\n"
            "    out = subprocess.run([sys.executable, '-c', 'import pkg; print(pkg.VALUE)'], capture_output=True)\n"
            "    assert out.stdout.strip() == b'7'\n"
        ),
    })
    run = run_tests(pytest_env, ws, ["tests/test_path.py::test_path"], pythonpath=("src", "."))
    assert outcomes(run) == {"tests/test_path.py::test_path": "passed"}, run.output
    environ = scrubbed_env(pytest_env, tmp_path, ("src", "."))
    assert "PYTHONPATH" not in environ
    assert environ["PATH"].split(os.pathsep)[0] == str(pytest_env.python.parent)


def test_stale_bytecode_is_not_used(tmp_path, pytest_env):
    """A stale .pyc with the new source's size and mtime would shadow it; the runner clears it."""
    ws = workspace(tmp_path, {
        "mod.py": "def f():\n    return 1\n",
        "tests/test_mod.py": "import mod\ndef test_f():\n    assert mod.f() == 2\n",
    })
    source = ws / "mod.py"
    stat = source.stat()
    py_compile.compile(str(source), cfile=str(ws / "__pycache__" / f"mod.{sys.implementation.cache_tag}.pyc"))
    source.write_text("def f():\n    return 2\n")  # same length
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    probe = [str(pytest_env.python), "-c", "import mod; print(mod.f())"]
    stale = subprocess.run(probe, cwd=ws, capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert stale.stdout.strip() == "1"  # the premise: Python would load the stale bytecode
    run = run_tests(pytest_env, ws, ["tests/test_mod.py::test_f"])
    assert outcomes(run) == {"tests/test_mod.py::test_f": "passed"}, run.output
    assert not (ws / "__pycache__").exists()


def test_clear_bytecode_spares_git(tmp_path):
    """clear_bytecode removes __pycache__ and stray .pyc files everywhere but under .git."""
    for rel in ("a/__pycache__/x.cpython-311.pyc", "b/legacy.pyc", ".git/objects/keep.pyc"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    clear_bytecode(tmp_path)
    assert not (tmp_path / "a/__pycache__").exists() and not (tmp_path / "b/legacy.pyc").exists()
    assert (tmp_path / ".git/objects/keep.pyc").exists()


def test_invalid_utf8_output_does_not_crash(tmp_path, pytest_env):
    """Output with invalid UTF-8 bytes is decoded with replacement characters."""
    ws = workspace(tmp_path, {"tests/test_u.py": (
        "import sys\n"
        "def test_bytes():\n"
        "    sys.stdout.buffer.write(b'bad \\xff\\xfe bytes\\n'); sys.stdout.flush()\n"
        "    sys.__stdout__.buffer.write(b'raw \\xff\\xfe\\n'); sys.__stdout__.flush()\n"
        "    assert 0, b'\\xff'\n"
    )})
    run = run_tests(pytest_env, ws, ["tests/test_u.py::test_bytes"])
    assert outcomes(run) == {"tests/test_u.py::test_bytes": "failed"}
    assert "\ufffd" in run.output


def test_exiting_early_with_success_is_tampering(tmp_path, pytest_env):
    """A test that ends the process with exit 0 before the report is written is tampering, not a pass."""
    ws = workspace(tmp_path, {"tests/test_die.py": "import os\ndef test_die():\n    os._exit(0)\n"})
    run = run_tests(pytest_env, ws, ["tests/test_die.py::test_die"])
    assert run.tampered and run.exit_code == 0
    assert outcomes(run) == {"tests/test_die.py::test_die": "missing"}


def test_no_report_with_a_failing_exit_is_an_error(tmp_path, pytest_env):
    """A run that dies before writing its report is a TestRunError, not 'nothing failed'."""
    ws = workspace(tmp_path, {"tests/test_die.py": "import os\ndef test_die():\n    os._exit(1)\n"})
    with pytest.raises(TestRunError) as caught:
        run_tests(pytest_env, ws, ["tests/test_die.py::test_die"])
    assert "no JUnit report" in str(caught.value)


def test_empty_report_with_a_failing_exit_is_an_error(tmp_path, pytest_env):
    """An empty JUnit report with a non-zero exit (a broken conftest) is an error, not 'nothing failed'."""
    ws = workspace(tmp_path, {
        "tests/conftest.py": "raise RuntimeError('conftest is broken')\n",
        "tests/test_c.py": "def test_c(): pass\n",
    })
    with pytest.raises(TestRunError) as caught:
        run_tests(pytest_env, ws, ["tests/test_c.py::test_c"])
    assert "conftest is broken" in caught.value.output


def test_a_report_without_the_requested_tests_leaves_them_missing(tmp_path, pytest_env):
    """A run whose requested tests were all dropped (a conftest clears the items) is 'missing', not 'nothing failed'."""
    ws = workspace(tmp_path, {
        "tests/conftest.py": (
            "def pytest_collection_modifyitems(items):\n    items.clear()\n"
            "def pytest_sessionfinish(session):\n    session.exitstatus = 1\n"
        ),
        "tests/test_c.py": "def test_c(): pass\n",
    })
    run = run_tests(pytest_env, ws, ["tests/test_c.py::test_c"])
    assert outcomes(run) == {"tests/test_c.py::test_c": "missing"} and not run.tampered


def test_internal_error_is_an_error(tmp_path, pytest_env):
    """A pytest internal error (its report holds only the pseudo-test 'internal') is a TestRunError."""
    ws = workspace(tmp_path, {
        "tests/conftest.py": "def pytest_collection_modifyitems(items):\n    raise SystemExit(3)\n",
        "tests/test_c.py": "def test_c(): pass\n",
    })
    with pytest.raises(TestRunError) as caught:
        run_tests(pytest_env, ws, ["tests/test_c.py::test_c"])
    assert "internal error" in str(caught.value)


def _old_python() -> str | None:
    """A Python 3.7 interpreter (pytest 4.6 does not run on 3.10+), if this machine has one."""
    homes = {os.environ.get("PYENV_ROOT", ""), os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".pyenv")}
    for home in filter(None, homes):
        for candidate in sorted(Path(home).glob("versions/3.7*/bin/python3.7")):
            return str(candidate)
    return shutil.which("python3.7")


@pytest.mark.slow
def test_plugin_works_with_pytest_4_6(tmp_path, session_cache):
    """The plugin uses only the pytest >= 4.6 hook API: selection order and exact ids hold there."""
    python = _old_python()
    if python is None:
        pytest.skip("no Python 3.7 interpreter on this machine")
    env = build_env(session_cache / "runner-venv-pytest46", python, "pytest==4.6.11")
    ws = workspace(tmp_path, {"tests/test_old.py": (
        "import pytest\n"
        "@pytest.mark.parametrize('v', ['a/b::c', 'x y'])\n"
        "def test_f(v): open('log', 'a').write(v + '\\n')\n"
        "def test_g(): import nope\n"
    )})
    ids = ["tests/test_old.py::test_g", "tests/test_old.py::test_f[x y]", "tests/test_old.py::test_f[a/b::c]"]
    run = run_tests(env, ws, ids)
    assert outcomes(run) == {ids[0]: "failed", ids[1]: "passed", ids[2]: "passed"}, run.output
    assert run.results[ids[0]].exception == "ModuleNotFoundError"
    assert (ws / "log").read_text().splitlines() == ["x y", "a/b::c"]


HONEST_SHAPES = {
    "tests/helpers.py": (
        "import functools\n"
        "def logged(fn):\n"
        "    @functools.wraps(fn)\n"
        "    def wrapper(*a, **k):\n"
        "        return fn(*a, **k)\n"
        "    return wrapper\n"
    ),
    "tests/conftest.py": (
        "import pytest\n"
        "@pytest.fixture\n"
        "def resource():\n"
        "    yield 3\n"
        "def pytest_collection_modifyitems(items):\n"
        "    items.sort(key=lambda item: item.name)\n"
        "@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n"
        "    yield\n"
    ),
    "tests/test_shapes.py": (
        "import unittest\n"
        "from unittest import mock\n"
        "import pytest\n"
        "from tests.helpers import logged\n"
        "def test_plain():\n    assert 1 + 1 == 2\n"
        "@pytest.mark.parametrize('x', [1, 2, float('nan')])\n"
        "def test_param(x):\n    assert x == x or x != x\n"
        "class TestGroup:\n"
        "    def test_method(self, resource):\n        assert resource == 3\n"
        "class Case(unittest.TestCase):\n"
        "    def test_unittest(self):\n        self.assertEqual(2, 2)\n"
        "@mock.patch('os.getcwd', return_value='/x')\n"
        "def test_mocked(getcwd):\n    import os\n    assert os.getcwd() == '/x'\n"
        "@logged\n"
        "def test_decorated():\n    assert True\n"
        "def _make(n):\n"
        "    def test_generated():\n        assert n == 5\n"
        "    return test_generated\n"
        "test_generated = _make(5)\n"
        "@pytest.mark.xfail(strict=True)\n"
        "def test_expected_failure():\n    assert False\n"
        "async def _coro():\n    return 1\n"
        "def test_uses_async():\n    import asyncio\n    assert asyncio.run(_coro()) == 1\n"
    ),
    "tests/test_plain_asserts.py": '"""PYTEST_DONT_REWRITE"""\ndef test_not_rewritten():\n    assert [1] == [1]\n',
    "tests/__init__.py": "",
}


def test_honest_suites_of_every_shape_are_never_tampered(tmp_path, pytest_env):
    """Decorated, parametrized, generated, class, unittest, mock-patched, not-rewritten tests, a
    conftest with hooks and fixtures: an honest run's witnesses agree, whatever the tests look like."""
    ws = workspace(tmp_path, HONEST_SHAPES)
    run = run_tests(pytest_env, ws, ["tests/test_shapes.py", "tests/test_plain_asserts.py"])
    assert run.tampered == (), run.tampered
    outcomes_seen = {nodeid.split("::")[-1]: r.outcome.value for nodeid, r in run.results.items()}
    assert outcomes_seen.pop("test_expected_failure") == "skipped"
    assert set(outcomes_seen.values()) == {"passed"}, outcomes_seen
    assert len(outcomes_seen) == 11


def test_a_project_that_turns_warnings_into_errors_still_starts(tmp_path, pytest_env):
    """``filterwarnings = error`` in the project's config: our plugin (imported before pytest parses
    ``-p``) must not make pytest warn that it cannot rewrite it."""
    ws = workspace(tmp_path, {"pytest.ini": "[pytest]\nfilterwarnings =\n    error\n",
                              "tests/test_w.py": "def test_w():\n    assert True\n"})
    run = run_tests(pytest_env, ws, ["tests/test_w.py::test_w"])
    assert outcomes(run) == {"tests/test_w.py::test_w": "passed"}, run.output


OLD_PYTEST_PINS = (  # pytest 3.10 (late 2018) as an old commit's environment pins it; runs on 3.11
    "pytest==3.10.0", "py==1.11.0", "pluggy==0.8.0", "attrs==18.2.0", "six==1.11.0", "more-itertools==4.3.0",
    "atomicwrites==1.2.1", "setuptools==65.5.0",
)


@pytest.mark.slow
def test_an_honest_run_on_pytest_3_10_is_not_tampered(tmp_path):
    """pytest 3.10's stepwise plugin writes to the cache at session end; with the cache off it died
    there, before our closing record, and every honest run read as tampered (a cachetools fix
    mined on Python 3.7 could never resolve). Its results stand now."""
    from conftest import write_minimal_project
    from taskset.env import pythons
    from taskset.env.environment import ensure_environment

    source = write_minimal_project(tmp_path / "proj", name="old_pytest_proj")
    env = ensure_environment(source, spec=EnvironmentSpec(python=pythons.interpreter().version,
                                                          requirements=OLD_PYTEST_PINS, pytest="pytest==3.10.0"))
    (source / "tests").mkdir()
    # pytest 3.10 cannot rewrite asserts on 3.11's ast: the module opts out, as old projects ran
    (source / "tests" / "test_x.py").write_text(
        '"""PYTEST_DONT_REWRITE"""\n\ndef test_ok():\n    assert 1\n\ndef test_bad():\n    assert 0\n')
    run = run_tests(env, source, ["tests/test_x.py::test_ok", "tests/test_x.py::test_bad"])
    assert run.tampered == (), run.output[-2000:]
    assert "pytest-3.10.0" in run.output
    assert {t: r.outcome for t, r in run.results.items()} == {
        "tests/test_x.py::test_ok": Outcome.PASSED, "tests/test_x.py::test_bad": Outcome.FAILED}
