"""The classes of real fixes the miner used to miss in histories it had never seen (issue 9), one
regression each, on repositories built here with plain git. Each rule is in the test's docstring."""

from __future__ import annotations

import json

import pytest

from factories import mine_repo, task_of
from miner import Reason
from miner.ledger import Ledger
from taskset.env import pythons
from taskset.env.pythons import Interpreter, PythonNeeds

PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "calc"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["calc"]\n')


_mine = mine_repo
_task = task_of


@pytest.fixture(scope="module")
def classes_repo(tmp_path_factory):
    """One history, one fix per class, all on one environment (same dependency files)."""
    from conftest import GitRepo

    repo = GitRepo(tmp_path_factory.mktemp("classes") / "repo")
    repo.commit("Initial", {
        "pyproject.toml": PYPROJECT,
        "calc.py": "CACHE = {}\n\ndef double(x):\n    return abs(x) * 2\n\ndef lookup(key):\n    return None\n\n"
                   "def scale(x):\n    return x\n",
        "tests/__init__.py": "class ScaleMixin:\n    factor = 1\n\n    def test_scale(self):\n"
                             "        from calc import scale\n        assert scale(3) == 3 * self.factor\n",
        "tests/test_scale.py": "import unittest\nfrom tests import ScaleMixin\n\n"
                               "class ScaleTest(ScaleMixin, unittest.TestCase):\n    pass\n",
        "tests/test_calc.py": "import calc\n\ndef test_double():\n    assert calc.double(2) == 4\n",
    })
    shas = {}
    # 1. one test of the module needs a binary that is not installed: it fails on both sides
    shas["binary"] = repo.commit("Fix double for negative numbers", {
        "calc.py": "CACHE = {}\n\ndef double(x):\n    return 2 * x\n\ndef lookup(key):\n    return None\n\n"
                   "def scale(x):\n    return x\n",
        "tests/test_calc.py": "import subprocess\n\nimport calc\n\n"
                              "def test_double():\n    assert calc.double(2) == 4\n\n"
                              "def test_double_negative():\n    assert calc.double(-2) == -4\n\n"
                              "def test_tool():\n    subprocess.run(['loopctl-no-such-tool'], check=True)\n",
    })
    # 2. a test that fails after the fix only because the test before it left state behind
    shas["order"] = repo.commit("Fix lookup of missing keys", {
        "calc.py": "CACHE = {}\n\ndef double(x):\n    return 2 * x\n\ndef lookup(key):\n"
                   "    return CACHE.get(key, 'default')\n\ndef scale(x):\n    return x\n",
        "tests/test_lookup.py": "import calc\n\ndef test_pollutes():\n    calc.CACHE['x'] = 1\n"
                                "    assert False, 'fails on both sides and leaves state behind'\n\n"
                                "def test_lookup():\n    assert calc.lookup('x') == 'default'\n",
    })
    # 3. only shared test code changes (a mixin in tests/__init__.py): its users live beside it
    shas["shared"] = repo.commit("Fix scale to triple", {
        "calc.py": "CACHE = {}\n\ndef double(x):\n    return 2 * x\n\ndef lookup(key):\n"
                   "    return CACHE.get(key, 'default')\n\ndef scale(x):\n    return 3 * x\n",
        "tests/__init__.py": "class ScaleMixin:\n    factor = 3\n\n    def test_scale(self):\n"
                             "        from calc import scale\n        assert scale(3) == 3 * self.factor\n",
    })
    return repo, shas


@pytest.fixture(scope="module")
def classes_mined(classes_repo, tmp_path_factory, session_cache):
    return _mine(classes_repo[0], tmp_path_factory.mktemp("classes-out") / "ts")  # caches: hermetic_session


@pytest.mark.slow
def test_a_test_needing_a_missing_binary_does_not_sink_the_fix(classes_repo, classes_mined):
    """A test failing on both sides (a binary that is not installed) is in neither list and is
    recorded with its failure; the fix is a task with the tests that really go fail -> pass."""
    task = _task(*classes_mined, classes_repo[1]["binary"])
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_double_negative",)
    assert "tests/test_calc.py::test_double" in task.PASS_TO_PASS
    assert "FileNotFoundError" in task.meta.failing_both["tests/test_calc.py::test_tool"]


