"""The evaluator: real git repositories, real workspaces, a real environment, real pytest runs."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from cli import cli
from factories import git_diff, task_between
from taskset.evaluation.feedback import FEEDBACK_LIMIT
from taskset.evaluation.junit import Outcome
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.record import Task
from taskset.store import TaskSet

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
OLD_TESTS = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
NEW_TESTS = OLD_TESTS + "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
NEW_TESTS = NEW_TESTS.replace("from calc import mul", "from calc import add, mul")
F2P = "tests/test_calc.py::test_add"
P2P = "tests/test_calc.py::test_mul"


@pytest.fixture
def task(make_repo) -> Task:
    """A one-bug task: add() subtracts; the fix adds test_add (FAIL_TO_PASS) beside test_mul."""
    repo = make_repo("calc")
    base = repo.commit("calc with a bug", {"calc.py": BUGGY, "tests/test_calc.py": OLD_TESTS})
    fix = repo.commit("fix add", {"calc.py": FIXED, "tests/test_calc.py": NEW_TESTS})
    return task_between(repo, base, fix, ("calc.py",), (F2P,), (P2P,), statement="add() subtracts")


@pytest.fixture
def env(python_project_env):
    return python_project_env


def test_gold_patch_resolves(task, env):
    """The fix's own source diff resolves the task: every FAIL_TO_PASS and PASS_TO_PASS test passed."""
    verdict = evaluate(task, patch=task.patch, env=env)
    assert verdict.resolved and verdict.problem is VerdictProblem.RESOLVED
    assert verdict.fail_to_pass == {F2P: Outcome.PASSED} and verdict.pass_to_pass == {P2P: Outcome.PASSED}
    assert verdict.feedback == ""


def test_empty_patch_does_not_resolve(task, env):
    """The buggy code fails FAIL_TO_PASS: tests-failed, with the failure in the feedback."""
    verdict = evaluate(task, patch="", env=env)
    assert not verdict.resolved and verdict.problem is VerdictProblem.TESTS_FAILED
    assert verdict.fail_to_pass == {F2P: Outcome.FAILED} and verdict.pass_to_pass == {P2P: Outcome.PASSED}
    assert F2P in verdict.feedback and "AssertionError" in verdict.feedback
    assert P2P not in verdict.feedback


def test_edits_form_resolves(task, env):
    """Whole-file edits are judged like a diff."""
    assert evaluate(task, edits={"calc.py": FIXED}, env=env).resolved


def test_editing_tests_cannot_pass_edits_form(task, env):
    """An edit to a test file cannot turn a failing verdict into a passing one (edits form)."""
    cheat = NEW_TESTS.replace("assert add(2, 3) == 5", "assert True")
    verdict = evaluate(task, edits={"tests/test_calc.py": cheat}, env=env)
    assert not verdict.resolved and verdict.problem is VerdictProblem.EDITS_TOUCH_TESTS
    assert "tests" in verdict.feedback


def test_editing_tests_cannot_pass_diff_form(task, env, make_repo):
    """An edit to a test file cannot turn a failing verdict into a passing one (diff form)."""
    cheat = make_repo("cheat")
    base = cheat.commit("tests", {"tests/test_calc.py": NEW_TESTS})
    after = cheat.commit("cheat", {"tests/test_calc.py": NEW_TESTS.replace("== 5", "== -1")})
    verdict = evaluate(task, patch=git_diff(cheat, base, after), env=env)
    assert not verdict.resolved and verdict.problem is VerdictProblem.EDITS_TOUCH_TESTS


def test_unsafe_edit_is_a_verdict(task, env):
    """An edit outside the workspace is refused as unsafe-edit, a verdict rather than an exception."""
    verdict = evaluate(task, edits={"../escape.py": "x = 1\n"}, env=env)
    assert verdict.problem is VerdictProblem.UNSAFE_EDIT and not verdict.resolved
    assert "escape.py" in verdict.message


def test_patch_that_does_not_apply_is_a_verdict(task, env):
    """A diff that does not apply is patch-does-not-apply, with git's complaint in the message."""
    bogus = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def nope():\n-    pass\n+    return 1\n"
    verdict = evaluate(task, patch=bogus, env=env)
    assert verdict.problem is VerdictProblem.PATCH_DOES_NOT_APPLY and verdict.message
    assert "does not apply" in verdict.feedback


# Spelled so that the static screen of the diff lets it through (loaded, it passes every test,
# JUnit report included): what is tested is that the configuration loading it never applies.
CHEAT_PLUGIN = """def _flip(report):
    report.outcome = "passed"
    report.longrepr = None


_flip.tryfirst = True
globals()["py" + "test_runtest_logreport"] = _flip
"""


def test_candidate_pytest_config_does_not_reach_the_verdict(task, env):
    """A candidate's pytest.ini/pyproject addopts (loading a plugin that passes every test) is undone."""
    cheat = {"cheat_plugin.py": CHEAT_PLUGIN, "pytest.ini": "[pytest]\naddopts = -p cheat_plugin\n"}
    verdict = evaluate(task, edits=cheat, env=env)
    assert not verdict.resolved and verdict.fail_to_pass == {F2P: Outcome.FAILED}


@pytest.mark.parametrize("path", ["sitecustomize.py", "src/usercustomize.py", "evil.pth"])
def test_interpreter_startup_files_are_refused(task, env, path):
    """Files Python runs at start-up (sitecustomize, usercustomize, *.pth) are never written."""
    verdict = evaluate(task, edits={path: "import os\n", "calc.py": FIXED}, env=env)
    assert not verdict.resolved and verdict.problem is VerdictProblem.UNSAFE_EDIT
    assert "start-up" in verdict.message


