"""The code under test is the workspace's, always: environments hold dependencies, never the project.

An environment is shared by every tree with the same dependency files; one that kept the project
installed would judge (or let a candidate read) whichever tree built it first. These tests build
real repositories and real environments; trees of one repository share one environment on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factories import git_diff, mine_repo, task_between, task_of
from taskset.env.environment import ensure_environment
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.interop.swebench_rows import from_swebench
from taskset.record import Task
from taskset.workspace.workspace import Workspace

PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
             '[project]\nname = "srccalc"\nversion = "0.1"\n\n[tool.setuptools.packages.find]\nwhere = ["src"]\n')
BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n"
ADD_FIXED = BUGGY.replace("return a - b", "return a + b")
BOTH_FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = "from srccalc import add, mul\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
TEST_ADD = "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
TEST_MUL = "\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
MODULE = "src/srccalc/__init__.py"
TEST_FILE = "tests/test_calc.py"


def _row(repo, base: str, fix: str, f2p: str, p2p: tuple[str, ...]) -> dict:
    """A SWE-bench row as their dataset has it: no loopctl ``environment`` field (no layout recorded)."""
    return {"repo": "local/srccalc", "instance_id": f"local__srccalc-{fix[:12]}", "base_commit": base,
            "patch": git_diff(repo, base, fix, "src"), "test_patch": git_diff(repo, base, fix, "tests"),
            "problem_statement": "wrong arithmetic", "FAIL_TO_PASS": json.dumps([f2p]),
            "PASS_TO_PASS": json.dumps(list(p2p)), "created_at": "2024-03-01T12:00:00+00:00", "version": "0.1"}


@pytest.fixture
def same_day(make_repo) -> tuple[Task, Task]:
    """Two fixes committed the same day in a src-layout project, imported as SWE-bench rows:
    the first fixes add(), the second (based on the first fix) fixes mul()."""
    repo = make_repo("srccalc")
    c0 = repo.commit("calc with two bugs", {"pyproject.toml": PYPROJECT, MODULE: BUGGY, TEST_FILE: TESTS})
    c1 = repo.commit("fix add", {MODULE: ADD_FIXED, TEST_FILE: TESTS + TEST_ADD})
    c2 = repo.commit("fix mul", {MODULE: BOTH_FIXED, TEST_FILE: TESTS + TEST_ADD + TEST_MUL})
    zero, add, mul = (f"{TEST_FILE}::test_{name}" for name in ("zero", "add", "mul"))
    first = from_swebench(_row(repo, c0, c1, add, (zero,)), clone_from=str(repo.path))
    second = from_swebench(_row(repo, c1, c2, mul, (zero, add)), clone_from=str(repo.path))
    return first, second


def _site_files(venv: Path) -> list[str]:
    """Every file of the environment's site-packages that belongs to the project (by name), but its
    metadata (a dist-info holding no code: a project may read its own version)."""
    return sorted(str(p.relative_to(venv)) for p in venv.glob("lib/python*/site-packages/**/*")
                  if "srccalc" in p.name and ".dist-info" not in str(p))


def _env_of(task: Task):
    with Workspace.for_task(task) as ws:
        return ensure_environment(ws.path, resolution_date=task.created_at)


def test_two_same_day_fixes_share_an_environment_that_holds_neither_tree(same_day):
    """The later task's tree (which holds the earlier task's fix) builds the shared environment
    first; the earlier task's empty patch is still not resolved, its gold patch is, and
    site-packages holds no file of either tree."""
    first, second = same_day
    assert evaluate(second, patch=second.patch).resolved
    env = _env_of(first)
    assert env.path == _env_of(second).path, "one environment serves both trees"
    assert _site_files(env.path) == []
    empty = evaluate(first, patch="")
    assert not empty.resolved and empty.problem is VerdictProblem.TESTS_FAILED
    assert evaluate(first, patch=first.patch).resolved
    assert _site_files(env.path) == []


@pytest.mark.parametrize("cache", ["warm", "cold"])
@pytest.mark.parametrize("order", ["empty-then-gold", "gold-then-empty"])
def test_imported_src_layout_rows_judge_the_workspace(same_day, order, cache, tmp_path, monkeypatch):
    """SWE-bench rows record no layout: the workspace's src/ is found from the tree, so the empty
    patch never resolves and the gold patch always does, in either order, warm cache or cold."""
    first, second = same_day
    if cache == "cold":
        monkeypatch.setenv("LOOPCTL_CACHE", str(tmp_path / "cold-cache"))
    else:
        evaluate(second, patch="")  # warm: the environment exists, built from the other tree
    for task in (first, second):
        patches = ["", task.patch] if order == "empty-then-gold" else [task.patch, ""]
        verdicts = {bool(p): evaluate(task, patch=p) for p in patches}
        assert verdicts[True].resolved, verdicts[True].message
        assert not verdicts[False].resolved and verdicts[False].problem is VerdictProblem.TESTS_FAILED


GENERATING_SETUP = """import os
from setuptools import setup
from setuptools.command.build_py import build_py


