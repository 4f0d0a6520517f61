"""The verdict on one candidate, from its buggy run and its gold runs: pure, no I/O.

FAIL_TO_PASS = failed (or could not be collected) on the buggy code and passed in every gold
run; PASS_TO_PASS = passed on both sides. Only ids pytest really collected and ran are kept.
A buggy-side import error counts as a failure only when the gold patch adds the missing name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from taskset.junit import Outcome, TestResult
from taskset.record import FailKind, FailMode

from miner.rejections import Reason
from miner.split import added_files, added_lines

IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
ASSERTIONS = ("AssertionError", "Failed", "")
"""A failed check in the test itself: ``assert``, ``pytest.fail``, ``pytest.raises`` that did not raise."""

_MISSING_NAME = re.compile(r"cannot import name '?([A-Za-z_]\w*)'?")
_MISSING_MODULE = re.compile(r"No module named '?([A-Za-z_][\w.]*)'?")

Results = Mapping[str, TestResult]


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


def judge(buggy: Results, golds: Sequence[Results], patch: str) -> Judgement:
    """Decide FAIL_TO_PASS/PASS_TO_PASS, or the rejection reason, from the runs' results."""
    first = golds[0]
    ran = [t for t, r in first.items() if "::" in t and r.outcome is not Outcome.MISSING]
    flaky, f2p, p2p, unrelated, still_failing = [], [], [], [], []
    modes: dict[str, FailMode] = {}
    messages: dict[str, str] = {}
    for test in ran:
        outcomes = {g.get(test, TestResult(test, Outcome.MISSING)).outcome for g in golds}
        before = buggy_result(buggy, test)
        if before is None or before.outcome in (Outcome.SKIPPED, Outcome.MISSING):
            continue  # never ran on the buggy code: neither list may hold it
        if before.outcome is Outcome.PASSED:
            if outcomes == {Outcome.PASSED}:
                p2p.append(test)
            continue
        if len(outcomes) > 1:
            flaky.append(test)
        elif outcomes != {Outcome.PASSED}:
            still_failing.append(test)
        elif before.collection_error and not import_error_fixed(before, patch):
            unrelated.append(test)
        else:
            f2p.append(test)
            modes[test] = fail_mode(before)
            messages[test] = before.message
    if flaky:
        return Judgement(reason=Reason.FLAKY, detail="outcome changed between gold runs: " + ", ".join(flaky[:10]))
    if f2p:
        return Judgement(tuple(f2p), tuple(p2p), modes, messages)
    reason, detail = _why_not(buggy, first, ran, unrelated, still_failing)
    return Judgement(reason=reason, detail=detail)


def _why_not(buggy: Results, gold: Results, ran: list[str], unrelated: list[str], failing: list[str]) -> tuple[Reason, str]:
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


def _buggy_broken(buggy: Results, key: str) -> bool:
    result = buggy.get(key)
    return result is not None and result.collection_error and result.exception in IMPORT_ERRORS


def _first_line(result: TestResult | None) -> str:
    if result is None:
        return ""
    lines = [line for line in result.message.splitlines() if line.strip()]
    error = next((line for line in lines if line.startswith("E ")), lines[-1] if lines else "")
    return f"{result.nodeid}: {error.strip()}"[:500]