def test_shipped_bytecode_is_not_used(task, env, tmp_path):
    """A candidate cannot ship bytecode: an unchecked-hash .pyc of the fix (which Python would load
    without looking at the source) is cleared before the tests run."""
    source = tmp_path / "calc.py"
    source.write_text(FIXED)
    compile_pyc = (
        "import py_compile, sys\n"
        "py_compile.compile(sys.argv[1], cfile=sys.argv[2],\n"
        "                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
        "print(sys.implementation.cache_tag)\n"
    )
    pyc = tmp_path / "calc.pyc"
    tag = subprocess.run([str(env.python), "-c", compile_pyc, str(source), str(pyc)],
                         capture_output=True, text=True, check=True).stdout.strip()
    shipped = f"__pycache__/calc.{tag}.pyc"
    premise = tmp_path / "premise"
    (premise / "__pycache__").mkdir(parents=True)
    (premise / "calc.py").write_text(BUGGY)
    (premise / shipped).write_bytes(pyc.read_bytes())
    probe = subprocess.run([str(env.python), "-c", "import calc; print(calc.add(2, 3))"], cwd=premise,
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "5"  # the premise: Python would run the shipped fix
    verdict = evaluate(task, edits={shipped: pyc.read_bytes()}, env=env)
    assert not verdict.resolved and verdict.fail_to_pass == {F2P: Outcome.FAILED}


def test_hanging_code_is_tests_timeout(task, env):
    """A candidate that hangs the tests is killed at the timeout and judged tests-timeout."""
    hang = FIXED.replace("return a + b", "import time\n    time.sleep(600)")
    verdict = evaluate(task, edits={"calc.py": hang}, timeout=3, env=env)
    assert verdict.problem is VerdictProblem.TESTS_TIMEOUT and not verdict.resolved
    assert verdict.fail_to_pass == {F2P: Outcome.MISSING}


def test_skipped_fail_to_pass_is_not_resolved(task, env):
    """A skipped FAIL_TO_PASS test is not a pass (the candidate skips it from the code under test)."""
    skipper = "import pytest\n" + FIXED.replace("return a + b", "pytest.skip('not today')")
    verdict = evaluate(task, edits={"calc.py": skipper}, env=env)
    assert verdict.fail_to_pass == {F2P: Outcome.SKIPPED} and not verdict.resolved
    assert "SKIPPED" in verdict.feedback


def test_missing_fail_to_pass_is_not_resolved(task, env):
    """A FAIL_TO_PASS id that is never collected is missing, not resolved."""
    ghost = Task(**{**task.__dict__, "FAIL_TO_PASS": (F2P, "tests/test_calc.py::test_ghost")})
    verdict = evaluate(ghost, patch=ghost.patch, env=env)
    assert verdict.fail_to_pass["tests/test_calc.py::test_ghost"] is Outcome.MISSING
    assert not verdict.resolved and verdict.problem is VerdictProblem.TESTS_FAILED


def test_collection_error_is_not_resolved(task, env):
    """A candidate that breaks the test module's imports gives errors with collection_error set."""
    verdict = evaluate(task, edits={"calc.py": "import no_such_module_anywhere\n"}, env=env)
    assert verdict.fail_to_pass == {F2P: Outcome.ERROR} and verdict.pass_to_pass == {P2P: Outcome.ERROR}
    assert verdict.results[F2P].collection_error
    assert "no_such_module_anywhere" in verdict.feedback


def test_tests_argument_replaces_the_task_tests(task, env):
    """``tests=`` runs exactly those ids; resolved then means every one of them passed."""
    verdict = evaluate(task, patch="", tests=[P2P], env=env)
    assert verdict.resolved and set(verdict.results) == {P2P}
    assert verdict.fail_to_pass == {} and verdict.pass_to_pass == {P2P: Outcome.PASSED}


def test_no_tests_is_not_resolved(task, env):
    """A task (or a tests= list) naming no tests is never resolved: nothing failing proves nothing."""
    verdict = evaluate(task, patch=task.patch, tests=[], env=env)
    assert not verdict.resolved and verdict.problem is VerdictProblem.TESTS_FAILED
    assert "no tests" in verdict.message


def test_feedback_stays_compact(task, env):
    """However long the failure text, the feedback stays under the limit."""
    noisy = FIXED.replace("return a + b", "raise ValueError('x' * 50000)")
    verdict = evaluate(task, edits={"calc.py": noisy}, env=env)
    assert not verdict.resolved and len(verdict.feedback) <= FEEDBACK_LIMIT + 100
    assert "ValueError" in verdict.feedback


def test_verdict_to_dict_is_json(task, env):
    """A verdict serialises to JSON with enum values."""
    data = json.loads(json.dumps(evaluate(task, patch="", env=env).to_dict()))
    assert data["problem"] == "tests-failed" and data["fail_to_pass"] == {F2P: "failed"}


def test_cli_evaluate(task, env, tmp_path, monkeypatch):
    """``loopctl evaluate`` prints the verdict; exit 0 when resolved, 1 when not, 2 on bad input."""
    taskset_dir = tmp_path / "ts"
    TaskSet.open(taskset_dir, create=True).add(task)
    runner = CliRunner()
    gold = runner.invoke(cli, ["evaluate", str(taskset_dir), task.instance_id, "--gold"])
    assert gold.exit_code == 0, gold.output
    assert "resolved" in gold.output and F2P in gold.output
    empty = runner.invoke(cli, ["evaluate", str(taskset_dir), task.instance_id, "--empty", "--json"])
    assert empty.exit_code == 1, empty.output
    assert json.loads(empty.output)["problem"] == "tests-failed"
    unknown = runner.invoke(cli, ["evaluate", str(taskset_dir), "nope", "--gold"])
    assert unknown.exit_code == 2
