"""The verdict rules, on result values as the runner reports them (pure: no runs needed)."""

from __future__ import annotations

from miner.judge import confirm, judge, suspects
from miner.rejections import Reason
from taskset.evaluation.junit import Outcome, TestResult
from taskset.record import FailKind

P, F, E, S, M = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED, Outcome.MISSING
GOLD_ADDS_SLUG = (
    "diff --git a/pkg/text.py b/pkg/text.py\n--- a/pkg/text.py\n+++ b/pkg/text.py\n"
    "@@ -1 +1,3 @@\n x = 1\n+def slug(s):\n+    return s\n"
)
GOLD_ADDS_MODULE = (
    "diff --git a/pkg/newmod.py b/pkg/newmod.py\nnew file mode 100644\n--- /dev/null\n+++ b/pkg/newmod.py\n"
    "@@ -0,0 +1 @@\n+VALUE = 1\n"
)


def r(nodeid, outcome, exception="", message="", collection=False):
    return TestResult(nodeid, outcome, 0.1, message, exception, collection)


def results(*items):
    return {item.nodeid: item for item in items}


def test_fail_to_pass_and_pass_to_pass():
    """FAIL_TO_PASS failed before and passed after; PASS_TO_PASS passed both times."""
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::b", P))
    gold = results(r("t.py::a", P), r("t.py::b", P))
    verdict = judge(buggy, [gold, gold], GOLD_ADDS_SLUG)
    assert verdict.reason is None
    assert verdict.fail_to_pass == ("t.py::a",)
    assert verdict.pass_to_pass == ("t.py::b",)
    assert verdict.fail_modes["t.py::a"].kind is FailKind.ASSERTION


def test_exception_failure_is_labelled_with_its_name():
    """A FAIL_TO_PASS test that raised on the buggy code is labelled exception, with the name."""
    buggy = results(r("t.py::a", F, "ZeroDivisionError"))
    verdict = judge(buggy, [results(r("t.py::a", P))], "")
    assert verdict.fail_modes["t.py::a"].kind is FailKind.EXCEPTION
    assert verdict.fail_modes["t.py::a"].exception == "ZeroDivisionError"


def test_collection_error_counts_when_the_gold_patch_adds_the_name():
    """A buggy-side ImportError counts as failing-before when the gold patch adds the missing name."""
    msg = "ImportError: cannot import name 'slug' from 'pkg.text'"
    buggy = results(r("tests/test_x.py", E, "ImportError", msg, collection=True))
    gold = results(r("tests/test_x.py::test_slug", P))
    verdict = judge(buggy, [gold, gold], GOLD_ADDS_SLUG)
    assert verdict.fail_to_pass == ("tests/test_x.py::test_slug",)
    assert verdict.fail_modes["tests/test_x.py::test_slug"].kind is FailKind.COLLECTION
    assert verdict.fail_modes["tests/test_x.py::test_slug"].exception == "ImportError"


def test_missing_module_added_by_the_gold_patch_counts():
    """ModuleNotFoundError for a module the gold patch creates is the new API, not the environment."""
    msg = "ModuleNotFoundError: No module named 'pkg.newmod'"
    buggy = results(r("tests/test_x.py", E, "ModuleNotFoundError", msg, collection=True))
    verdict = judge(buggy, [results(r("tests/test_x.py::test_v", P))], GOLD_ADDS_MODULE)
    assert verdict.fail_to_pass == ("tests/test_x.py::test_v",)


def test_import_error_the_fix_merely_avoids_is_not_a_task():
    """A buggy-side import error of a name the gold patch does not add is unrelated-import-error."""
    msg = "ModuleNotFoundError: No module named 'six'"
    buggy = results(r("tests/test_x.py", E, "ModuleNotFoundError", msg, collection=True))
    verdict = judge(buggy, [results(r("tests/test_x.py::test_v", P))], GOLD_ADDS_SLUG)
    assert verdict.reason is Reason.UNRELATED_IMPORT_ERROR
    assert verdict.fail_to_pass == ()


def test_import_failure_on_both_sides_is_env_incompatible():
    """Tests that fail to import before and after the fix point at the environment, not a bug."""
    msg = "ImportError: cannot import name 'Mapping' from 'collections'"
    broken = results(r("tests/test_x.py", E, "ImportError", msg, collection=True))
    verdict = judge(broken, [broken, broken], GOLD_ADDS_SLUG)
    assert verdict.reason is Reason.ENV_INCOMPATIBLE


def test_collection_error_only_after_fix():
    """Touched tests that cannot be collected with the fix: collection-error-after-fix."""
    buggy = results(r("tests/test_x.py::test_a", P))
    gold = results(r("tests/test_x.py", E, "SyntaxError", "SyntaxError: bad", collection=True))
    assert judge(buggy, [gold], "").reason is Reason.COLLECTION_ERROR_AFTER_FIX


