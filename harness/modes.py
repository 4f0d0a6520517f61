"""How an attempt ends: the evaluator's vocabulary extended with what can go wrong before it.

``FailureMode`` extends ``taskset.VerdictProblem``: every verdict the evaluator can give is a
failure mode with the same name and value, followed by the harness's own modes for answers that
never reached the evaluator. Python enums with members cannot be subclassed, so the extension is
one enum listing both (written out, so that type checkers see the members; a test keeps the first
part equal to ``VerdictProblem``).

Infrastructure modes (the model's server or the machine failed, not the answer) are never
counted as a model's failure: such an attempt is retried on the next run and shown apart in
every table (the rule is stated in docs/harness.md).
"""

from __future__ import annotations

import enum
import re

from taskset.evaluation.verdict import VerdictProblem


class FailureMode(str, enum.Enum):
    """How one attempt ended; ``resolved`` is the only success.

    The members of ``VerdictProblem`` first, in its order and with its names and values, then the
    harness's own. (An enum with members cannot be subclassed; tests/test_harness_units.py checks
    that the first part is exactly ``VerdictProblem``, so adding a verdict fails there until it is
    added here.)
    """

    # taskset.evaluation.verdict.VerdictProblem
    RESOLVED = "resolved"
    UNSAFE_EDIT = "unsafe-edit"
    EDITS_TOUCH_TESTS = "edits-touch-tests"
    PATCH_DOES_NOT_APPLY = "patch-does-not-apply"
    TESTS_FAILED = "tests-failed"
    TESTS_TIMEOUT = "tests-timeout"
    ENV_FAILED = "env-failed"
    TAMPERED = "tampered"
    # the harness's own: answers that never reached the evaluator
    API_ERROR = "api-error"
    TIMEOUT = "timeout"
    CONTEXT_OVERFLOW = "context-overflow"
    TRUNCATED = "truncated"
    RUNAWAY = "runaway"
    EMPTY_RESPONSE = "empty-response"
    EMPTY_EDITS = "empty-edits"
    FORMAT_VIOLATION = "format-violation"


INFRASTRUCTURE = frozenset({FailureMode.API_ERROR, FailureMode.TIMEOUT, FailureMode.ENV_FAILED})
"""Modes that say nothing about the model: retried on a rerun, never counted as its failure."""

DESCRIPTIONS = {
    FailureMode.RESOLVED: "every FAIL_TO_PASS and PASS_TO_PASS test passed",
    FailureMode.UNSAFE_EDIT: "an edit reached outside the workspace or into .git",
    FailureMode.EDITS_TOUCH_TESTS: "an edit changed the task's tests",
    FailureMode.PATCH_DOES_NOT_APPLY: "the diff or a SEARCH text does not match the files",
    FailureMode.TESTS_FAILED: "the tests ran and a required test did not pass",
    FailureMode.TESTS_TIMEOUT: "the test run exceeded its timeout",
    FailureMode.ENV_FAILED: "the task's environment or workspace could not be made (infrastructure)",
    FailureMode.TAMPERED: "the candidate interfered with how it is judged (attempted cheating)",
    FailureMode.API_ERROR: "the model's server refused or failed the request (infrastructure)",
    FailureMode.TIMEOUT: "the model call exceeded the tier's timeout (infrastructure)",
    FailureMode.CONTEXT_OVERFLOW: "the prompt does not fit the model's context, even trimmed",
    FailureMode.TRUNCATED: "the answer hit the output limit before it was complete",
    FailureMode.RUNAWAY: "the model repeated itself until it was stopped",
    FailureMode.EMPTY_RESPONSE: "the answer was empty",
    FailureMode.EMPTY_EDITS: "the answer changes nothing",
    FailureMode.FORMAT_VIOLATION: "the answer is not in the requested edit format",
}


def is_infrastructure(mode: FailureMode) -> bool:
    """True when an attempt ending in ``mode`` failed for reasons outside the model's answer."""
    return mode in INFRASTRUCTURE


BROKEN_ENVIRONMENT = re.compile(
    r"wrote no JUnit report|No module named '(?:_?pytest|pluggy|iniconfig|encodings)\b"
    r"|interpreter did not start|interpreter (?:cannot start|does not run)")
"""What a failure of the environment itself looked like in a verdict's message, before the evaluator
re-verified the environment under every failed run: pytest's own modules missing, no report written,
the interpreter gone."""


def stale_environment_failure(mode: FailureMode, message: str, env_checked: bool) -> bool:
    """True for an attempt an earlier version stored as ``tests-failed`` whose message shows a broken
    environment, not a failing candidate: it was never a verdict, so it is retried like an
    infrastructure failure. Verdicts of this version (``env_checked``) were re-verified already."""
    return not env_checked and mode is FailureMode.TESTS_FAILED and bool(BROKEN_ENVIRONMENT.search(message))


def from_verdict(problem: VerdictProblem) -> FailureMode:
    """The failure mode of an evaluator verdict (total: FailureMode lists every VerdictProblem)."""
    return FailureMode(VerdictProblem(problem).value)


# Provider error text -> mode; first match wins. Context overflow is checked before generic
# errors because every server reports it as a plain 400. The phrases are the servers' own:
# OpenAI and vLLM ("maximum context length is N tokens"), llama.cpp ("exceeds the available
# context size", type exceed_context_size_error), LM Studio, Together, Anthropic-style gateways.
_ERROR_TABLE: tuple[tuple[FailureMode, re.Pattern[str]], ...] = (
    (FailureMode.CONTEXT_OVERFLOW, re.compile(
        r"context[_ ]length|maximum context|context window|context size|exceed_context_size"
        r"|too many tokens|prompt is too long|input is too long|longer than the model's context"
        r"|exceeds the maximum allowed input length|greater than the context length", re.I)),
    (FailureMode.TIMEOUT, re.compile(r"timed? ?out|timeout", re.I)),
    (FailureMode.API_ERROR, re.compile(r".", re.S)),
)


def classify_error(text: str) -> FailureMode:
    """The failure mode for a provider's error message (never raises; unknown text is api-error)."""
    for mode, pattern in _ERROR_TABLE:
        if pattern.search(text):
            return mode
    return FailureMode.API_ERROR
