"""The audit hook holds against a candidate the functions it wrote, not every line of a file it edited.

amoffat/sh's import finder reads its caller's frame on every import; its fix of 2022 (5e693e4202)
edits sh.py elsewhere, and the gold run was judged tampered ("sys._getframe from a file the
candidate wrote (sh.py)"). Here ``calc.py`` has a helper that reads its caller's frame, called by
``add``; the fix edits ``add``, never the helper.
"""

from __future__ import annotations

import pytest

from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.evaluation.written import added_line_numbers
from taskset.record import Task
from test_adversarial import assert_not_resolved, calc_task

FRAMED = (
    "import sys\n\n\n"
    "def _caller():\n"
    "    return sys._getframe(1).f_code.co_name  # the project's own frame access\n\n\n"
    "def add(a, b):\n"
    "    assert _caller() == 'add'\n"
    "    return a - b\n\n\n"
    "def mul(a, b):\n"
    "    return a * b\n"
)
FIXED = FRAMED.replace("a - b", "a + b")


@pytest.fixture
def framed_task(make_repo) -> Task:
    return calc_task(make_repo, FRAMED, FIXED)


def test_frame_access_in_code_the_candidate_did_not_touch_is_not_tampering(framed_task, python_project_env):
    """The fix edits ``add``; the frame access is in ``_caller``, a function of the base tree it did
    not touch: resolved, as if calc.py were untouched."""
    verdict = evaluate(framed_task, patch=framed_task.patch, env=python_project_env)
    assert verdict.resolved and not verdict.message, verdict.message


def test_frame_access_in_a_function_the_candidate_edited_is_still_reported(framed_task, python_project_env):
    """One added line inside ``_caller`` makes it the candidate's: the same frame access is tampering."""
    line = "    return sys._getframe(1)"
    edited = FIXED.replace(line, "    checked = True  # a line of its own\n" + line)
    verdict = evaluate(framed_task, edits={"calc.py": edited}, env=python_project_env)
    assert_not_resolved(verdict, VerdictProblem.TAMPERED)
    assert "sys._getframe from a file the candidate wrote (calc.py)" in verdict.message, verdict.message


def test_added_lines_come_from_the_workspace_git_and_new_files_stay_whole(make_repo):
    """Line numbers are those of the file as it is now; a file git does not track (new) is left out,
    so the hook keeps it suspect whole."""
    repo = make_repo("lines")
    repo.commit("base", {"calc.py": "a = 1\nb = 2\nc = 3\n"})
    (repo.path / "calc.py").write_text("a = 1\nnew = 0\nb = 2\nc = 4\n")
    (repo.path / "extra.py").write_text("x = 1\n")
    found = added_line_numbers(repo.path, ["calc.py", "extra.py"])
    assert found == {str(repo.path / "calc.py"): [2, 4]}
