"""The verdict on one candidate, from its buggy run and its gold runs: pure, no I/O.

FAIL_TO_PASS = failed (or could not be collected) on the buggy code and passed in every gold
run; PASS_TO_PASS = passed on both sides. Only ids pytest really collected and ran are kept.
A buggy-side import error counts as a failure only when the gold patch adds the missing name.
Tests failing on both sides sink nothing (they are recorded); tests the gold patch breaks do.
``judge`` reads the module runs; ``confirm`` re-checks a verdict in the evaluator's own shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from miner.rejections import Reason
from miner.split import added_files, added_lines
from taskset.evaluation.junit import Outcome, TestResult
from taskset.record import FailKind, FailMode

IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
ASSERTIONS = ("AssertionError", "Failed", "")
"""A failed check in the test itself: ``assert``, ``pytest.fail``, ``pytest.raises`` that did not raise."""

_MISSING_NAME = re.compile(r"cannot import name '?([A-Za-z_]\w*)'?")
_MISSING_MODULE = re.compile(r"No module named '?([A-Za-z_][\w.]*)'?")

Results = Mapping[str, TestResult]
FAILING = frozenset({Outcome.FAILED, Outcome.ERROR})
_MISSING = TestResult("", Outcome.MISSING)


@dataclass(frozen=True)
class Judgement:
    """A proven task's test lists, or the reason (and detail) it is not one."""

    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    fail_modes: dict[str, FailMode] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    """Buggy-run failure text per FAIL_TO_PASS test."""
    reason: Reason | None = None
    detail: str = ""
    failing_both: dict[str, str] = field(default_factory=dict)
    """Tests that fail before and after the fix (each with its failure's first line): in neither list."""
    order_dependent: tuple[str, ...] = ()
    """Tests whose outcome changed with what ran beside them (module run vs alone or the task's selection)."""


def suspects(buggy: Results, golds: Sequence[Results]) -> list[str]:
    """Tests to rerun alone before judging: they ran on both sides and failed in every gold run,
    after passing, or failing differently, on the buggy code. One failing the same way on both
    sides (the same missing binary) fails alone too: rerunning it would only cost time."""
    found = []
    for test, result in golds[0].items():
        if "::" not in test or result.outcome not in FAILING:
            continue
        if any(g.get(test, _MISSING).outcome not in FAILING for g in golds[1:]):
            continue
        before = buggy_result(buggy, test)
        if before is None or before.outcome in (Outcome.SKIPPED, Outcome.MISSING):
            continue
        if before.outcome is Outcome.PASSED or _failure_line(before) != _failure_line(result):
            found.append(test)
    return found


def judge(buggy: Results, golds: Sequence[Results], patch: str, alone: Results | None = None) -> Judgement:
    """Decide FAIL_TO_PASS/PASS_TO_PASS, or the rejection reason, from the module runs' results.

    ``alone`` holds gold-side reruns of ``suspects`` on their own: a test that failed in its
    module's run but passes alone is order-dependent, not failing (it joins FAIL_TO_PASS if it
    failed before, and neither list if it passed before). A test failing on both sides belongs to
    neither list and sinks nothing; a test the gold patch breaks (passed before, fails after, alone
    too) rejects the candidate.
    """
    first = golds[0]
    alone = alone or {}
    ran = [t for t, r in first.items() if "::" in t and r.outcome is not Outcome.MISSING]
    flaky, f2p, p2p, unrelated, broken, order = [], [], [], [], [], []
    both: dict[str, str] = {}
    modes: dict[str, FailMode] = {}
    messages: dict[str, str] = {}
    for test in ran:
        outcomes = {g.get(test, _MISSING).outcome for g in golds}
        before = buggy_result(buggy, test)
        if before is None or before.outcome in (Outcome.SKIPPED, Outcome.MISSING):
            continue  # never ran on the buggy code: neither list may hold it
        passes_alone = test in alone and alone[test].outcome is Outcome.PASSED and outcomes <= FAILING
        if before.outcome is Outcome.PASSED:
            if outcomes == {Outcome.PASSED}:
                p2p.append(test)
            elif passes_alone:
                order.append(test)
            elif outcomes <= FAILING:
                broken.append(test)
            continue
        if len(outcomes) > 1:
            flaky.append(test)
        elif outcomes != {Outcome.PASSED} and not passes_alone:
            if outcomes <= FAILING:
                both[test] = _failure_line(first[test])
        elif before.collection_error and not import_error_fixed(before, patch):
            unrelated.append(test)
        else:
            f2p.append(test)
            modes[test] = fail_mode(before)
            messages[test] = before.message
            if passes_alone:
                order.append(test)
    if flaky:
        return Judgement(reason=Reason.FLAKY, detail="outcome changed between gold runs: " + ", ".join(flaky[:10]))
    if f2p and broken:
        return Judgement(reason=Reason.GOLD_BREAKS,
                         detail="passed before the fix, fail with it: " + ", ".join(broken[:10]),
                         failing_both=both, order_dependent=tuple(order))
    if f2p:
        return Judgement(tuple(f2p), tuple(p2p), modes, messages, failing_both=both, order_dependent=tuple(order))
    reason, detail = _why_not(buggy, first, ran, unrelated, list(both) + broken)
    return Judgement(reason=reason, detail=detail, failing_both=both, order_dependent=tuple(order))


