"""The fixed vocabulary of how an attempt ends, and the table that classifies error text.

Infrastructure modes (the model or the evaluator could not be reached, not a wrong answer) are
marked so that reports can state how they count: they count as failed attempts for every
strategy (a ladder that depends on a flaky endpoint pays for it) and are listed apart in the
failure-mode catalog so a run dominated by them is seen for what it is.
"""

from __future__ import annotations

import enum
import re


class FailureMode(str, enum.Enum):
    """How one attempt ended; ``resolved`` is the only success."""

    API_ERROR = "api-error"
    TIMEOUT = "timeout"
    CONTEXT_OVERFLOW = "context-overflow"
    TRUNCATED = "truncated"
    EMPTY_RESPONSE = "empty-response"
    EMPTY_EDITS = "empty-edits"
    FORMAT_VIOLATION = "format-violation"
    UNSAFE_EDIT = "unsafe-edit"
    EDITS_TOUCH_TESTS = "edits-touch-tests"
    PATCH_DOES_NOT_APPLY = "patch-does-not-apply"
    TESTS_FAILED = "tests-failed"
    TESTS_TIMEOUT = "tests-timeout"
    ENV_FAILED = "env-failed"
    RESOLVED = "resolved"

    @property
    def infrastructure(self) -> bool:
        """True when the attempt failed for reasons outside the model's answer."""
        return self in INFRASTRUCTURE


INFRASTRUCTURE = frozenset({FailureMode.API_ERROR, FailureMode.TIMEOUT, FailureMode.ENV_FAILED})

# Provider error text -> mode; first match wins. Context overflow is checked before generic
# errors because servers report it as a plain 400.
_ERROR_TABLE: tuple[tuple[FailureMode, re.Pattern[str]], ...] = (
    (FailureMode.CONTEXT_OVERFLOW, re.compile(r"context[_ ]length|maximum context|context window|too many tokens|prompt is too long", re.I)),
    (FailureMode.TIMEOUT, re.compile(r"timed? ?out|timeout", re.I)),
    (FailureMode.API_ERROR, re.compile(r".", re.S)),
)


def classify_error(text: str) -> FailureMode:
    """The failure mode for a provider's error message (never raises; unknown text is api-error)."""
    for mode, pattern in _ERROR_TABLE:
        if pattern.search(text):
            return mode
    return FailureMode.API_ERROR


def from_verdict(problem: str) -> FailureMode:
    """Map an evaluator VerdictProblem value onto the failure vocabulary (the names are shared)."""
    try:
        return FailureMode(problem)
    except ValueError:
        return FailureMode.ENV_FAILED
