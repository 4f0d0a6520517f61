"""Feedback for a retry: what the evaluator saw, compact enough to hand back to a model.

Pure text formatting: the failing tests with their trimmed failure text, or the refusal and
its reason. The whole text stays under ``FEEDBACK_LIMIT`` characters however many tests fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from taskset.evaluation.junit import Outcome, TestResult, result_for, trim

FEEDBACK_LIMIT = 4000
"""Characters of feedback at most."""

PER_TEST_LIMIT = 1200
"""Characters of failure text for one test (head and tail); fewer when many tests fail."""

_HEADLINES = {
    "unsafe-edit": (
        "Your change was refused: it writes where a fix may not (outside the source files, into package "
        "metadata, or a module that would shadow how the tests start)."
    ),
    "tampered": (
        "Your change interfered with how the tests run or report their results, so it was not accepted. "
        "Fix the code under test; do not touch the test machinery."
    ),
    "edits-touch-tests": (
        "Your change was refused: it edits the task's tests. Fix the code under test; "
        "the tests are restored before every verdict."
    ),
    "patch-does-not-apply": "Your patch does not apply to the repository at the base commit.",
    "tests-timeout": "The test run did not finish within its time limit and was killed (an infinite loop?).",
    "env-failed": "The test environment could not be built; the tests did not run.",
    "tests-failed": "The tests do not pass yet.",
}

_WORDS = {
    Outcome.FAILED: "FAILED",
    Outcome.ERROR: "ERROR",
    Outcome.SKIPPED: "SKIPPED (a skip is not a pass)",
    Outcome.MISSING: "NOT RUN (never collected)",
}


def feedback_for(
    problem: str,
    message: str,
    tests: Sequence[str],
    results: Mapping[str, TestResult],
    output: str = "",
) -> str:
    """The retry text for a verdict that is not resolved."""
    parts = [_HEADLINES.get(problem, problem)]
    if message:
        parts.append(trim(message, 1500))
    failing = [result_for(t, results) for t in tests]
    failing = [r for r in failing if r.outcome is not Outcome.PASSED]
    if failing:
        parts.append(_tests_section(failing, FEEDBACK_LIMIT - sum(len(p) for p in parts) - 200))
    elif output and problem in ("tests-failed", "tests-timeout"):
        parts.append("Test output (tail):\n" + output[-1500:])
    return trim("\n\n".join(parts), FEEDBACK_LIMIT)


def _tests_section(failing: list[TestResult], budget: int) -> str:
    """One block per failing test; each test's text shrinks so that all of them fit ``budget``."""
    shown = failing[:10]
    each = max(200, min(PER_TEST_LIMIT, budget // max(1, len(shown)) - 100))
    blocks = []
    for result in shown:
        kind = f" ({result.exception})" if result.exception else ""
        where = " while importing the test module" if result.collection_error else ""
        head = f"{_WORDS.get(result.outcome, result.outcome.value)}{where}: {result.nodeid}{kind}"
        text = result.message.strip("\n").rstrip()
        blocks.append(head + ("\n" + trim(text, each) if text else ""))
    if len(failing) > len(shown):
        blocks.append(f"... and {len(failing) - len(shown)} more failing tests")
    return f"{len(failing)} of the required tests do not pass:\n\n" + "\n\n".join(blocks)
