"""Resolution that degrades instead of failing, on real environments from the package index
(taskset.env.pins, taskset.env.relax): each project below declares requirements whose date-pinned
resolution has no solution, and still gets an environment that records what was relaxed."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import write_minimal_project
from factories import make_task
from miner import MineConfig, ValidateConfig, mine, read_rejections
from taskset import TaskSet
from taskset.env.environment import ensure_environment, environment_for
from taskset.errors import EnvironmentBuildError
from taskset.files.cache import cache_dir

pytestmark = pytest.mark.slow

DATE = "2024-03-01"
"""The resolution date: iniconfig 2.1 (2025-03) is after it, packaging 20.6 was yanked before it."""

DEV_RANGE = '\n[tool.poetry.dev-dependencies]\npackaging = ">=20.6,<20.7"\n'
"""A dev range whose only release has been yanked: unsolvable by range, installable by its exact pin."""


def frozen(env, name: str) -> str:
    return next(line for line in env.spec.requirements if line.lower().startswith(name + "=="))


@pytest.fixture(scope="module")
def conflicting(tmp_path_factory):
    """A project with two pin files disagreeing on six and a requirement only a later release meets,
    and its environment (built once for the module)."""
    root = write_minimal_project(tmp_path_factory.mktemp("conflicting") / "project")
    (root / "requirements-dev.txt").write_text("six==1.15.0\n")
    (root / "requirements").mkdir()
    (root / "requirements" / "test.txt").write_text("six==1.16.0\niniconfig>=2.1\n")
    return root, ensure_environment(root, resolution_date=DATE)  # caches: hermetic_session


def test_conflicting_pin_files_and_a_late_release_still_build_and_say_what_was_relaxed(conflicting):
    """Two files pinning six differently are reconciled to the newer pin; iniconfig>=2.1, released
    after the resolution date, gets its own later cutoff: the environment builds and records both."""
    _, env = conflicting
    assert frozen(env, "six") == "six==1.16.0"
    assert frozen(env, "iniconfig") >= "iniconfig==2.1"
    assert env.spec.relaxed[0].startswith("six: reconciled six==1.15.0 and six==1.16.0")
    assert env.spec.relaxed[1].startswith("iniconfig: resolved as of ")
    assert "iniconfig>=2.1" in env.spec.install and "six==1.15.0" not in env.spec.install


def test_a_task_rebuilt_from_its_record_gets_the_relaxed_environment_again(conflicting):
    """The record alone reproduces the environment: its frozen pins install as they are, with
    the relaxations still on the rebuilt spec (a new build: the pins make a key of their own)."""
    root, env = conflicting
    task = make_task(environment=env.spec, created_at=DATE)
    again = environment_for(task, root)
    assert again.fingerprint != env.fingerprint  # built from the pins, not found by the first build's key
    assert again.spec.requirements == env.spec.requirements
    assert again.spec.relaxed == env.spec.relaxed


def test_a_dev_group_is_installed_at_the_lock_files_pin(tmp_path):
    """A poetry dev range whose only release was yanked has no solution; poetry.lock's exact pin
    installs it as the developers had it, and nothing is relaxed. Without the lock the range's
    upper bound is what gets relaxed, and the record says so."""
    locked = write_minimal_project(tmp_path / "locked")
    with open(locked / "pyproject.toml", "a") as handle:
        handle.write(DEV_RANGE)
    (locked / "poetry.lock").write_text('[[package]]\nname = "packaging"\nversion = "20.6"\n')
    env = ensure_environment(locked, resolution_date=DATE)
    assert frozen(env, "packaging") == "packaging==20.6"
    assert env.spec.relaxed == ()
    assert "packaging==20.6" in env.spec.install
    (locked / "poetry.lock").unlink()
    ranged = ensure_environment(locked, resolution_date=DATE)
    assert frozen(ranged, "packaging") != "packaging==20.6"
    assert "packaging: upper bound dropped (packaging>=20.6,<20.7 -> packaging>=20.6)" in ranged.spec.relaxed


def test_what_nothing_can_relax_is_tried_with_pips_resolver_then_fails_with_uvs_reason(tmp_path):
    """A requirement no index holds at any version: each relaxation fails, pip's resolver is
    tried last, and the failure reported is uv's explanation (it says more than pip's)."""
    root = write_minimal_project(tmp_path / "missing")
    (root / "requirements-dev.txt").write_text("loopctl-no-such-distribution-e7c1>=1\n")
    with pytest.raises(EnvironmentBuildError) as caught:
        ensure_environment(root, resolution_date=DATE)
    assert "loopctl-no-such-distribution-e7c1" in caught.value.output
    logs = [path.read_text() for path in (cache_dir() / "envs").glob("*.failed.log")]
    log = next(text for text in logs if "loopctl-no-such-distribution-e7c1" in text)  # the session's cache
    assert "-m pip install" in log


PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "cfgcalc"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["cfgcalc"]\n')


def test_a_fix_whose_tests_need_a_release_after_the_date_becomes_a_task(make_repo, tmp_path):
    """The tests need iniconfig>=2.1, released a year after the fix: the date-pinned resolution has
    no solution, the package's own later cutoff has one, and ``mine`` makes a task that records it."""
    repo = make_repo()
    test = ("import iniconfig\nimport cfgcalc\n\ndef test_port():\n"
            "    assert cfgcalc.port(iniconfig.IniConfig('x', data='[net]\\nport = 80\\n')) == 80\n")
    repo.commit("Initial", {"pyproject.toml": PYPROJECT, "requirements-dev.txt": "iniconfig>=2.1\n",
                            "cfgcalc.py": "def port(cfg):\n    return cfg['net']['port']\n",
                            "tests/test_cfg.py": "import cfgcalc\n\ndef test_nothing():\n    assert cfgcalc\n"})
    fix = repo.commit("Fix port to be a number", {
        "cfgcalc.py": "def port(cfg):\n    return int(cfg['net']['port'])\n", "tests/test_cfg.py": test})
    out = tmp_path / "ts"
    summary = mine(MineConfig(repo=str(repo.path), out=out, validate=ValidateConfig()))
    assert not summary.infrastructure, summary.infrastructure
    rejections = {r.fix_commit: r for r in read_rejections(out / "rejections.jsonl")}
    tasks = {task.fix_commit: task for task in TaskSet.open(out, create=True)}
    assert fix in tasks, rejections.get(fix)
    task = tasks[fix]
    assert task.FAIL_TO_PASS == ("tests/test_cfg.py::test_port",)
    assert [note.split(":")[0] for note in task.environment.relaxed] == ["iniconfig"]
    assert "relaxed:iniconfig" in task.meta.remedies
    assert dataclasses.asdict(task.environment)["relaxed"][0].startswith("iniconfig: resolved as of ")


