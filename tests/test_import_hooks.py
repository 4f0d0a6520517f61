"""Import hooks judged by what they load: a project's own is its business, one that loads the tests is not.

amoffat/sh adds a finder to ``sys.meta_path`` when imported (``from sh import ls`` makes a
command); its honest fix of 2022 (5e693e4202) edits sh.py, so the gold run's sh.py is a file the
candidate wrote, and a finder from it was read as tampering. The task here has the same shape: a
``calc.py`` that installs a finder at import in its base tree, and a fix that edits ``calc.py``.
"""

from __future__ import annotations

import pytest

from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.record import Task
from test_adversarial import BUGGY, FIXED, TESTS, assert_not_resolved, calc_task
from test_machinery import disguised

HOOK = '''

import sys as _sys
from importlib.machinery import ModuleSpec as _Spec


class _Commands:
    """Like sh's importer: ``import calc_commands.<name>`` makes a module on the fly."""

    def find_spec(self, name, path=None, target=None):
        if name.startswith("calc_commands"):
            return _Spec(name, self, is_package=name == "calc_commands")
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.name = module.__name__.rpartition(".")[2]


if not any(isinstance(f, _Commands) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _Commands())
'''

HOOK_TESTS = TESTS + "\n\ndef test_commands():\n    import calc_commands.ls\n    assert calc_commands.ls.name == 'ls'\n"


@pytest.fixture
def hooked_task(make_repo) -> Task:
    return calc_task(make_repo, BUGGY + HOOK, FIXED + HOOK, HOOK_TESTS, ("tests/test_calc.py::test_commands",))


def test_an_import_hook_in_the_projects_own_code_is_not_tampering(hooked_task, python_project_env):
    """A finder the project installs at import, in a file the fix edits, that loads only the
    project's own modules: the gold patch resolves, the bug does not (amoffat/sh 5e693e4202)."""
    gold = evaluate(hooked_task, patch=hooked_task.patch, env=python_project_env)
    assert gold.resolved and not gold.message, gold.message
    assert_not_resolved(evaluate(hooked_task, patch="", env=python_project_env), VerdictProblem.TESTS_FAILED)


LOADS_THE_TESTS = """
_machinery = _m("importlib.", "machinery")
class _Loose(_machinery.SourceFileLoader):
    def exec_module(self, module):
        source = open(self.path).read().replace("assert ", "(lambda *a: None)and ")
        exec(compile(source, self.path, "exec"), vars(module))
class _Finder:
    def find_spec(self, name, path=None, target=None):
        if not name.split(".")[-1].startswith("test_"):
            return None
        spec = _machinery.PathFinder.find_spec(name, path, target)
        if spec is not None:
            spec.loader = _Loose(name, spec.origin)
        return spec
_hooks = getattr(_sys, "meta_" + "path")
_hooks.insert(0, _Finder())
"""

SHADOWS_THE_REWRITERS_LOADER = """
_hooks = getattr(_sys, "meta_" + "path")
_rewriter = [h for h in _hooks if type(h).__name__ == "AssertionRewritingHook"][0]
_exec = _rewriter.exec_module
def _exec_module(module):
    _exec(module)
    if hasattr(module, "test_add"):
        module.test_add = module.test_mul
_rewriter.exec_module = _exec_module
"""


@pytest.mark.parametrize(
    "code, caught_by",
    [(LOADS_THE_TESTS, "loader of test_calc was replaced by code from calc.py"),
     (SHADOWS_THE_REWRITERS_LOADER, "loader of test_calc was replaced by code that lies")],
    ids=["a-finder-that-loads-the-tests", "the-rewriters-loader-patched-on-the-instance"],
)
def test_an_import_hook_that_loads_the_tests_is_tampering(python_project_env, make_repo, code, caught_by):
    """A candidate's finder that loads the test modules itself (here: with its asserts defused), or
    the assertion rewriter's own loader patched on the instance: ``tampered``, and the message
    names the module whose loader gave it away."""
    task = calc_task(make_repo)
    verdict = evaluate(task, edits={"calc.py": disguised(code)}, env=python_project_env)
    assert_not_resolved(verdict, VerdictProblem.TAMPERED)
    assert caught_by in verdict.message, verdict.message
