"""A damaged cached environment is found before use and rebuilt: the machine's fault is never a verdict."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import PROJECT_ENV_DATE, write_minimal_project
from taskset.env import check as envcheck
from taskset.env.environment import MARKER, ensure_environment
from taskset.evaluation.verdict import evaluate
from taskset.record import Task

pytestmark = pytest.mark.slow

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory, session_cache) -> tuple[Path, Path]:
    """(a project, a cache holding its environment), built once; tests damage copies of it."""
    project = write_minimal_project(tmp_path_factory.mktemp("envcheck") / "proj", name="envcheckproj")
    cache = tmp_path_factory.mktemp("envcheck-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPCTL_CACHE", str(cache))
        patch.setenv("UV_CACHE_DIR", str(session_cache / "uv"))
        ensure_environment(project, resolution_date=PROJECT_ENV_DATE)
    return project, cache


@pytest.fixture
def env_copy(built, tmp_path, monkeypatch):
    """A private copy of the built cache (this test's LOOPCTL_CACHE) and its environment."""
    project, cache = built
    mine = tmp_path / "cache"
    shutil.copytree(cache, mine, symlinks=True)
    monkeypatch.setenv("LOOPCTL_CACHE", str(mine))
    env = ensure_environment(project, resolution_date=PROJECT_ENV_DATE)
    assert str(env.path).startswith(str(mine))
    return project, env


def _site(env) -> Path:
    return next(env.path.glob("lib/python*/site-packages"))


def _empty(path: Path) -> None:
    path.unlink()
    path.write_bytes(b"")


def _to_false(path: Path) -> None:
    path.unlink()
    path.symlink_to("/bin/false")


def _drop_file(env) -> None:
    victim = next(p for p in sorted((_site(env) / "_pytest").glob("*.py")) if p.name != "__init__.py")
    victim.unlink()


def _add_pth(env) -> None:
    (_site(env) / "zz_poison.pth").write_text("import os\n")


DAMAGE = {
    "python-emptied": lambda env: _empty(env.python),
    "python-is-bin-false": lambda env: _to_false(env.python),
    "site-packages-file-missing": _drop_file,
    "pth-dropped-in": _add_pth,
    "pyvenv-cfg-missing": lambda env: (env.path / "pyvenv.cfg").unlink(),
}


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_every_kind_of_damage_is_noticed(env_copy, how):
    """An emptied or redirected interpreter, a missing file, a planted .pth, a missing pyvenv.cfg."""
    _, env = env_copy
    record = json.loads((env.path / MARKER).read_text())
    assert envcheck.damage(env.path, record["manifest"], env.spec.requirements) == ""
    DAMAGE[how](env)
    envcheck.forget(env.path)  # a new process would not remember having verified it
    assert envcheck.damage(env.path, record["manifest"], env.spec.requirements), how


def test_a_damaged_environment_is_rebuilt_whole_before_use(env_copy):
    """The next ensure_environment builds it again in place; the planted file is gone."""
    project, env = env_copy
    _add_pth(env)
    _drop_file(env)
    again = ensure_environment(project, resolution_date=PROJECT_ENV_DATE)
    assert again.path == env.path
    record = json.loads((again.path / MARKER).read_text())
    assert envcheck.damage(again.path, record["manifest"], again.spec.requirements) == ""
    assert not (_site(again) / "zz_poison.pth").exists()


def test_a_damaged_environment_never_turns_the_gold_patch_into_a_failure(make_repo, env_copy):
    """The task's own environment, damaged between two evaluations: the gold patch still resolves."""
    repo = make_repo("calc")
    write_minimal_project(repo.path, name="envcheckproj")
    base = repo.commit("bug", {"calc.py": BUGGY, "tests/test_calc.py": "def test_nothing():\n    pass\n"})
    fix = repo.commit("fix", {"calc.py": FIXED, "tests/test_calc.py": TESTS})

    def diff(*paths):
        return repo.git("diff", base, fix, "--", *paths) + "\n"

    task = Task(instance_id="local__calc-" + fix[:12], repo="local/calc", repo_url=str(repo.path),
                base_commit=base, fix_commit=fix, created_at="2024-03-01T12:00:00+00:00", patch=diff("calc.py"),
                test_patch=diff("tests"), problem_statement="", FAIL_TO_PASS=("tests/test_calc.py::test_add",),
                PASS_TO_PASS=())
    task = _with_env_date(task)
    first = evaluate(task, patch=task.patch)
    assert first.resolved, first.message
    used = next(p for p in Path(os.environ["LOOPCTL_CACHE"], "envs").iterdir() if p.is_dir())
    _to_false(used / "bin" / "python")
    envcheck.forget(used)
    second = evaluate(task, patch=task.patch)
    assert second.resolved, second.message


def _with_env_date(task: Task) -> Task:
    from dataclasses import replace

    from taskset.record import EnvironmentSpec

    return replace(task, environment=EnvironmentSpec(exclude_newer=PROJECT_ENV_DATE))
