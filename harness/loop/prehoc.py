"""A pre-hoc difficulty score: what is known about a task before any model tries it.

The ``heuristic`` and ``cascade`` strategies route on it. Difficulty calibrated by running the
same tiers on the same tasks would leak the outcome into the routing (a strategy scored on the
very runs that labelled it), so neither looks at calibration. The features are those the prompt
itself carries::

    score = 5 x (files shown - 1) + (failing tests - 1, at most 10) + prompt size in 1,000 tokens
            + 3 if a failing test raised an exception before the fix, 6 if it failed to import

A one-file fix with one failing assertion and a 3,000-token prompt scores 3; two files, an
exception and 8,000 tokens score 16. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from taskset.record import FailKind, Task

CHARS_PER_TOKEN = 3.0
KIND_WEIGHT = {FailKind.ASSERTION.value: 0.0, FailKind.EXCEPTION.value: 3.0, FailKind.COLLECTION.value: 6.0, "": 0.0}
HEURISTIC_CUTS = (10.0, 20.0)
"""Scores below the first start the heuristic at the bottom rung, below the second mid-ladder, else at the top."""
DEFAULT_THRESHOLDS = (5.0, 10.0, 15.0, 20.0, 25.0)
"""The cascade sweep when --cascade-thresholds is not given."""
SCORE_RULE = ("5 x (files shown - 1) + (failing tests - 1, at most 10) + prompt size in 1,000 tokens "
              "+ 3 if a failing test raised an exception before the fix, 6 if it failed to import")


@dataclass(frozen=True)
class Features:
    """The pre-hoc facts of one task."""

    files: int
    """Source files the prompt shows."""
    failing_tests: int
    """FAIL_TO_PASS tests."""
    prompt_ktokens: float
    """Problem statement, failure output and shown files, in thousands of estimated tokens."""
    fail_kind: str = ""
    """The worst way a failing test failed before the fix: assertion, exception, collection ("" unknown)."""

    @property
    def score(self) -> float:
        """The pre-hoc difficulty score (higher is harder)."""
        return round(5.0 * max(self.files - 1, 0) + min(max(self.failing_tests - 1, 0), 10) + self.prompt_ktokens
                     + KIND_WEIGHT.get(self.fail_kind, 0.0), 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the score."""
        return {**asdict(self), "score": self.score}


def features(task: Task, sources: Mapping[str, str]) -> Features:
    """The pre-hoc features of ``task`` with the files its prompt shows."""
    chars = len(task.problem_statement) + len(task.failure_output) + sum(len(text) for text in sources.values())
    kinds = [mode.kind.value for mode in task.meta.fail_modes.values()]
    worst = max(kinds, key=lambda kind: KIND_WEIGHT.get(kind, 0.0)) if kinds else ""
    return Features(files=len(sources), failing_tests=len(task.FAIL_TO_PASS),
                    prompt_ktokens=round(chars / CHARS_PER_TOKEN / 1000, 2), fail_kind=worst)


def heuristic_start(score: float | None, rungs: int) -> int:
    """The rung the heuristic starts at: low scores at the bottom, middling mid-ladder, high at the top."""
    if score is None or score < HEURISTIC_CUTS[0]:
        return 0
    return rungs // 2 if score < HEURISTIC_CUTS[1] else rungs - 1