@pytest.mark.slow
def test_an_order_dependent_failure_is_rerun_alone_and_recorded(classes_repo, classes_mined):
    """A test failing with the fix only beside the test that pollutes state passes alone: it is a
    FAIL_TO_PASS test (it fails before on its own too), marked order-dependent for calibration."""
    task = _task(*classes_mined, classes_repo[1]["order"])
    assert task.FAIL_TO_PASS == ("tests/test_lookup.py::test_lookup",)
    assert task.meta.order_dependent == ("tests/test_lookup.py::test_lookup",)
    assert "tests/test_lookup.py::test_pollutes" in task.meta.failing_both


@pytest.mark.slow
def test_a_fix_to_shared_test_code_runs_the_modules_that_use_it(classes_repo, classes_mined):
    """A fix whose test side is only tests/__init__.py (a unittest mixin) runs the test modules beside it."""
    task = _task(*classes_mined, classes_repo[1]["shared"])
    assert task.FAIL_TO_PASS == ("tests/test_scale.py::ScaleTest::test_scale",)


@pytest.mark.slow
def test_project_python_files_setting_names_the_tests(make_repo, tmp_path):
    """``python_files = tests_*.py`` in setup.cfg at the mined commit makes checks/tests_calc.py a
    test module: the fix is split and proven by it (the built-in conventions would see no test)."""
    repo = make_repo()
    cfg = "[tool:pytest]\npython_files = tests_*.py\n"
    repo.commit("Initial", {"pyproject.toml": PYPROJECT, "setup.cfg": cfg,
                            "calc.py": "def half(x):\n    return x // 2\n",
                            "checks/tests_calc.py": "from calc import half\n\n"
                                                    "def test_half():\n    assert half(4) == 2\n"})
    fix = repo.commit("Fix half of odd numbers", {
        "calc.py": "def half(x):\n    return x / 2\n",
        "checks/tests_calc.py": "from calc import half\n\ndef test_half():\n    assert half(4) == 2\n\n"
                                "def test_half_odd():\n    assert half(3) == 1.5\n",
    })
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.FAIL_TO_PASS == ("checks/tests_calc.py::test_half_odd",)
    assert task.meta.test_files == ("checks/tests_calc.py",) and task.meta.source_files == ("calc.py",)


POETRY = ('[tool.poetry]\nname = "calc"\nversion = "0.1.0"\ndescription = ""\nauthors = ["A <a@example.invalid>"]\n'
          'packages = [{include = "calc.py"}]\n[tool.poetry.dependencies]\npython = ">=3.8"\n'
          '[tool.poetry.dev-dependencies]\nsix = ">=1.10"\n'
          '[build-system]\nrequires = ["poetry-core>=1.0"]\nbuild-backend = "poetry.core.masonry.api"\n')


@pytest.mark.slow
def test_a_test_dependency_only_in_poetry_dev_dependencies_is_installed(make_repo, tmp_path):
    """A dependency declared only in ``[tool.poetry.dev-dependencies]`` is installed for the tests."""
    repo = make_repo()
    test = "import six\nfrom calc import shout\n\ndef test_shout():\n    assert shout(six.u('a')) == 'A'\n"
    repo.commit("Initial",
                {"pyproject.toml": POETRY, "calc.py": "def shout(s):\n    return s\n", "tests/test_calc.py": test})
    fix = repo.commit("Fix shout", {"calc.py": "def shout(s):\n    return s.upper()\n",
                                    "tests/test_calc.py": test + "\ndef test_empty():\n    assert shout('') == ''\n"})
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)
    assert any(line.startswith("six>=1.10") for line in task.environment.install)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["test module", "conftest"])
