"""Issue 23, part 1b, end to end through ``mine`` on repositories built here with plain git: a version
taken from git tags survives the history-free workspace; a project pytest itself depends on is
still tested from the workspace; ``--python auto`` falls back to an older interpreter when the
environment cannot be built on the one of the commit's era. Each rule is in the test's docstring."""

from __future__ import annotations

import pytest

from factories import mine_repo as _mine
from factories import task_of as _task
from taskset.env import pythons
from taskset.files.cache import cache_dir

SPLIT = "def split_line(line):\n    return line.split({args})\n"
SPLIT_TESTS = ("from iniconfig import split_line\n\n"
               "def test_plain():\n    assert split_line('a=b') == ['a', 'b']\n")
NAMED_LIKE_PYTEST_DEPENDENCY = ('[build-system]\nrequires = ["setuptools>=61"]\n'
                                'build-backend = "setuptools.build_meta"\n'
                                '[project]\nname = "iniconfig"\nversion = "2.0.0"\n'
                                '[tool.setuptools]\npackages = ["iniconfig"]\n')


@pytest.mark.slow
def test_a_project_pytest_depends_on_is_tested_from_the_workspace(make_repo, tmp_path):
    """A project named like one of pytest's own dependencies (iniconfig): pytest still starts (the
    environment holds an index copy of the day, not the tree's), and the tests import the
    workspace's code, so the buggy code fails and the fix passes."""
    repo = make_repo()
    repo.commit("Initial", {"pyproject.toml": NAMED_LIKE_PYTEST_DEPENDENCY,
                            "iniconfig/__init__.py": SPLIT.format(args="'='"), "tests/test_split.py": SPLIT_TESTS})
    fix = repo.commit("Fix split of values holding =", {
        "iniconfig/__init__.py": SPLIT.format(args="'=', 1"),
        "tests/test_split.py": SPLIT_TESTS + "\ndef test_value_with_equals():\n"
                                             "    assert split_line('a=b=c') == ['a', 'b=c']\n",
    })
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.FAIL_TO_PASS == ("tests/test_split.py::test_value_with_equals",)
    assert task.PASS_TO_PASS == ("tests/test_split.py::test_plain",)
    # the index copy pytest starts with is no pin of the task: a rebuild puts it back the same way
    assert not any(line.lower().startswith("iniconfig") for line in task.environment.requirements)


SCM_PYPROJECT = ('[build-system]\nrequires = ["setuptools>=64", "setuptools_scm>=8"]\n'
                 'build-backend = "setuptools.build_meta"\n'
                 '[project]\nname = "calc"\ndynamic = ["version"]\n'
                 '[tool.setuptools]\npy-modules = ["calc"]\n[tool.setuptools_scm]\n')
HATCH_PYPROJECT = ('[build-system]\nrequires = ["hatchling", "hatch-vcs"]\nbuild-backend = "hatchling.build"\n'
                   '[project]\nname = "calc"\ndynamic = ["version"]\n[tool.hatch.version]\nsource = "vcs"\n'
                   '[tool.hatch.build.targets.wheel]\nonly-include = ["calc.py"]\n')
SCM_TESTS = ("from importlib.metadata import version\n\nfrom calc import shout\n\n"
             "def test_version():\n    assert version('calc') == '2.5.0'\n\n"
             "def test_shout():\n    assert shout('a') == 'A'\n")


@pytest.mark.slow
@pytest.mark.parametrize("pyproject", [SCM_PYPROJECT, HATCH_PYPROJECT], ids=["setuptools-scm", "hatch-vcs"])
def test_a_version_from_git_tags_reaches_the_build_and_the_record(make_repo, tmp_path, pyproject):
    """A project versioned by setuptools-scm, or by hatch-vcs (which hands setuptools-scm no
    distribution name, so only the generic pretend variable reaches it), is built with its tag's
    version at the base commit (the workspace has no tags: it would be ``0.1.dev1``), the task
    records it, and a rebuild from the record (the evaluator's ``environment_for``) builds with it again."""
    from taskset.evaluation.verdict import evaluate

    repo = make_repo()
    repo.commit("Initial", {"pyproject.toml": pyproject, "calc.py": "def shout(s):\n    return s\n",
                            "tests/test_calc.py": SCM_TESTS})
    repo.git("tag", "v2.5.0")
    empty = "\ndef test_empty():\n    assert shout('') == ''\n"
    fix = repo.commit("Fix shout", {"calc.py": "def shout(s):\n    return s.upper()\n",
                                    "tests/test_calc.py": SCM_TESTS + empty})
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.environment.version == "2.5.0"
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)
    assert "tests/test_calc.py::test_version" in task.PASS_TO_PASS
    verdict = evaluate(task, patch=task.patch)
    assert verdict.resolved, verdict.feedback
    # the project's wheel built alone is the tree's code: no environment keeps it
    assert not list(cache_dir().glob("envs/*/.loopctl/own-wheel/*"))


REFUSES_NEW_PYTHON = ("import sys\nfrom setuptools import setup\n\n"
                      "if sys.version_info >= ({major}, {minor}):\n"
                      "    raise SystemExit('this release does not build on Python {major}.{minor}')\n\n"
                      "setup(name='calc', version='1.0', py_modules=['calc'],\n"
                      "      classifiers=['Programming Language :: Python :: {older}',\n"
                      "                   'Programming Language :: Python :: {major}.{minor}'])\n")


@pytest.mark.slow
def test_auto_python_falls_back_to_an_older_interpreter_when_the_build_fails(make_repo, tmp_path):
    """With --python auto, when the environment cannot be built on the interpreter the commit's era
    admits (its setup.py refuses it), the next-older admitted one is tried; the task records the
    interpreter used and the one passed over. (Building only the dependencies, the source-tree
    rung, is kept for when no older interpreter builds the project.)"""
    installed = [i.minor for i in pythons.available()]
    assert len(installed) >= 2, f"needs two installed interpreters (pyenv): {installed}"
    newer, older = installed[-1], installed[-2]
    major, minor = newer.split(".")
    setup = REFUSES_NEW_PYTHON.format(major=major, minor=minor, older=older)
    repo = make_repo()
    test = "from calc import shout\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    repo.commit("Initial", {"setup.py": setup, "calc.py": "def shout(s):\n    return s\n", "tests/test_calc.py": test})
    fix = repo.commit("Fix shout", {"calc.py": "def shout(s):\n    return s.upper()\n",
                                    "tests/test_calc.py": test + "\ndef test_empty():\n    assert shout('') == ''\n"},
                      date="2026-01-05T12:00:00+00:00")
    tasks, rejections = _mine(repo, tmp_path / "ts", python="auto")
    task = _task(tasks, rejections, fix)
    assert task.environment.python.startswith(older + ".")
    assert task.environment.remedy == "normal"
    assert any(r.startswith(f"python-fallback:{newer}.") for r in task.meta.remedies), task.meta.remedies
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)