def test_flipping_fail_to_pass_test_is_flaky():
    """A FAIL_TO_PASS test that passes once after the fix and fails on the rerun is flaky."""
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::b", F, "AssertionError"))
    first = results(r("t.py::a", P), r("t.py::b", P))
    second = results(r("t.py::a", P), r("t.py::b", F, "AssertionError"))
    verdict = judge(buggy, [first, second], "")
    assert verdict.reason is Reason.FLAKY
    assert "t.py::b" in verdict.detail


def test_skipped_or_missing_tests_are_never_kept():
    """Every id kept is one pytest collected and ran on both sides: skipped/missing ids are dropped."""
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::s", S), r("t.py::m", M), r("t.py::p", P))
    gold = results(r("t.py::a", P), r("t.py::s", P), r("t.py::m", P), r("t.py::p", S), r("t.py::new", P))
    verdict = judge(buggy, [gold], "")
    assert verdict.fail_to_pass == ("t.py::a",)
    assert verdict.pass_to_pass == ()


def test_still_failing_with_the_fix_is_gold_fails():
    """Tests that fail before and still fail with the fix make no task: gold-fails."""
    buggy = results(r("t.py::a", F, "AssertionError"))
    assert judge(buggy, [results(r("t.py::a", F, "AssertionError"))], "").reason is Reason.GOLD_FAILS


def test_all_passing_is_no_fail_to_pass():
    """A fix whose tests already pass on the buggy code proves nothing: no-fail-to-pass."""
    same = results(r("t.py::a", P))
    assert judge(same, [same, same], "").reason is Reason.NO_FAIL_TO_PASS


def test_nothing_ran_is_no_tests_ran():
    """A gold run that ran no test is no-tests-ran, never a pass."""
    assert judge({}, [results(r("tests/test_x.py", M))], "").reason is Reason.NO_TESTS_RAN


def test_pytest_raises_that_did_not_raise_is_an_assertion():
    """pytest's ``Failed`` (pytest.raises did not raise, pytest.fail) is a failed check: assertion."""
    buggy = results(r("t.py::a", F, "Failed", "Failed: DID NOT RAISE <class 'ValueError'>"))
    verdict = judge(buggy, [results(r("t.py::a", P))], "")
    assert verdict.fail_modes["t.py::a"].kind is FailKind.ASSERTION


def test_a_test_failing_on_both_sides_sinks_nothing_and_is_recorded():
    """A test that fails before and after (a missing binary) is in neither list, recorded with its
    failure; the candidate stays a task when another test really goes from fail to pass."""
    env_bound = "E   FileNotFoundError: [Errno 2] No such file or directory: 'hg'"
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::hg", F, "FileNotFoundError", env_bound),
                    r("t.py::b", P))
    gold = results(r("t.py::a", P), r("t.py::hg", F, "FileNotFoundError", env_bound), r("t.py::b", P))
    verdict = judge(buggy, [gold], "")
    assert verdict.reason is None
    assert verdict.fail_to_pass == ("t.py::a",) and verdict.pass_to_pass == ("t.py::b",)
    assert verdict.failing_both == {"t.py::hg": "FileNotFoundError: [Errno 2] No such file or directory: 'hg'"}


def test_a_test_the_gold_patch_breaks_rejects_the_candidate():
    """A test that passed before and fails with the fix (alone too) is gold-breaks-tests."""
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::b", P))
    gold = results(r("t.py::a", P), r("t.py::b", F, "AssertionError"))
    assert suspects(buggy, [gold]) == ["t.py::b"]
    verdict = judge(buggy, [gold], "", alone=results(r("t.py::b", F, "AssertionError")))
    assert verdict.reason is Reason.GOLD_BREAKS and "t.py::b" in verdict.detail


def test_a_test_failing_only_in_its_module_run_is_order_dependent():
    """Failing after the fix in the module run but passing alone: judged by its alone run, recorded
    as order-dependent (FAIL_TO_PASS if it failed before; neither list if it passed before)."""
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::b", P), r("t.py::c", F, "AssertionError"))
    gold = results(r("t.py::a", F, "AssertionError"), r("t.py::b", F, "AssertionError"), r("t.py::c", P))
    alone = results(r("t.py::a", P), r("t.py::b", P))
    verdict = judge(buggy, [gold], "", alone=alone)
    assert verdict.reason is None
    assert verdict.fail_to_pass == ("t.py::a", "t.py::c") and verdict.pass_to_pass == ()
    assert set(verdict.order_dependent) == {"t.py::a", "t.py::b"}