def confirm(verdict: Judgement, golds: Sequence[Results], buggy: Results) -> Judgement:
    """Check a proven verdict in the shape the evaluator runs it: only FAIL_TO_PASS + PASS_TO_PASS selected.

    ``golds`` are gold runs of that selection, ``buggy`` one run of it on the buggy code. A
    FAIL_TO_PASS test that does not fail on the buggy code, or (being order-dependent) does not
    pass with the fix, is dropped and recorded as order-dependent; one that was stable before and
    now fails with the fix is flaky. PASS_TO_PASS tests that do not pass on both sides are dropped.
    """
    if verdict.reason is not None:
        return verdict
    order = list(verdict.order_dependent)
    f2p, flaky = [], []
    for test in verdict.fail_to_pass:
        after = {g.get(test, _MISSING).outcome for g in golds}
        before = buggy_result(buggy, test)
        if after != {Outcome.PASSED}:
            if test in order:
                continue
            flaky.append(test)
        elif before is not None and before.outcome in (Outcome.PASSED, Outcome.SKIPPED):
            order.append(test)  # failed before only beside tests the selection leaves out
        else:
            f2p.append(test)
    if flaky:
        return replace(verdict, fail_to_pass=(), pass_to_pass=(), reason=Reason.FLAKY,
                       detail="passed with the fix in the module run, then not in the task's own selection: "
                       + ", ".join(flaky[:10]))
    p2p: list[str] = []
    for test in verdict.pass_to_pass:
        buggy_outcome = buggy.get(test, _MISSING).outcome
        if buggy_outcome is Outcome.PASSED and all(g.get(test, _MISSING).outcome is Outcome.PASSED for g in golds):
            p2p.append(test)
        elif test not in order:
            order.append(test)
    if not f2p:
        return replace(verdict, fail_to_pass=(), pass_to_pass=(), reason=Reason.NO_FAIL_TO_PASS,
                       order_dependent=tuple(order),
                       detail="no FAIL_TO_PASS test fails on the buggy code when run as the task's own selection: "
                       + ", ".join(verdict.fail_to_pass[:10]))
    return replace(
        verdict,
        fail_to_pass=tuple(f2p),
        pass_to_pass=tuple(p2p),
        fail_modes={t: m for t, m in verdict.fail_modes.items() if t in f2p},
        messages={t: m for t, m in verdict.messages.items() if t in f2p},
        order_dependent=tuple(dict.fromkeys(order)),
    )


def _why_not(
    buggy: Results, gold: Results, ran: list[str], unrelated: list[str], failing: list[str]
) -> tuple[Reason, str]:
    """The reason a candidate with no FAIL_TO_PASS test is rejected, most specific first."""
    broken = [r for t, r in gold.items() if r.collection_error]
    if broken:
        both = [r for r in broken if r.exception in IMPORT_ERRORS and _buggy_broken(buggy, r.nodeid)]
        reason = Reason.ENV_INCOMPATIBLE if both else Reason.COLLECTION_ERROR_AFTER_FIX
        return reason, _first_line(broken[0])
    if not ran:
        return Reason.NO_TESTS_RAN, "no test was collected and run with the fix applied"
    if unrelated:
        return Reason.UNRELATED_IMPORT_ERROR, _first_line(buggy_result(buggy, unrelated[0]))
    gold_failing = [t for t in ran if gold[t].outcome in (Outcome.FAILED, Outcome.ERROR)]
    if failing or gold_failing:
        return Reason.GOLD_FAILS, "failing with the fix: " + ", ".join((failing or gold_failing)[:10])
    return Reason.NO_FAIL_TO_PASS, f"{len(ran)} tests ran; none failed on the buggy code"


def buggy_result(buggy: Results, test: str) -> TestResult | None:
    """The test's buggy-run result, or the collection error of its file (or package) that hid it."""
    if test in buggy:
        return buggy[test]
    path = test.split("::", 1)[0]
    for key, result in buggy.items():
        if result.collection_error and (path == key or path.startswith(key.rstrip("/") + "/")):
            return TestResult(test, Outcome.ERROR, 0.0, result.message, result.exception, True)
    return None


def import_error_fixed(result: TestResult, patch: str) -> bool:
    """True unless the collection error is an import of something the gold patch does not add."""
    if result.exception not in IMPORT_ERRORS:
        return True  # a module-level NameError/AttributeError on the buggy code: the bug itself
    name = _MISSING_NAME.search(result.message)
    if name:
        word = re.compile(rf"\b{re.escape(name.group(1))}\b")
        return any(word.search(line) for line in added_lines(patch))
    module = _MISSING_MODULE.search(result.message)
    if module:
        tail = module.group(1).replace(".", "/")
        stems = [re.sub(r"(/__init__)?\.py$", "", path) for path in added_files(patch)]
        return any(stem == tail or stem.endswith("/" + tail) for stem in stems)
    return False


def fail_mode(result: TestResult) -> FailMode:
    """How a test failed on the buggy code: assertion, another exception (named), or collection."""
    if result.collection_error:
        return FailMode(FailKind.COLLECTION, result.exception)
    if result.outcome is Outcome.FAILED and result.exception in ASSERTIONS:
        return FailMode(FailKind.ASSERTION, "AssertionError")
    return FailMode(FailKind.EXCEPTION, result.exception or "error")


def _failure_line(result: TestResult) -> str:
    """The one line that says how a test failed: its ``E`` line, else its exception name."""
    lines = [line.strip() for line in result.message.splitlines() if line.strip()]
    error = next((line[1:].strip() for line in lines if line.startswith("E ")), "")
    return (error or result.exception or result.outcome.value)[:300]


def _buggy_broken(buggy: Results, key: str) -> bool:
    result = buggy.get(key)
    return result is not None and result.collection_error and result.exception in IMPORT_ERRORS


def _first_line(result: TestResult | None) -> str:
    if result is None:
        return ""
    lines = [line for line in result.message.splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith("E ")), lines[-1] if lines else "")
    return f"{result.nodeid}: {error.strip()}"[:500]
