"""Issue 23's classes of test dependencies and builds the miner did not see, one regression each,
on repositories built here with plain git. Each rule is in the test's docstring."""

from __future__ import annotations

import pytest

from factories import mine_repo
from taskset import evaluate

PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "calc"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["calc"]\n')
SHOUT = "def shout(s):\n    return s\n"
SHOUT_FIXED = "def shout(s):\n    return s.upper()\n"
EMPTY = "\ndef test_empty():\n    assert shout('') == ''\n"


def _shout_fix(repo, out, test: str, files: dict[str, str], prelude: str = ""):
    """Commit a project with ``shout`` broken and ``files`` beside it, then the fix with one more
    test; mine it and return the task, whose one FAIL_TO_PASS test is ``test_shout``."""
    repo.commit("Initial", {"calc.py": prelude + SHOUT, "tests/test_calc.py": test, **files})
    fix = repo.commit("Fix shout", {"calc.py": prelude + SHOUT_FIXED, "tests/test_calc.py": test + EMPTY})
    tasks, rejections = mine_repo(repo, out)
    assert fix in tasks, rejections.get(fix)
    task = tasks[fix]
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)
    return task


def _pins(task) -> set[str]:
    return {pin.split("==", 1)[0].lower() for pin in task.environment.requirements}


@pytest.mark.slow
def test_each_module_missing_in_turn_is_installed_under_its_distribution(make_repo, tmp_path):
    """A conftest.py importing a missing module stops pytest before it collects anything (exit 4),
    and once that module is there a test module misses another: each is installed in turn, by its
    distribution's name (``yaml`` is PyYAML), and each remedy is recorded on the task."""
    repo = make_repo()
    test = "import six\nfrom calc import shout\n\ndef test_shout():\n    assert shout(six.u('a')) == 'A'\n"
    task = _shout_fix(repo, tmp_path / "ts", test, {"pyproject.toml": PYPROJECT,
                                                   "tests/conftest.py": "import yaml  # noqa: F401\n"})
    assert {"missing-dependency:PyYAML", "missing-dependency:six"} <= set(task.meta.remedies)
    assert {"pyyaml", "six"} <= _pins(task)


@pytest.mark.slow
def test_a_guarded_import_then_used_is_installed_by_name(make_repo, tmp_path):
    """A test module that guards an import (``try: import six / except ImportError: pass``) and then
    uses it fails to collect with a NameError on both sides: the module is a dependency still to
    find. The project's own line for it (``six==0.0.0`` in a requirements file, which no index
    has) cannot install as written: the resolution relaxes it (or, failing that, the bare name is
    installed instead); the remedy and the relaxation are recorded."""
    repo = make_repo()
    test = ("try:\n    import six\nexcept ImportError:\n    pass\n\nfrom calc import shout\n\nU = six.u\n\n"
            "def test_shout():\n    assert shout(U('a')) == 'A'\n")
    task = _shout_fix(repo, tmp_path / "ts", test, {"pyproject.toml": PYPROJECT, "requirements.txt": "six==0.0.0\n"})
    remedies = set(task.meta.remedies)
    assert remedies & {"missing-dependency:six", "missing-dependency:six==0.0.0"}, remedies
    assert "missing-dependency:six" in remedies or "relaxed:six" in remedies, remedies
    assert "six" in _pins(task)


@pytest.mark.slow
def test_a_setup_py_copying_a_generated_file_runs_from_its_source_tree(make_repo, tmp_path):
    """A setup.py that copies a file a make step generates (absent from the tree) fails to build on
    every rung; the last rung installs the dependencies it declares -- here read by setup.py from
    requirements.txt, so read from the file it names -- and the tests import the project from the
    workspace, with no dependency left to find by name."""
    repo = make_repo()
    setup = ("import shutil\nfrom setuptools import setup\n"
             "shutil.copy('build/generated.py', 'calc_generated.py')\n"
             "setup(name='calc', version='0.1', py_modules=['calc'],\n"
             "      install_requires=open('requirements.txt').read().splitlines())\n")
    test = "from calc import shout\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    task = _shout_fix(repo, tmp_path / "ts", test, {"setup.py": setup, "requirements.txt": "six\n"},
                      prelude="import six\n\n")
    assert task.environment.remedy == "source-tree" and "source-tree" in task.meta.remedies
    assert not [r for r in task.meta.remedies if r.startswith("missing-dependency:")]
    assert "six" in _pins(task)


@pytest.mark.slow
def test_a_root_test_py_that_defines_tests_is_test_code(make_repo, tmp_path):
    """A test module named ``test.py`` at the repository root (pytest's default ``python_files``
    does not match it) is test code when it defines tests: the fix is split into source and tests,
    and the task's tests are collected and run from it."""
    repo = make_repo()
    test = ("import unittest\n\nfrom calc import shout\n\n\nclass ShoutTests(unittest.TestCase):\n"
            "    def test_shout(self):\n        self.assertEqual(shout('a'), 'A')\n")
    repo.commit("Initial", {"pyproject.toml": PYPROJECT, "calc.py": SHOUT, "test.py": test})
    fix = repo.commit("Fix shout", {"calc.py": SHOUT_FIXED,
                                    "test.py": test + "\n    def test_empty(self):\n"
                                                      "        self.assertEqual(shout(''), '')\n"})
    tasks, rejections = mine_repo(repo, tmp_path / "ts")
    assert fix in tasks, rejections.get(fix)
    task = tasks[fix]
    assert task.meta.test_files == ("test.py",) and task.meta.source_files == ("calc.py",)
    assert task.FAIL_TO_PASS == ("test.py::ShoutTests::test_shout",)
    assert task.PASS_TO_PASS == ("test.py::ShoutTests::test_empty",)
    assert evaluate(task, patch=task.patch).resolved
    cheat = test.replace("'A'", "'a'")  # the candidate's edit to test.py is undone before the verdict
    assert not evaluate(task, edits={"test.py": cheat}).resolved


@pytest.mark.slow
def test_test_extras_and_test_requirement_files_are_installed_up_front(make_repo, tmp_path):
    """What the project's metadata names for its tests -- an extra named ``test`` in pyproject, a
    ``dev_requirements.txt`` -- is installed with the environment, not found missing afterwards."""
    repo = make_repo()
    pyproject = PYPROJECT + '[project.optional-dependencies]\ntest = ["six"]\n'
    test = ("import six\nimport yaml\nfrom calc import shout\n\n"
            "def test_shout():\n    assert shout(six.u(yaml.safe_load('a'))) == 'A'\n")
    task = _shout_fix(repo, tmp_path / "ts", test, {"pyproject.toml": pyproject, "dev_requirements.txt": "PyYAML\n"})
    assert not [r for r in task.meta.remedies if r.startswith("missing-dependency:")]
    assert {"pyyaml", "six"} <= _pins(task)