def test_a_test_failing_the_same_way_on_both_sides_is_not_rerun_alone():
    """Only tests whose failure changed with the fix (or that passed before) are rerun alone."""
    same = "E   FileNotFoundError: 'hg'"
    buggy = results(r("t.py::hg", F, "FileNotFoundError", same),
                    r("t.py::x", F, "AssertionError", "E   assert None == 1"))
    gold = results(r("t.py::hg", F, "FileNotFoundError", same), r("t.py::x", F, "AssertionError", "E   assert 2 == 1"))
    assert suspects(buggy, [gold]) == ["t.py::x"]


def test_confirm_drops_what_does_not_hold_in_the_evaluators_selection():
    """Rerun as the evaluator runs it (FAIL_TO_PASS + PASS_TO_PASS only): a FAIL_TO_PASS test that
    passes on the buggy code is dropped as order-dependent; so is a PASS_TO_PASS test that fails."""
    buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::c", F, "AssertionError"), r("t.py::p", P))
    gold = results(r("t.py::a", P), r("t.py::c", P), r("t.py::p", P))
    verdict = judge(buggy, [gold], "")
    sel_buggy = results(r("t.py::a", F, "AssertionError"), r("t.py::c", P), r("t.py::p", F, "AssertionError"))
    final = confirm(verdict, [results(r("t.py::a", P), r("t.py::c", P), r("t.py::p", P))], sel_buggy)
    assert final.reason is None
    assert final.fail_to_pass == ("t.py::a",) and final.pass_to_pass == ()
    assert set(final.order_dependent) == {"t.py::c", "t.py::p"}
    assert set(final.fail_modes) == {"t.py::a"}


def test_confirm_flags_a_stable_fail_to_pass_test_that_fails_with_the_fix_as_flaky():
    """A FAIL_TO_PASS test that passed in the module run and fails in the selection run flipped: flaky."""
    buggy = results(r("t.py::a", F, "AssertionError"))
    verdict = judge(buggy, [results(r("t.py::a", P))], "")
    final = confirm(verdict, [results(r("t.py::a", F, "AssertionError"))], buggy)
    assert final.reason is Reason.FLAKY and final.fail_to_pass == ()


def test_confirm_with_nothing_left_is_no_fail_to_pass():
    """Every FAIL_TO_PASS test passing on the buggy code in the selection run: no task."""
    buggy = results(r("t.py::a", F, "AssertionError"))
    verdict = judge(buggy, [results(r("t.py::a", P))], "")
    final = confirm(verdict, [results(r("t.py::a", P))], results(r("t.py::a", P)))
    assert final.reason is Reason.NO_FAIL_TO_PASS and final.order_dependent == ("t.py::a",)


def test_a_missing_module_is_found_behind_each_way_tests_miss_it(tmp_path):
    """The module to install is read from pytest's output when a conftest stopped it (``No module
    named``, or a NameError for a name a conftest binds by a guarded import), and from a test
    module's NameError on both sides when that module binds the name only by a guarded import;
    not for a name bound otherwise, and never for the project's own module or the stdlib."""
    from miner import remedy
    from taskset.evaluation.junit import Outcome, TestResult

    (tmp_path / "calc.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("try:\n    import yaml\nexcept ImportError:\n    pass\n")
    (tmp_path / "tests" / "test_a.py").write_text(
        "try:\n    from hypothesis import given as check\nexcept (ImportError, AttributeError):\n    pass\n"
        "helper = None\n")
    stopped = "ImportError while loading conftest\nE   ModuleNotFoundError: No module named 'trustme'\n"
    assert remedy.missing_module(stopped, {}, {}, "", tmp_path) == "trustme"
    assert remedy.missing_module("E   NameError: name 'yaml' is not defined\n", {}, {}, "", tmp_path) == "yaml"
    assert remedy.missing_module("No module named 'calc'", {}, {}, "", tmp_path) == ""
    assert remedy.missing_module("No module named 'json'", {}, {}, "", tmp_path) == ""

    def both(message):
        result = TestResult("tests/test_a.py", Outcome.ERROR, 0.0, message, "NameError", True)
        return {"tests/test_a.py": result}, {"tests/test_a.py": result}

    assert remedy.missing_module("", *both("E   NameError: name 'check' is not defined"), "", tmp_path) == "hypothesis"
    assert remedy.missing_module("", *both("E   NameError: name 'helper' is not defined"), "", tmp_path) == ""


def test_the_projects_own_pin_for_a_missing_module_comes_before_its_bare_name(tmp_path):
    """A pinned line the project names for the module is tried first, its bare name next; with no
    line, the usual distribution of the import name alone."""
    from miner import remedy

    (tmp_path / "requirements.txt").write_text("simplejson==3.6.5\n")
    assert remedy.requirements_for(tmp_path, "simplejson") == ("simplejson==3.6.5", "simplejson")
    assert remedy.requirements_for(tmp_path, "yaml") == ("PyYAML",)