def test_an_undeclared_dependency_is_installed_once_by_name_and_recorded(make_repo, tmp_path, where):
    """A third-party module the tests fail to import on both sides (in a test module, or in a
    conftest.py, which stops pytest before any test) is a dependency still to find: installed once
    by name, and the remedy recorded on the task."""
    repo = make_repo()
    test = "import six\nfrom calc import shout\n\ndef test_shout():\n    assert shout(six.u('a')) == 'A'\n"
    files = {"pyproject.toml": PYPROJECT, "calc.py": "def shout(s):\n    return s\n", "tests/test_calc.py": test}
    if where == "conftest":
        files["tests/conftest.py"] = "import six  # noqa: F401\n"
    repo.commit("Initial", files)
    fix = repo.commit("Fix shout", {"calc.py": "def shout(s):\n    return s.upper()\n",
                                    "tests/test_calc.py": test + "\ndef test_empty():\n    assert shout('') == ''\n"})
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)
    assert "missing-dependency:six" in task.meta.remedies
    assert any(pin.startswith("six==") for pin in task.environment.requirements)


@pytest.mark.slow
def test_a_project_that_cannot_be_built_runs_from_its_source_tree(make_repo, tmp_path):
    """A setup.py that needs a generated file fails on every installer rung; the last rung installs
    only its dependencies (read statically) and the tests import the project from the tree."""
    repo = make_repo()
    setup = ("import os\nfrom setuptools import setup\nif not os.path.exists('GENERATED'):\n"
             "    raise SystemExit('error: GENERATED is missing: run make first (setup.py)')\n"
             "setup(name='calc', version='0.1', py_modules=['calc'], install_requires=['six'])\n")
    test = "from calc import shout\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    repo.commit("Initial", {"setup.py": setup, "calc.py": "import six\n\ndef shout(s):\n    return s\n",
                            "tests/test_calc.py": test})
    fix = repo.commit("Fix shout", {"calc.py": "import six\n\ndef shout(s):\n    return s.upper()\n",
                                    "tests/test_calc.py": test + "\ndef test_empty():\n    assert shout('') == ''\n"})
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.environment.remedy == "source-tree" and "source-tree" in task.meta.remedies
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)


@pytest.mark.slow
def test_a_generated_version_module_is_written_into_the_workspace(make_repo, tmp_path):
    """A package importing a module its build generates (setuptools-scm's ``write_to``) is tested
    with that module written into the workspace, not failed as an import error on both sides."""
    repo = make_repo()
    pyproject = ('[build-system]\nrequires = ["setuptools>=64", "setuptools-scm>=8"]\n'
                 'build-backend = "setuptools.build_meta"\n[project]\nname = "calc"\ndynamic = ["version"]\n'
                 '[tool.setuptools]\npackages = ["calc"]\n[tool.setuptools_scm]\nversion_file = "calc/_version.py"\n')
    init = "from calc._version import version\n\ndef shout(s):\n    return s\n"
    test = "from calc import shout\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    repo.commit("Initial", {"pyproject.toml": pyproject, "calc/__init__.py": init, "tests/test_calc.py": test,
                            ".gitignore": "calc/_version.py\n"})
    fix = repo.commit("Fix shout", {"calc/__init__.py": init.replace("return s", "return s.upper()"),
                                    "tests/test_calc.py": test + "\ndef test_empty():\n    assert shout('') == ''\n"})
    tasks, rejections = _mine(repo, tmp_path / "ts")
    task = _task(tasks, rejections, fix)
    assert task.FAIL_TO_PASS == ("tests/test_calc.py::test_shout",)


def test_auto_python_picks_by_requires_python_classifiers_and_era():
    """--python auto: requires-python must admit it; then a minor the classifiers name and that
    existed at the commit's date; then the commit's era; else the oldest admitted."""
    have = [Interpreter(__import__("pathlib").Path(f"/py/{m}"), f"{m}.1") for m in ("3.6", "3.8", "3.11", "3.12")]
    pick = lambda needs, date: pythons.choose(needs, date, have)  # noqa: E731
    assert pick(PythonNeeds(), "2024-03-01").interpreter.minor == "3.12"
    assert pick(PythonNeeds(), "2019-05-01").interpreter.minor == "3.6"  # 3.8 came out in October
    assert pick(PythonNeeds(), "2021-05-01").interpreter.minor == "3.8"
    assert pick(PythonNeeds(requires=">=3.7,<3.11"), "2024-03-01").interpreter.minor == "3.8"
    assert pick(PythonNeeds(classifiers=("3.8", "3.9")), "2024-03-01").interpreter.minor == "3.8"
    assert pick(PythonNeeds(), "2015-01-01").interpreter.minor == "3.6"  # older than all: the oldest


