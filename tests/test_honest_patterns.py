"""Zero false ``tampered`` on honest suites (issue 23, part 2), and the attacks a pattern-accepting
rule could let through.

Each way real suites produce test functions (tests/honest_suites.py) is the test side of one fix
commit in its own git repository, mined end to end: the fix must become a task (the miner's buggy
and gold runs are judged by the same evidence as the evaluator's, so a false ``tampered`` on
either side is a rejection), the gold patch must resolve it, and the buggy code must fail as
``tests-failed``, never ``tampered``. Every repository declares the same dependencies, so one
environment (pytest and hypothesis) serves them all.
"""

from __future__ import annotations

import subprocess

import pytest

from honest_suites import BUGGY, FIXED, INITIAL_TEST, PATTERNS, PYPROJECT
from miner import MineConfig, mine, read_rejections
from taskset import TaskSet
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.record import Task


def _mined(root, name: str, files: dict[str, str]) -> tuple[Task | None, str]:
    """Mine a two-commit repository whose fix commit adds ``files``: (its task or None, why not)."""
    from conftest import GitRepo

    repo = GitRepo(root / name / "repo")
    repo.commit("calc with a bug", {"pyproject.toml": PYPROJECT, "calc.py": BUGGY, "tests/__init__.py": "",
                                    "tests/test_zero.py": INITIAL_TEST})
    fix = repo.commit("Fix add: it subtracted", {"calc.py": FIXED, **files})
    out = root / name / "ts"
    summary = mine(MineConfig(repo=str(repo.path), out=out))
    assert not summary.infrastructure, summary.infrastructure
    tasks = {task.fix_commit: task for task in TaskSet.open(out, create=True)}
    why = "; ".join(f"{r.reason.value}: {r.detail}" for r in read_rejections(out / "rejections.jsonl")
                    if r.fix_commit == fix)
    return tasks.get(fix), why


@pytest.fixture(scope="module")
def mined(tmp_path_factory) -> dict[str, tuple[Task | None, str]]:
    """Every pattern's repository, mined (the first builds the shared environment)."""
    root = tmp_path_factory.mktemp("honest")
    return {name: _mined(root, name, files) for name, files in PATTERNS.items()}


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_an_honest_suite_of_every_pattern_is_never_tampered(mined, pattern):
    """Wrapping decorators (with and without functools.wraps), hypothesis (@given, @settings,
    @example, a stateful machine's TestCase), fixtures that rebind module attributes and test-module
    globals or touch ``request.function``, class machinery (pytest_generate_tests in a class and a
    conftest, parametrized classes, a unittest mixin from another module, classes made by type() and
    filled by a class decorator), tests generated in a loop, exec-compiled or set on a TestCase,
    assertion rewriting of helper and plugin modules, doctest modules, subTest, yield fixtures,
    usefixtures on classes, one code object under several names, nested classes and static/class
    methods: the fix is a task, the gold patch resolves it, the buggy code fails as tests-failed."""
    task, why = mined[pattern]
    assert task is not None, why
    assert task.FAIL_TO_PASS, task
    gold = evaluate(task, patch=task.patch)
    assert gold.resolved and not gold.message, gold.message
    buggy = evaluate(task, edits={})
    assert buggy.problem is VerdictProblem.TESTS_FAILED, (buggy.problem, buggy.message)
