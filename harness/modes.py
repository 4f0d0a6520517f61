"""How an attempt ends: the evaluator's vocabulary extended with what can go wrong before it.

``FailureMode`` is built from ``taskset.VerdictProblem``: every verdict the evaluator can give is
a failure mode with the same name and value (generated here, never re-typed), followed by the
harness's own modes for answers that never reached the evaluator. Python enums with members
cannot be subclassed, so the extension is one enum made from both lists.

Infrastructure modes (the model's server or the machine failed, not the answer) are never
counted as a model's failure: such an attempt is retried on the next run and shown apart in
every table (the rule is stated in docs/harness.md).
"""

from __future__ import annotations

import enum
import re

from taskset.evaluate import VerdictProblem

_HARNESS_MODES = (
    ("API_ERROR", "api-error"),
    ("TIMEOUT", "timeout"),
    ("CONTEXT_OVERFLOW", "context-overflow"),
    ("TRUNCATED", "truncated"),
    ("RUNAWAY", "runaway"),
    ("EMPTY_RESPONSE", "empty-response"),
    ("EMPTY_EDITS", "empty-edits"),
    ("FORMAT_VIOLATION", "format-violation"),
)

FailureMode = enum.Enum(  # type: ignore[misc]
    "FailureMode",
    [(member.name, member.value) for member in VerdictProblem] + list(_HARNESS_MODES),
    type=str,
    module=__name__,
    qualname="FailureMode",
)
FailureMode.__doc__ = """How one attempt ended; ``resolved`` is the only success.

Members: every ``VerdictProblem`` (resolved, unsafe-edit, edits-touch-tests, patch-does-not-apply,
tests-failed, tests-timeout, env-failed, tampered), then api-error, timeout, context-overflow,
truncated, runaway, empty-response, empty-edits, format-violation.
"""

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


def from_verdict(problem: VerdictProblem) -> FailureMode:
    """The failure mode of an evaluator verdict (total: FailureMode is built from VerdictProblem)."""
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
