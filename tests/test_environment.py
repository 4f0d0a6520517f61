"""Environments: real uv venvs from the package index, cached by fingerprint (see docs/environments.md).

Builds are expensive, so every test shares the session cache and reuses what others built.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT_ENV_DATE, write_minimal_project
from taskset.env import pythons
from taskset.env.environment import MARKER, ensure_environment, environment_for, fingerprint, make_plan
from taskset.errors import EnvironmentBuildError
from taskset.files.cache import cache_dir
from taskset.record import EnvironmentSpec, Task

pytestmark = pytest.mark.slow

TEST_EXTRA = 'test = ["iniconfig"]'


def run_python(env, code: str, cwd: Path | None = None) -> str:
    """Run ``code`` with the environment's interpreter (in ``cwd``: its folder is importable); return its stdout."""
    done = subprocess.run([str(env.python), "-c", code], capture_output=True, check=True, cwd=cwd)
    return done.stdout.decode("utf-8", errors="replace").strip()


def installed_copies(env, name: str) -> list[str]:
    """Entries of the environment's site-packages named after ``name`` (the project must have none),
    but its metadata: a dist-info holding no file of code (a project may read its own version)."""
    found = []
    for site in env.path.glob("lib/python*/site-packages"):
        for p in site.iterdir():
            if name not in p.name.lower():
                continue
            if p.name.endswith(".dist-info") and {f.name for f in p.iterdir()} <= METADATA_ONLY:
                continue
            found.append(p.name)
    return found


METADATA_ONLY = {"INSTALLER", "METADATA", "RECORD", "entry_points.txt", "top_level.txt"}


def pins(env) -> dict[str, str]:
    """name -> version from the frozen requirements."""
    return dict(line.lower().split("==", 1) for line in env.spec.requirements)


@pytest.fixture(scope="module")
def extra_project(tmp_path_factory) -> Path:
    """A flat project whose ``test`` extra needs iniconfig."""
    return write_minimal_project(tmp_path_factory.mktemp("extra") / "proj", name="extraproj", extras=TEST_EXTRA)


def test_test_extra_and_pytest_are_installed_and_frozen(extra_project):
    """The project's test extra and pytest are installed; what resolved is frozen into the spec."""
    env = ensure_environment(extra_project, resolution_date=PROJECT_ENV_DATE)
    assert run_python(env, "import iniconfig, pytest, extraproj; print(extraproj.VALUE)", cwd=extra_project) == "1"
    assert installed_copies(env, "extraproj") == [], "the environment holds dependencies, never the project"
    assert run_python(env, "import importlib.util; print(importlib.util.find_spec('extraproj'))") == "None"
    assert env.spec.install[0] == ".[test]"
    assert env.spec.pytest.startswith("pytest") and ">=7.2" in env.spec.pytest
    assert {"iniconfig", "pytest"} <= set(pins(env))
    assert not any("extraproj" in line for line in env.spec.requirements), "the project itself is not a pin"
    assert env.spec.python == ".".join(map(str, sys.version_info[:3]))
    assert env.spec.pythonpath == (".",)
    assert env.spec.remedy == "normal"
    assert (env.path / MARKER).is_file() and env.build_log.is_file()


def test_warm_cache_runs_no_subprocess(extra_project, monkeypatch):
    """A warm ensure_environment only hashes files: no uv, no subprocess, the build log untouched
    (the environment was verified once in this process; unchanged, it is not asked again)."""
    first = ensure_environment(extra_project, resolution_date=PROJECT_ENV_DATE)
    log_mtime = first.build_log.stat().st_mtime_ns

    def forbidden(*args, **kwargs):
        raise AssertionError(f"subprocess started on a warm cache: {args}")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    again = ensure_environment(extra_project, resolution_date=PROJECT_ENV_DATE)
    assert again == first
    assert first.build_log.stat().st_mtime_ns == log_mtime