def test_auto_python_names_the_interpreter_needed_when_none_fits():
    """When no installed interpreter fits, the choice names the one to install."""
    have = [Interpreter(__import__("pathlib").Path("/py/3.11"), "3.11.7")]
    choice = pythons.choose(PythonNeeds(requires="<3.8", classifiers=("2.7", "3.6", "3.7")), "2019-01-01", have)
    assert choice.interpreter is None and choice.needed == "3.7"
    assert "requires-python <3.8" in choice.reason
    assert pythons.choose(PythonNeeds(requires="<3"), "2012-01-01", have).needed == "<3"  # nothing uv can build
    assert pythons.choose(PythonNeeds(requires=">=3.99"), "", have).needed == ">=3.99"


@pytest.mark.slow
def test_no_fitting_interpreter_is_a_rejection_naming_it_and_retried(make_repo, tmp_path):
    """With --python auto and no installed interpreter that fits, the candidate is rejected
    ``no-interpreter`` naming what to install, and the next run tries it again."""
    repo = make_repo()
    pyproject = PYPROJECT.replace('version = "0.1"', 'version = "0.1"\nrequires-python = ">=3.99"')
    repo.commit("Initial",
                {"pyproject.toml": pyproject, "calc.py": "X = 1\n", "tests/test_calc.py": "def test_x():\n    pass\n"})
    fix = repo.commit("Fix X", {"calc.py": "X = 2\n", "tests/test_calc.py": "def test_x():\n    assert True\n"})
    tasks, rejections = _mine(repo, tmp_path / "ts", python="auto")
    assert rejections[fix].reason is Reason.NO_INTERPRETER and ">=3.99" in rejections[fix].detail
    assert fix not in Ledger(tmp_path / "ts").known


def test_conventions_follow_each_commits_own_pytest_config(make_repo):
    """The pytest naming is read at each commit: before setup.cfg says python_files, checks/ is source."""
    from miner.testconfig import conventions_by_commit
    from taskset.workspace.mirrors import mirror
    from taskset.workspace.testfiles import DEFAULT, is_test_path

    repo = make_repo()
    before = repo.commit("Initial", {"calc.py": "X = 1\n", "checks/tests_calc.py": "X = 1\n"})
    after = repo.commit("Configure", {"setup.cfg": "[tool:pytest]\npython_files = tests_*.py\ntestpaths = spec\n"})
    found = conventions_by_commit(mirror(str(repo.path)), [before, after], DEFAULT, "calc")
    assert not is_test_path("checks/tests_calc.py", found[before])
    assert is_test_path("checks/tests_calc.py", found[after]) and is_test_path("spec/data.json", found[after])
    assert not is_test_path("calc.py", found[after])


def test_task_records_order_dependence_and_failing_tests_in_json(classes_mined, classes_repo):
    """The new facts are written to the task file (schema 2)."""
    task = classes_mined[0][classes_repo[1]["order"]]
    data = json.loads(task.to_json())
    assert data["schema_version"] == 2
    assert data["meta"]["order_dependent"] == ["tests/test_lookup.py::test_lookup"]