class WithVersion(build_py):
    def run(self):
        super().run()
        with open("VERSION") as handle:
            version = handle.read().strip()
        with open(os.path.join(self.build_lib, "vercalc", "_version.py"), "w") as handle:
            handle.write("version = %r\\n" % version)


setup(name="vercalc", version="0.1", packages=["vercalc"], cmdclass={"build_py": WithVersion})
"""
VERSION_INIT = "from vercalc._version import version\n\n\ndef shout(s):\n    return s\n"
VERSION_TESTS = ("from vercalc import shout, version\n\n\ndef test_version():\n"
                 "    assert version == open('VERSION').read().strip()\n")


def test_a_generated_module_is_built_for_each_tree_and_kept_out_of_the_environment(make_repo):
    """A setup.py that writes ``_version.py`` at build time: each tree gets the module its own
    build writes (never another tree's), the environment holds none, and the gold patch resolves."""
    repo = make_repo("vercalc")
    files = {"setup.py": GENERATING_SETUP, "VERSION": "1.0\n", "vercalc/__init__.py": VERSION_INIT,
             "tests/test_v.py": VERSION_TESTS, ".gitignore": "vercalc/_version.py\n"}
    c0 = repo.commit("v1", files)
    c1 = repo.commit("v2", {"VERSION": "2.0\n"})
    fixed = VERSION_INIT.replace("return s", "return s.upper()")
    tests = VERSION_TESTS + "\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    c2 = repo.commit("fix shout", {"vercalc/__init__.py": fixed, "tests/test_v.py": tests})
    with Workspace.create(repo.path / ".git", c0) as one, Workspace.create(repo.path / ".git", c1) as two:
        env = ensure_environment(one.path, resolution_date="2024-03-01")
        assert env.tree_build, "the build produced a module the tree lacks"
        assert env.prepare(two.path) == ["vercalc/_version.py"]
        assert env.prepare(one.path) == ["vercalc/_version.py"]
        assert "2.0" in (two.path / "vercalc/_version.py").read_text()
        assert "1.0" in (one.path / "vercalc/_version.py").read_text()
        # a patch to what the build reads (the gold patch to a C extension's source): the copy
        # placed before the patch is that tree's old build and must not shadow the new one
        (one.path / "VERSION").write_text("3.0\n")
        assert env.prepare(one.path) == ["vercalc/_version.py"]
        assert "3.0" in (one.path / "vercalc/_version.py").read_text()
        assert env.prepare(one.path) == []
    assert not [p for p in env.path.glob("lib/python*/site-packages/**/*")
                if "vercalc" in p.name and ".dist-info" not in str(p)]
    task = task_between(repo, c1, c2, ("vercalc",), ("tests/test_v.py::test_shout",),
                        ("tests/test_v.py::test_version",), statement="shout")
    assert evaluate(task, patch=task.patch).resolved
    assert not evaluate(task, patch="").resolved
    # an environment handed in (calibration's) still gets this workspace its generated module
    assert evaluate(task, patch=task.patch, env=env).resolved


METADATA_INIT = ("import importlib.metadata\n\n__version__ = importlib.metadata.version(__name__)\n\n\n"
                 "def shout(s):\n    return s\n")
METADATA_TESTS = "from metacalc import __version__, shout\n\n\ndef test_version():\n    assert __version__\n"
METADATA_PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
                      '[project]\nname = "metacalc"\nversion = "1.5"\n\n'
                      '[project.entry-points.pytest11]\nmetacalc = "metacalc"\n')