def test_src_layout_gets_src_on_pythonpath(extra_project, tmp_path):
    """A tree with src/<package> gets pythonpath ("src", "."); same deps files reuse the same env."""
    src_tree = tmp_path / "srcproj"
    src_tree.mkdir()
    (src_tree / "pyproject.toml").write_bytes((extra_project / "pyproject.toml").read_bytes())
    (src_tree / "src" / "extraproj").mkdir(parents=True)
    (src_tree / "src" / "extraproj" / "__init__.py").write_text("VALUE = 2\n")
    flat = ensure_environment(extra_project, resolution_date=PROJECT_ENV_DATE)
    src = ensure_environment(src_tree, resolution_date=PROJECT_ENV_DATE)
    assert src.spec.pythonpath == ("src", ".")
    assert flat.spec.pythonpath == (".",)
    assert src.path == flat.path


def test_exclude_newer_is_the_later_of_fix_date_and_interpreter(python_project_env, tmp_path):
    """An old resolution date gives older packages, but never older than the interpreter (and its pytest floor)."""
    source = write_minimal_project(tmp_path / "proj")  # same files as the session env's project
    old = ensure_environment(source, resolution_date="2019-05-01")
    assert old.spec.exclude_newer == pythons.effective_date("2019-05-01", old.spec.python)
    assert old.spec.exclude_newer >= pythons.RELEASE_DATES["3.11"]
    old_pytest, new_pytest = pins(old)["pytest"], pins(python_project_env)["pytest"]
    assert old_pytest.split(".")[:2] == ["7", "2"], "pytest as of late 2022"
    assert int(new_pytest.split(".")[0]) >= 8, "pytest as of mid 2025"
    assert old.path != python_project_env.path


def test_missing_dependency_fails_with_installer_output(tmp_path):
    """A dependency that does not exist is a resolution failure: EnvironmentBuildError at once, with uv's words."""
    source = write_minimal_project(tmp_path / "proj", name="brokenproj",
                                   extras='test = ["loopctl-no-such-package-xyz"]')
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_environment(source, resolution_date=PROJECT_ENV_DATE)
    assert "loopctl-no-such-package-xyz" in caught.value.output
    assert caught.value.step == "normal", "a resolution failure does not climb the ladder"
    assert len(caught.value.output.splitlines()) <= 61
    leftovers = [p.name for p in (cache_dir() / "envs").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_env_dir_without_marker_is_rebuilt(tmp_path):
    """A half-built env dir (no marker) is never used: it is replaced by a complete build."""
    source = write_minimal_project(tmp_path / "proj", name="halfbuilt")
    interp = pythons.interpreter()
    plan, rung = make_plan(source, interp, PROJECT_ENV_DATE, None)
    half = cache_dir() / "envs" / fingerprint(source, interp, plan, rung)
    (half / "bin").mkdir(parents=True)
    (half / "junk").write_text("left by a killed build")
    env = ensure_environment(source, resolution_date=PROJECT_ENV_DATE)
    assert env.path == half
    assert (half / MARKER).is_file() and not (half / "junk").exists()
    assert run_python(env, "import pytest; print('ok')") == "ok"


BUILD_SCRIPT = """
import sys
from taskset.env.environment import ensure_environment
env = ensure_environment(sys.argv[1], resolution_date=sys.argv[2])
print(env.path)
"""


def test_two_processes_building_at_once_share_one_env(tmp_path):
    """Two processes building the same environment at once both succeed with the same, complete env."""
    source = write_minimal_project(tmp_path / "proj", name="racedproj")
    command = [sys.executable, "-c", BUILD_SCRIPT, str(source), PROJECT_ENV_DATE]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
             for _ in range(2)]
    results = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode(errors="replace")
    paths = {out.decode().strip() for out, _ in results}
    assert len(paths) == 1
    env_dir = Path(paths.pop())
    assert json.loads((env_dir / MARKER).read_text())["fingerprint"] == env_dir.name
    assert env_dir.joinpath("loopctl-build.log").read_text().count("uv pip install") == 1, "built once"