@pytest.mark.slow
def test_the_pip_rung_installs_the_pins_uv_resolves(tmp_path):
    """The pip rung: uv resolves as of the date, pip installs those pins; the env imports the
    dependencies and pytest but never the project (environments hold dependencies only), which
    imports from its tree."""
    import time

    from taskset.env.install import Installer, Plan

    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(
        PYPROJECT.replace('version = "0.1"', 'version = "0.1"\ndependencies = ["six"]'))
    (source / "calc.py").write_text("import six\n")
    interp = pythons.interpreter()
    installer = Installer(interp.path, tmp_path / "venv", tmp_path / "build.log", time.monotonic() + 600,
                          interp.version)
    plan = Plan(project=True, project_name="calc", pytest="pytest>=7.2", exclude_newer="2024-03-01")
    rung, frozen = installer.build(plan, source, first_rung="pip")
    assert rung == "pip"
    assert any(pin.startswith("six==") for pin in frozen) and any(pin.startswith("pytest==") for pin in frozen)
    python = str(tmp_path / "venv" / "bin" / "python")
    run = __import__("subprocess").run
    assert run([python, "-c", "import six, pytest"], cwd=tmp_path).returncode == 0
    assert run([python, "-c", "import calc"], cwd=tmp_path).returncode != 0
    assert run([python, "-c", "import calc"], cwd=tmp_path, env={"PYTHONPATH": str(source)}).returncode == 0


def test_a_package_doctested_from_testpaths_is_source(make_repo):
    """A package that ``testpaths`` names under ``--doctest-modules`` is the project's code, not a test
    directory, whatever the repository is called: a fix to it and its tests is a candidate, not
    ``no-source-change``. So is a single module named there. Without ``--doctest-modules`` a
    testpath stays a test directory (the project's own rule, as for ``testpaths = spec``)."""
    from miner.candidates import classify, list_commits
    from miner.rejections import Rejection
    from miner.testconfig import conventions_by_commit
    from taskset.workspace.mirrors import mirror
    from taskset.workspace.testfiles import DEFAULT, is_test_path

    repo = make_repo("python-shapes")  # the package is not named after the repository
    tox = "[pytest]\naddopts =\n    --doctest-modules\ntestpaths = docs shapes helpers.py tests\n"
    repo.commit("Initial", {"tox.ini": tox, "shapes/__init__.py": "", "shapes/core.py": "SIDES = 3\n",
                            "helpers.py": "X = 1\n", "tests/test_core.py": "def test_sides():\n    pass\n"})
    repo.commit("Fix sides", {"shapes/core.py": "SIDES = 4\n",
                              "tests/test_core.py": "from shapes.core import SIDES\n\ndef test_sides():\n"
                                                    "    assert SIDES == 4\n"})
    plain = repo.commit("Drop doctests", {"tox.ini": "[pytest]\ntestpaths = shapes tests\n"})
    git_dir = mirror(str(repo.path))
    commits = list_commits(git_dir, ["HEAD"])
    found = conventions_by_commit(git_dir, [c.sha for c in commits], DEFAULT, "python-shapes")
    fix = commits[1]
    assert not isinstance(classify(fix, found[fix.sha]), Rejection)
    for path in ("shapes/core.py", "shapes/__init__.py", "helpers.py"):
        assert not is_test_path(path, found[fix.sha]), path
    assert is_test_path("tests/test_core.py", found[fix.sha])
    assert is_test_path("shapes/core.py", found[plain])


def test_testpaths_that_name_the_root_or_leave_the_repository_are_read_without_failing(make_repo):
    """``testpaths = . ./tests/ ../shared /abs`` under ``--doctest-modules`` (toolz names ``.``): the
    root and entries outside the repository are asked of git by no path (a ``sha:./__init__.py``
    query stopped the whole run: "relative path syntax can't be used outside working tree"), the
    others as written normalised; the root stays the project's code."""
    from miner.testconfig import conventions_by_commit
    from taskset.workspace.mirrors import mirror
    from taskset.workspace.testfiles import DEFAULT, is_test_path

    repo = make_repo("rooted")
    tox = "[pytest]\naddopts = --doctest-modules\ntestpaths = . ./tests/ ../shared /abs tests/./unit\n"
    sha = repo.commit("Initial", {"tox.ini": tox, "rooted/__init__.py": "", "rooted/core.py": "X = 1\n",
                                  "tests/test_core.py": "def test_x():\n    pass\n"})
    found = conventions_by_commit(mirror(str(repo.path)), [sha], DEFAULT, "rooted")
    assert not is_test_path("rooted/core.py", found[sha])
    assert is_test_path("tests/test_core.py", found[sha]) and is_test_path("tests/unit/data.json", found[sha])
