"""Code compiled under a file's name: the file's own text passes, whatever library compiles it.

coverage.py (``phystokens.compile_unicode``) compiles each measured file with its encoding
declaration rewritten as a comment; arrow's honest suite under pytest-cov was judged tampered for
it (tune fix 7cccf6a703). The rule stays: any line of code that differs is a finding.
"""

from __future__ import annotations

import importlib.util

import pytest

from taskset.evaluation.runner import PLUGIN_DIR
from taskset.evaluation.verdict import VerdictProblem, evaluate
from test_adversarial import FIXED, assert_not_resolved, calc_task

HEADER = "# -*- coding: utf-8 -*-\n"


def _filetext():
    spec = importlib.util.spec_from_file_location("loopctl_filetext_under_test", PLUGIN_DIR / "loopctl_filetext.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("source, held, same", [
    (b"x = 1\n", b"x = 1\n", True),
    (b"def f():\n    return 2\n", b"x = 1\n\ndef f():\n    return 2\n", True),
    (b"# (deleted declaration) -*- coding: utf-8 -*-\nx = 1\n", b"# -*- coding: utf-8 -*-\nx = 1\n", True),
    (b"#!/usr/bin/env python\n# (deleted declaration)\nx = 1\n",
     b"#!/usr/bin/env python\n# coding=latin-1\nx = 1\n", True),
    (b"# (deleted declaration)\nx = 2\n", b"# -*- coding: utf-8 -*-\nx = 1\n", False),
    (b"x = 2\nx = 1\n", b"# -*- coding: utf-8 -*-\nx = 1\n", False),
    (b"# comment\ny = 1\nx = 1\n", b"y = 0\ny = 1\nx = 1\n", False),
])
def test_a_files_text_with_its_header_comment_rewritten_is_still_its_text(source, held, same):
    """Whole file, a piece of it, or a header comment rewritten: the same code. A changed line of code is not."""
    assert _filetext().holds(held, source) is same


COVERAGE_LIKE = (
    "\n\ndef _measure():\n"
    "    # what coverage.py does to every file it measures: neuter the declaration, compile\n"
    "    with open(__file__, encoding='utf-8') as handle:\n"
    "        text = handle.read()\n"
    "    text = text.replace('-*- coding', '(deleted declaration) -*- coding', 1)\n"
    "    return compile(text, __file__, 'exec')\n\n\n"
    "_measure()\n"
)


def test_the_fix_compiled_as_coverage_compiles_it_is_resolved(make_repo, python_project_env):
    """A candidate (the gold fix) whose file is compiled with its encoding declaration neutered."""
    task = calc_task(make_repo, buggy=HEADER + FIXED.replace("a + b", "a - b"), fixed=HEADER + FIXED)
    verdict = evaluate(task, edits={"calc.py": HEADER + FIXED + COVERAGE_LIKE}, env=python_project_env)
    assert verdict.resolved and verdict.problem is VerdictProblem.RESOLVED, verdict.message


def test_other_code_compiled_under_the_files_name_with_a_neutered_header_is_tampered(make_repo, python_project_env):
    """The same move with one line of code changed on the way is a finding, header or not."""
    task = calc_task(make_repo, buggy=HEADER + FIXED.replace("a + b", "a - b"), fixed=HEADER + FIXED)
    forged = COVERAGE_LIKE.replace("    return compile(",
                                   "    text = text.replace('a - b', 'a + b')\n    return compile(")
    buggy = HEADER + FIXED.replace("a + b", "a - b")
    verdict = evaluate(task, edits={"calc.py": buggy + forged}, env=python_project_env)
    assert_not_resolved(verdict, VerdictProblem.TAMPERED)
    assert "which does not hold it" in verdict.message, verdict.message