def test_a_dated_dev_tool_pin_that_does_not_build_here_is_relaxed_not_fatal(tmp_path):
    """``typed-ast==1.4.0`` (a 2019 dev-tool pin) does not compile on this interpreter: its pin is
    relaxed to a release with a wheel, the environment builds, and the record says how."""
    root = write_minimal_project(tmp_path / "dated")
    (root / "requirements-dev.txt").write_text("typed-ast==1.4.0\n")
    env = ensure_environment(root, resolution_date=DATE)
    assert frozen(env, "typed-ast") != "typed-ast==1.4.0"
    assert "typed-ast: upper bound dropped (typed-ast==1.4.0 -> typed-ast>=1.4.0)" in env.spec.relaxed
    assert env.spec.remedy == "normal"


def test_test_requirements_that_never_build_here_are_left_out_on_the_first_rung(tmp_path):
    """Five Python 2 only pins (their setup.py fails on 3, every release) cannot build whatever is
    relaxed: each is left out and recorded, and the environment builds on the first rung, instead
    of the same failed build being retried on every rung of the ladder (which climbs for the
    project's own build) until the build deadline. Each exact pin takes 3 steps, five take more
    than the budget (12): the last is left out once the steps are spent (pip's resolver, which the
    spent budget used to reach, fails on it too). The other test requirements install."""
    root = write_minimal_project(tmp_path / "unbuildable")
    python2 = ("mysql-python==1.2.5", "wsgiref==0.1.2", "pysqlite==2.8.3", "functools32==3.2.3.post2",
               "beautifulsoup==3.2.1")
    (root / "requirements-dev.txt").write_text("\n".join(python2) + "\nsix\n")
    env = ensure_environment(root, resolution_date=DATE)
    left_out = [note for note in env.spec.relaxed if note.endswith(": left out (its build fails here, relaxed or not)")]
    names = sorted(pin.split("==")[0] for pin in python2)
    assert sorted(note.split(":")[0] for note in left_out) == names
    assert env.spec.remedy == "normal"
    assert frozen(env, "six")
    assert not any(line.lower().startswith(tuple(names)) for line in env.spec.requirements)


def test_a_dated_pin_that_installs_but_breaks_pytest_here_is_relaxed(tmp_path):
    """``py==1.10.0`` (a 2021 pin-compiled test requirement) installs beside pytest 7.2 on 3.11 but
    ``import pytest`` then fails (``AttributeError: __spec__`` in py's apipkg): the pin named in the
    traceback is relaxed, the environment rebuilt from an empty venv, and pytest imports."""
    root = write_minimal_project(tmp_path / "pinned")
    (root / "requirements-dev.txt").write_text("py==1.10.0\n")
    env = ensure_environment(root, resolution_date="2021-05-01")
    assert frozen(env, "pytest").startswith("pytest==7.2")
    assert frozen(env, "py") != "py==1.10.0"
    assert env.spec.relaxed == ("py: upper bound dropped (py==1.10.0 -> py>=1.10.0)",)
