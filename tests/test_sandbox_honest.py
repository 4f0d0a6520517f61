"""A sandbox honest tests can live in: the machine's programs, terminal, locale and every user's /etc
files are there, read-only, and a task records the programs its tests ran; its secrets are not.

The fix below is mined from a repository built with plain git. Beside the fixed test, its module
holds tests that pass in a plain venv and lean on the machine the way real suites do: ``git``
committing in a repository they make (under the run's empty HOME that once stopped with "Author
identity unknown"), ``sh -c``, ``/etc/passwd`` through ``pwd``/``~``, a terminal that is not there
(``shutil.get_terminal_size``'s fallback, ``stty`` failing cleanly), the locale, ``/var/tmp``.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from miner import MineConfig, ValidateConfig, mine, read_rejections
from taskset import TaskSet
from taskset.env import probe as envprobe
from taskset.evaluation import sandbox
from taskset.evaluation.runner import environment_paths, run_tests
from taskset.evaluation.sandbox import SandboxKind
from taskset.record import Task

PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "calc"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["calc"]\n')

MACHINE_TESTS = '''
import locale
import os
import pwd
import shutil
import subprocess
import tempfile

import calc


def run(*command, **options):
    return subprocess.run(command, capture_output=True, text=True, **options)


def test_git_commits_in_a_repository_it_makes(tmp_path):
    assert run("git", "init", "-q", str(tmp_path)).returncode == 0
    (tmp_path / "f.txt").write_text("x")
    assert run("git", "add", "f.txt", cwd=tmp_path).returncode == 0
    done = run("git", "commit", "-q", "-m", "first", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert run("git", "log", "--format=%s", cwd=tmp_path).stdout == "first\\n"


def test_a_shell_command():
    assert run("sh", "-c", "echo $((6 * 7))").stdout == "42\\n"


def test_the_user_database():
    entry = pwd.getpwuid(os.getuid())
    assert entry.pw_name and os.path.expanduser("~") == os.environ["HOME"]


def test_no_terminal():
    assert shutil.get_terminal_size((81, 25)) == os.terminal_size((81, 25))
    assert shutil.which("stty") and run("stty", "size").returncode != 0  # no terminal: an error, not a crash


def test_the_locale():
    assert locale.setlocale(locale.LC_ALL, "")
    assert locale.getpreferredencoding(False).upper().replace("-", "") == "UTF8"


def test_var_tmp():
    with tempfile.NamedTemporaryFile(dir="/var/tmp") as handle:
        handle.write(b"x")
'''

MACHINE = ("test_git_commits_in_a_repository_it_makes", "test_a_shell_command", "test_the_user_database",
           "test_no_terminal", "test_the_locale", "test_var_tmp")


@pytest.fixture(scope="module")
def honest_repo(tmp_path_factory):
    """A fix of ``double`` whose test module also uses the machine."""
    from conftest import GitRepo

    repo = GitRepo(tmp_path_factory.mktemp("machine") / "repo")
    repo.commit("Initial", {"pyproject.toml": PYPROJECT, "calc.py": "def double(x):\n    return x + x + 1\n",
                            "tests/test_calc.py": MACHINE_TESTS})
    fix = repo.commit("Fix double", {
        "calc.py": "def double(x):\n    return x + x\n",
        "tests/test_calc.py": MACHINE_TESTS + "\n\ndef test_double():\n    assert calc.double(2) == 4\n",
    })
    return repo, fix


@pytest.fixture(scope="module")
def honest_task(honest_repo, tmp_path_factory, session_cache) -> Task:
    repo, fix = honest_repo
    out = tmp_path_factory.mktemp("machine-out") / "ts"
    summary = mine(MineConfig(repo=str(repo.path), out=out, validate=ValidateConfig()))  # caches: hermetic_session
    assert not summary.infrastructure, summary.infrastructure
    tasks = {task.fix_commit: task for task in TaskSet.open(out)}
    rejections = {r.fix_commit: r for r in read_rejections(out / "rejections.jsonl")}
    assert fix in tasks, rejections.get(fix)
    return tasks[fix]


def test_tests_that_use_the_machine_pass_inside_as_in_a_plain_venv(honest_repo, honest_task, tmp_path):
    """The fixed test fails before the fix and passes after it, inside the sandbox; every test that
    uses the machine passes there as it does in a plain venv (ours, unconfined), so none is lost."""
    repo, fix = honest_repo
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(plain)], check=True)
    subprocess.run(["git", "checkout", "-q", fix], cwd=plain, check=True)
    # a developer's shell: a UTF-8 locale, no terminal size forced
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(PYTHONPATH=str(plain), LC_ALL="C.UTF-8")
    outside = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_calc.py"],
                             cwd=plain, capture_output=True, text=True, env=env)
    assert outside.returncode == 0, outside.stdout
    assert honest_task.FAIL_TO_PASS == ("tests/test_calc.py::test_double",)
    assert set(honest_task.PASS_TO_PASS) == {f"tests/test_calc.py::{name}" for name in MACHINE}, honest_task.meta
    assert not honest_task.meta.failing_both


def test_the_task_records_the_programs_its_tests_ran(honest_task):
    """The machine's programs the tests started, by name, are on the task (not the environment's
    python, not pytest); the field is optional, so a task file without it still loads."""
    assert {"git", "sh", "stty"} <= set(honest_task.meta.programs), honest_task.meta.programs
    assert not any(name.startswith(("python", "pytest")) for name in honest_task.meta.programs)
    data = honest_task.to_dict()
    assert data["meta"]["programs"] == list(honest_task.meta.programs)
    del data["meta"]["programs"]
    assert Task.from_dict(data).meta.programs == ()


KINDS = [k for k in (SandboxKind.BWRAP, SandboxKind.UNSHARE) if sandbox._works(k)]

SECRETS = '''
import os


def unreadable(path):
    try:
        if os.path.isdir(path):
            return os.listdir(path) == []
        with open(path, "rb") as handle:
            return handle.read() == b""
    except OSError:
        return True


def test_secrets_stay_out():
    assert os.path.exists("/usr/bin/git") or os.path.exists("/bin/git")  # the machine's programs are there
    assert unreadable("/etc/shadow")
    assert unreadable("/etc/gshadow")
    for path in {home_entries!r}:  # the caller's own HOME and /root, less the way to the interpreter
        assert not os.path.lexists(path), path
    assert not os.path.exists({home!r})
    assert not os.path.exists({cache_file!r})
    assert not os.path.exists({var_tmp_file!r})
    open("/var/tmp/{marker}", "w").write("x")  # the run's own /var/tmp: never the machine's
'''


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_the_machine_is_shown_but_not_its_secrets(kind, tmp_path, python_project_env, monkeypatch):
    """With the machine's programs and /etc in view: /etc/shadow, /root, the caller's HOME, the rest
    of the cache (beside the environment the run uses) and the machine's /var/tmp stay out of reach,
    and what the tests write in /var/tmp never reaches the machine."""
    monkeypatch.setenv(sandbox.CHOICE_ENV, kind.value)
    cache_file = Path(os.environ["LOOPCTL_CACHE"]) / "envs" / "loopctl-secret.txt"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text("secret")
    marker = f"loopctl-sandbox-test-{os.getpid()}-{kind.value}"
    host_file = Path("/var/tmp", marker + "-host")
    host_file.write_text("the machine's")
    ws = tmp_path / "ws"
    (ws / "tests").mkdir(parents=True)
    (ws / "tests" / "test_secrets.py").write_text(SECRETS.format(
        home_entries=_host_home_entries(python_project_env), home=os.environ["HOME"], cache_file=str(cache_file),
        var_tmp_file=str(host_file), marker=marker))
    try:
        run = run_tests(python_project_env, ws, ["tests/test_secrets.py::test_secrets_stay_out"])
        assert run.sandbox == kind.value
        assert run.results["tests/test_secrets.py::test_secrets_stay_out"].outcome.value == "passed", run.output
        assert not Path("/var/tmp", marker).exists()
    finally:
        cache_file.unlink()
        host_file.unlink()
        Path("/var/tmp", marker).unlink(missing_ok=True)


def _host_home_entries(env) -> list[str]:
    """What the caller's real HOME and /root hold, less the folders on the way to what the sandbox
    must show (the interpreter may live under HOME: pyenv, uv)."""
    shown = environment_paths(env, envprobe.probe(env.python))
    found = []
    for home in dict.fromkeys((pwd.getpwuid(os.getuid()).pw_dir, "/root")):
        try:
            entries = sorted(Path(home).iterdir())
        except OSError:
            continue
        found += [str(p) for p in entries if not any(p == s or p in s.parents for s in shown)]
    assert found or os.getuid() != 0, "root's HOME should hold something to hide"
    return found[:50]
