"""A project whose pytest config distributes its tests with pytest-xdist (``addopts = -n 2``).

xdist's workers are fresh interpreters: no audit hook, no channel, no per-test code check, so
code under test running there would be judged by nothing but the reports it chose to send. The
evaluator runs such a suite in its own process instead; the honest suite still passes, and an
attack on pytest's machinery is seen as it is without xdist.
"""

from __future__ import annotations

import textwrap

import pytest

from conftest import PROJECT_ENV_DATE, write_minimal_project
from factories import task_between
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.record import Task
from test_adversarial import BUGGY, CONFTEST, FIXED
from test_machinery import ITEM_SETUP, TRACE_AND_REWRITE_LOCALS, disguised

TESTS = (
    "import os\n\nfrom calc import add, mul\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n\n\n"
    "def test_in_one_process():\n    assert 'PYTEST_XDIST_WORKER' not in os.environ\n"
)


@pytest.fixture(scope="module")
def xdist_env(tmp_path_factory):
    """The minimal project's environment with pytest-xdist beside pytest."""
    from taskset.env.environment import ensure_environment

    source = write_minimal_project(tmp_path_factory.mktemp("xdist-env") / "project")
    return ensure_environment(source, resolution_date=PROJECT_ENV_DATE, extra_requirements=("pytest-xdist",))


def _task(make_repo, *more_p2p: str) -> Task:
    repo = make_repo("calc")
    base = repo.commit("calc with a bug", {"calc.py": BUGGY, "pytest.ini": "[pytest]\naddopts = -n 2\n",
                                           "tests/conftest.py": CONFTEST, "tests/test_calc.py": TESTS})
    fix = repo.commit("fix add", {"calc.py": FIXED})
    return task_between(repo, base, fix, ("calc.py",), ("tests/test_calc.py::test_add",),
                        ("tests/test_calc.py::test_mul", *more_p2p), tests=(), statement="add() subtracts")


@pytest.fixture
def task(make_repo) -> Task:
    """test_add fails on the bug; test_mul passes either way."""
    return _task(make_repo)


def test_an_honest_xdist_suite_runs_in_the_evaluators_own_process(make_repo, xdist_env):
    """The gold patch is resolved, and every test ran where the evaluator watches (no xdist worker)."""
    task = _task(make_repo, "tests/test_calc.py::test_in_one_process")
    verdict = evaluate(task, patch=task.patch, env=xdist_env)
    assert verdict.resolved and verdict.problem is VerdictProblem.RESOLVED, verdict


def test_an_attack_on_pytest_under_xdist_is_tampered(task, xdist_env):
    """The item-setup attack of tests/test_machinery.py (the failing test swapped for a passing one),
    from a project that distributes its tests: seen as it is without xdist."""
    verdict = evaluate(task, edits={"calc.py": disguised(ITEM_SETUP)}, env=xdist_env)
    assert not verdict.resolved, verdict
    assert verdict.problem is VerdictProblem.TAMPERED, verdict
    assert "Function.setup was replaced by code from calc.py" in verdict.message, verdict.message


def test_an_attack_that_waits_for_an_xdist_worker_never_runs_unwatched(task, xdist_env):
    """An attacker who knows the evaluator watches only its own process: the assert-rewriting trace
    of tests/test_machinery.py, armed only inside an xdist worker. There is none: the bug stays."""
    armed = "if 'PYTEST_XDIST_WORKER' in _os.environ:\n" + textwrap.indent(TRACE_AND_REWRITE_LOCALS, "    ")
    verdict = evaluate(task, edits={"calc.py": disguised(armed)}, env=xdist_env)
    assert not verdict.resolved, verdict
    assert verdict.problem is VerdictProblem.TESTS_FAILED, verdict