def test_frozen_spec_is_reproduced_pin_for_pin(extra_project):
    """A task's recorded requirements are installed exactly, not re-resolved."""
    built = ensure_environment(extra_project, resolution_date=PROJECT_ENV_DATE)
    task = Task(instance_id="x__y-000000000000", repo="x/y", repo_url="", base_commit="a", fix_commit="b",
                created_at=PROJECT_ENV_DATE, patch="", test_patch="", problem_statement="",
                FAIL_TO_PASS=(), PASS_TO_PASS=(), environment=built.spec)
    again = environment_for(task, extra_project)
    assert again.spec.requirements == built.spec.requirements
    assert again.path != built.path, "frozen builds have their own fingerprint"
    assert run_python(again, "import pytest; print(pytest.__version__)") == pins(built)["pytest"]


def test_frozen_pin_that_does_not_exist_fails_cleanly(extra_project):
    """Reproducing a spec whose pin no longer resolves raises EnvironmentBuildError, not a traceback."""
    spec = EnvironmentSpec(python=pythons.interpreter().version, requirements=("pytest==0.0.1",))
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_environment(extra_project, spec=spec)
    assert "pytest" in caught.value.output


LEGACY_SETUP = """
from setuptools import setup
setup(name="legacyproj", version="0.1", py_modules=["legacyproj"], use_2to3=True)
"""


def test_ladder_climbs_to_no_build_isolation_and_reproduces(tmp_path):
    """A build failure climbs the ladder: a setup.py using use_2to3 builds with era setuptools, and is reproducible."""
    source = tmp_path / "legacy"
    source.mkdir()
    (source / "setup.py").write_text(LEGACY_SETUP)
    (source / "legacyproj.py").write_text("VALUE = 3\n")
    env = ensure_environment(source, resolution_date=PROJECT_ENV_DATE)
    assert env.spec.remedy == "no-build-isolation"
    assert pins(env)["setuptools"].split(".")[0] == "57"
    assert "use_2to3 is invalid" in env.build_log.read_text(), "the normal rung's failure is kept in the log"
    assert run_python(env, "import legacyproj, pytest; print(legacyproj.VALUE)", cwd=source) == "3"
    assert installed_copies(env, "legacyproj") == []
    again = ensure_environment(source, spec=env.spec)
    assert again.spec.remedy == "no-build-isolation" and again.spec.requirements == env.spec.requirements
    assert installed_copies(again, "legacyproj") == [], "reproduced from frozen pins: the project is taken out too"


def test_build_timeout_kills_and_cleans_up(tmp_path):
    """A build past its timeout raises EnvironmentBuildError and leaves no half-built env behind."""
    source = write_minimal_project(tmp_path / "proj", name="slowproj")
    with pytest.raises(EnvironmentBuildError, match="timed out"):
        ensure_environment(source, resolution_date=PROJECT_ENV_DATE, timeout=0.05)
    interp = pythons.interpreter()
    plan, rung = make_plan(source, interp, PROJECT_ENV_DATE, None)
    key = fingerprint(source, interp, plan, rung)
    assert not (cache_dir() / "envs" / key).exists()
    assert not [p for p in (cache_dir() / "envs").iterdir() if p.name.startswith(f".{key}")]
    assert not (cache_dir() / "envs" / f"{key}.failed.json").exists(), "a timeout is the machine's: not remembered"


