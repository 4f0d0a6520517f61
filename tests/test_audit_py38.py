"""Python 3.8's import system raises ``code.__new__`` for every code object it reads from a .pyc.

amoffat/sh's honest runs on 3.8 (tune fixes e2cb0202ee, e3c49895cc) were judged tampered: the gold
patch edits ``sh.py``, whose module-level ``import getpass`` made the standard library's bytecode
look like code built under getpass.py's name by the candidate. An environment's or the standard
library's own bytecode, read as it is imported, is nobody's act; anything else still is.
"""

from __future__ import annotations

import pytest

from conftest import PROJECT_ENV_DATE, write_minimal_project
from taskset.env import pythons
from taskset.evaluation.verdict import VerdictProblem, evaluate
from test_adversarial import FIXED, calc_task
from test_written_lines import FRAMED

PY38 = pythons.find_python("3.8")
pytestmark = pytest.mark.skipif(PY38 is None, reason="no Python 3.8 on this machine (pyenv)")


@pytest.fixture(scope="module")
def env38(tmp_path_factory):
    """The minimal project's environment on Python 3.8."""
    from taskset.env.environment import ensure_environment

    source = write_minimal_project(tmp_path_factory.mktemp("env38") / "project")
    return ensure_environment(source, python=PY38, resolution_date=PROJECT_ENV_DATE)


def test_a_fixed_module_that_imports_the_standard_library_is_resolved_on_38(make_repo, env38):
    """The fix's module imports stdlib modules at its top (read from their .pyc): resolved."""
    task = calc_task(make_repo)
    verdict = evaluate(task, edits={"calc.py": "import getpass\nimport queue\n\n\n" + FIXED}, env=env38)
    assert verdict.resolved and verdict.problem is VerdictProblem.RESOLVED, verdict.message


def test_frame_access_in_a_function_the_fix_left_alone_is_not_tampering_on_38(make_repo, env38):
    """Before 3.10 there is no ``co_lines``: the function's lines come from its line table, so a
    fix of ``add`` is not held to the frame access in ``_caller`` (sh on 3.8: e2cb0202ee)."""
    task = calc_task(make_repo, FRAMED, FRAMED.replace("a - b", "a + b"))
    verdict = evaluate(task, patch=task.patch, env=env38)
    assert verdict.resolved and not verdict.message, verdict.message


def test_frame_access_in_a_function_the_candidate_edited_is_reported_on_38(make_repo, env38):
    """One added line inside ``_caller`` makes it the candidate's, on 3.8 as on 3.11."""
    task = calc_task(make_repo, FRAMED, FRAMED.replace("a - b", "a + b"))
    line = "    return sys._getframe(1)"
    edited = FRAMED.replace("a - b", "a + b").replace(line, "    checked = True  # a line of its own\n" + line)
    verdict = evaluate(task, edits={"calc.py": edited}, env=env38)
    assert not verdict.resolved and verdict.problem is VerdictProblem.TAMPERED, verdict.message
    assert "sys._getframe from a file the candidate wrote (calc.py)" in verdict.message, verdict.message