def test_a_project_reading_its_own_version_imports_from_the_workspace(make_repo):
    """``importlib.metadata.version(__name__)`` at import: the environment keeps the project's
    metadata (no file of code, no pytest plugin entry point), so the workspace's code imports and
    the gold patch resolves while the empty patch does not."""
    repo = make_repo("metacalc")
    c0 = repo.commit("v1", {"pyproject.toml": METADATA_PYPROJECT, "metacalc/__init__.py": METADATA_INIT,
                            "tests/test_m.py": METADATA_TESTS})
    fixed = METADATA_INIT.replace("return s", "return s.upper()")
    tests = METADATA_TESTS + "\n\ndef test_shout():\n    assert shout('a') == 'A'\n"
    c1 = repo.commit("fix shout", {"metacalc/__init__.py": fixed, "tests/test_m.py": tests})
    task = task_between(repo, c0, c1, ("metacalc",), ("tests/test_m.py::test_shout",),
                        ("tests/test_m.py::test_version",), statement="shout")
    assert evaluate(task, patch=task.patch).resolved
    assert not evaluate(task, patch="").resolved
    with Workspace.for_task(task) as ws:
        env = ensure_environment(ws.path, resolution_date=task.created_at)
    site = next(env.path.glob("lib/python*/site-packages"))
    assert not [p for p in site.rglob("*") if "metacalc" in str(p.relative_to(site)) and ".dist-info" not in str(p)]
    (info,) = site.glob("metacalc-*.dist-info")
    assert {p.name for p in info.iterdir()} <= {"INSTALLER", "METADATA", "RECORD", "entry_points.txt", "top_level.txt"}
    assert "pytest11" not in (info / "entry_points.txt").read_text()


EXT_SETUP = ('from setuptools import Extension, setup\n\n'
             'setup(name="extcalc", version="0.1", packages=["extcalc"],\n'
             '      ext_modules=[Extension("extcalc._speedups", ["extcalc/_speedups.c"])])\n')
EXT_INIT = ("try:\n    from extcalc._speedups import wrap\nexcept ImportError:\n"
            "    from extcalc._native import wrap\n")
EXT_NATIVE = "def wrap(s):\n    return s\n"
EXT_C = """#include <Python.h>
static PyObject *wrap(PyObject *self, PyObject *s) { return PySequence_Tuple(Py_BuildValue("(O)", s)); }
static PyMethodDef methods[] = {{"wrap", wrap, METH_O, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""
EXT_TESTS = "from extcalc import wrap\n\n\ndef test_same():\n    assert wrap('a') is not None\n"
EXT_TEST_FIX = "\n\ndef test_list():\n    assert wrap('a') == ['a']\n"


def test_a_fix_to_an_extensions_source_is_not_judged_by_the_extension_compiled_before_it(make_repo, tmp_path):
    """A C extension with a pure-Python fallback, the fix changing both the ``.c`` and the ``.py``
    (markupsafe's ``escape``): the extension placed in the workspace was compiled from the buggy
    ``.c``. Miner and evaluator alike drop it once the patch touches the source, so the gold patch
    resolves (the fallback runs) and the empty one still fails (the buggy extension runs)."""
    repo = make_repo("extcalc")
    repo.commit("wrap", {"setup.py": EXT_SETUP, "extcalc/__init__.py": EXT_INIT, "extcalc/_native.py": EXT_NATIVE,
                         "extcalc/_speedups.c": EXT_C, "tests/test_ext.py": EXT_TESTS, ".gitignore": "*.so\n"})
    fix = repo.commit("wrap in a list", {
        "extcalc/_native.py": EXT_NATIVE.replace("return s", "return [s]"),
        "extcalc/_speedups.c": EXT_C.replace('PySequence_Tuple(Py_BuildValue("(O)", s))', 'Py_BuildValue("[O]", s)'),
        "tests/test_ext.py": EXT_TESTS + EXT_TEST_FIX})
    tasks, rejections = mine_repo(repo, tmp_path / "ts")
    task = task_of(tasks, rejections, fix)
    assert task.FAIL_TO_PASS == ("tests/test_ext.py::test_list",)
    assert evaluate(task, patch=task.patch).resolved
    assert not evaluate(task, patch="").resolved
