"""Why a commit did not become a task: a fixed vocabulary, each reason with its message.

Every commit the miner walks ends as a task or as a ``Rejection``; the reason is data
(a str Enum), so the funnel can count by it and users can filter ``rejections.jsonl``.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


class Reason(str, enum.Enum):
    """A rejection reason; ``message`` explains it in one line."""

    NOT_A_CANDIDATE = "not-a-candidate"
    NO_SOURCE_CHANGE = "no-source-change"
    NO_TEST_CHANGE = "no-test-change"
    NO_TEST_MODULE = "no-test-module"
    PATCH_DOES_NOT_APPLY = "patch-does-not-apply"
    INSTALL_FAILED = "install-failed"
    ENV_INCOMPATIBLE = "env-incompatible"
    TIMEOUT = "timeout"
    TEST_RUN_FAILED = "test-run-failed"
    NO_TESTS_RAN = "no-tests-ran"
    FLAKY = "flaky"
    COLLECTION_ERROR_AFTER_FIX = "collection-error-after-fix"
    UNRELATED_IMPORT_ERROR = "unrelated-import-error"
    GOLD_FAILS = "gold-fails"
    GOLD_BREAKS = "gold-breaks-tests"
    NO_FAIL_TO_PASS = "no-fail-to-pass"
    MINER_ERROR = "miner-error"
    NO_INTERPRETER = "no-interpreter"

    @property
    def retried(self) -> bool:
        """Whether the next run validates the commit again (no verdict on the commit itself)."""
        return self in (Reason.MINER_ERROR, Reason.NO_INTERPRETER)

    @property
    def message(self) -> str:
        """One line saying what the reason means."""
        return _MESSAGES[self]


_MESSAGES = {
    Reason.NOT_A_CANDIDATE: "the commit changes no Python source or tests (or has no parent)",
    Reason.NO_SOURCE_CHANGE: "the commit changes tests but no non-test Python source",
    Reason.NO_TEST_CHANGE: "the commit changes source but no Python test file",
    Reason.NO_TEST_MODULE: "the test-side change touches no test module to run",
    Reason.PATCH_DOES_NOT_APPLY: "the test patch or gold patch does not apply at the parent commit",
    Reason.INSTALL_FAILED: "the project's environment could not be installed at the parent commit",
    Reason.ENV_INCOMPATIBLE: "the tests fail to import before and after the fix (environment, not the bug)",
    Reason.TIMEOUT: "a test run hit the timeout",
    Reason.TEST_RUN_FAILED: "pytest could not be run or its report was unusable",
    Reason.NO_TESTS_RAN: "no touched test was collected and run with the fix applied",
    Reason.FLAKY: "a FAIL_TO_PASS test changed outcome between identical runs with the fix",
    Reason.COLLECTION_ERROR_AFTER_FIX: "touched tests cannot be collected even with the fix applied",
    Reason.UNRELATED_IMPORT_ERROR: "the buggy side only failed on an import of a name the fix does not add",
    Reason.GOLD_FAILS: "tests that fail before the fix still fail with it, and none goes from fail to pass",
    Reason.GOLD_BREAKS: "tests that pass before the fix fail with it (alone too)",
    Reason.NO_FAIL_TO_PASS: "no touched test fails before the fix and passes after it",
    Reason.MINER_ERROR: "validation stopped on an unexpected error (a miner bug: please report it)",
    Reason.NO_INTERPRETER: "no installed interpreter fits the commit (the detail names the one needed); "
                           "retried on the next run",
}


@dataclass(frozen=True)
class Rejection:
    """One commit that did not become a task, and why."""

    fix_commit: str
    reason: Reason
    detail: str = ""
    """What exactly went wrong (installer output tail, failing test ids, ...), trimmed."""
    subject: str = ""
    score: float = 0.0

    def to_json(self) -> str:
        """One JSONL line (no newline)."""
        data = asdict(self)
        data["reason"] = self.reason.value
        data["message"] = self.reason.message
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rejection:
        """Read a line written by ``to_json``."""
        return cls(
            fix_commit=str(data["fix_commit"]),
            reason=Reason(data["reason"]),
            detail=str(data.get("detail", "")),
            subject=str(data.get("subject", "")),
            score=float(data.get("score", 0.0)),
        )


INCOMPATIBLE = re.compile(
    r"cannot import name '\w+' from 'collections'"
    r"|No module named '(?:distutils|imp|asynchat|asyncore|pkg_resources)'"
    r"|section in setup\.cfg files is no longer supported"
    r"|use_2to3 is invalid"
    r"|module 'inspect' has no attribute 'getargspec'"
    r"|invalid command 'bdist_wheel'"
    r"|longintrepr\.h: No such file"
    # A project that turns warnings into errors imports a module this interpreter deprecated
    # (httpx's `import cgi` on 3.11 under filterwarnings=error): nothing can run, on either side.
    r"|DeprecationWarning: '\w+' is deprecated and slated for removal"
)
"""Install or pytest-start failures that mean "this commit predates the interpreter or tooling"."""

FAILURE_KINDS: tuple[tuple[Reason, re.Pattern[str]], ...] = ((Reason.ENV_INCOMPATIBLE, INCOMPATIBLE),)
"""(reason, pattern) over an installer's or pytest's output; first match wins."""


def classify_failure(output: str, default: Reason) -> Reason:
    """The reason an environment or test-run failure stands for: ``default`` unless a pattern matches."""
    return next((reason for reason, pattern in FAILURE_KINDS if pattern.search(output)), default)


def trim(text: str, limit: int = 2000) -> str:
    """Keep the tail of ``text`` (where errors are) within ``limit`` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return "...\n" + text[-limit:]