def test_a_build_that_failed_on_its_merits_is_remembered_not_retried(tmp_path):
    """Every rung failed for a fingerprint (here an unsatisfiable pin): the next request for the
    same fingerprint fails at once with the same output instead of paying for the build again;
    deleting the record it names builds again."""
    source = write_minimal_project(tmp_path / "proj", name="neverbuilds")
    spec = EnvironmentSpec(python=pythons.interpreter().version, requirements=("pytest==0.0.1",))
    with pytest.raises(EnvironmentBuildError) as first:
        ensure_environment(source, spec=spec)
    interp = pythons.interpreter()
    key = fingerprint(source, interp, *make_plan(source, interp, None, spec))
    log = cache_dir() / "envs" / f"{key}.failed.log"
    built = log.stat().st_mtime_ns

    with pytest.raises(EnvironmentBuildError) as again:
        ensure_environment(source, spec=spec)
    record = cache_dir() / "envs" / f"{key}.failed.json"
    assert again.value.remembered == record and first.value.remembered is None
    # the same words as the first time: a rejection or verdict reads the same however often it is met
    assert (str(again.value), again.value.output, again.value.step) == (
        str(first.value), first.value.output, first.value.step)
    assert log.stat().st_mtime_ns == built, "the installer ran again"

    record.unlink()
    with pytest.raises(EnvironmentBuildError) as retried:
        ensure_environment(source, spec=spec)
    assert retried.value.remembered is None
    assert log.stat().st_mtime_ns != built


def test_missing_source_tree_is_an_error(tmp_path):
    """A source tree that does not exist is an EnvironmentBuildError, not an env of pytest alone."""
    with pytest.raises(EnvironmentBuildError, match="no such source tree"):
        ensure_environment(tmp_path / "absent")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_build_leaves_no_installer_running(tmp_path, signum):
    """uv runs in its own session, out of reach of Ctrl-C: when the build is interrupted, the
    installer is killed with it instead of building on into the cache after we are gone."""
    pidfile = tmp_path / "installer.pid"
    code = (
        "import signal, sys, time\nfrom pathlib import Path\nfrom taskset.env.install import Installer\n"
        "signal.signal(signal.SIGTERM, signal.default_int_handler)  # as the CLI does\n"
        f"build = Installer(Path(sys.executable), Path({str(tmp_path / 'venv')!r}), Path({str(tmp_path / 'log')!r}),"
        " time.monotonic() + 600)\n"
        f"build.run(['sh', '-c', 'echo $$ > {pidfile}; exec sleep 300'], 'step', tool=False)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          stderr=subprocess.PIPE, text=True) as child:
        deadline = time.monotonic() + 120
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
            time.sleep(0.05)
        installer = int(pidfile.read_text())
        child.send_signal(signum)
        assert child.wait(timeout=120) != 0
        assert "KeyboardInterrupt" in child.stderr.read()
    assert not Path(f"/proc/{installer}").exists(), "the installer outlived the interrupted build"


def test_a_build_against_c_api_the_interpreter_removed_does_not_climb_the_ladder(tmp_path):
    """A compile error only another interpreter can fix (``longintrepr.h`` is gone since 3.11) fails
    at the first rung: the other rungs would rebuild the same extension the same way, minutes each."""
    source = tmp_path / "proj"
    source.mkdir()
    (source / "setup.py").write_text(
        "import sys\nsys.stderr.write('ext.c:212:12: fatal error: longintrepr.h: No such file or directory\\n')\n"
        "sys.exit(1)\n")
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_environment(source, resolution_date=PROJECT_ENV_DATE)
    assert "longintrepr.h" in caught.value.output
    assert caught.value.step.split(":")[0] == "normal", caught.value.step


def test_an_environment_is_built_with_bytecode(python_project_env):
    """Runs cannot write to the environment, so its modules are compiled once when it is built:
    pytest's own modules load from bytecode, and the environment still verifies as undamaged."""
    from taskset.env import check as envcheck

    env = python_project_env
    found = run_python(env, "import pytest, _pytest.main, importlib.util; "
                            "print(importlib.util.cache_from_source(_pytest.main.__file__))")
    assert Path(found).is_file(), found
    marker = json.loads((env.path / MARKER).read_text())
    assert envcheck.damage(env.path, marker["manifest"], env.spec.requirements) == ""
