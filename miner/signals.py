"""Message signals: how much a commit message sounds like a bug fix.

The score orders candidates and lets ``--max-candidates`` keep the likeliest; it never decides
whether a commit is a task (the tests do). Signals are a (name, pattern, weight) table.
"""

from __future__ import annotations

import re

SIGNALS: tuple[tuple[str, re.Pattern[str], float], ...] = (
    ("closes-issue", re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+(?:[\w.-]+/[\w.-]+)?#\d+", re.I), 2.0),
    ("fix", re.compile(r"\bfix(?:e[sd]|ing)?\b|\bhotfix\b|\bbugfix\b", re.I), 2.0),
    ("bug", re.compile(r"\bbugs?\b", re.I), 1.5),
    ("regression", re.compile(r"\bregress(?:ion|ed)?\b", re.I), 1.5),
    ("crash", re.compile(r"\bcrash(?:es|ed|ing)?\b|\bexception\b|\berror\b", re.I), 1.0),
    ("wrong", re.compile(r"\b(?:wrong|incorrect|broken|unexpected)\b", re.I), 0.5),
    ("reference", re.compile(r"(?:^|[\s(])(?:#|GH-)\d+\b|/(?:issues|pull)/\d+", re.I), 1.0),
)


def signals(message: str) -> tuple[str, ...]:
    """The names of the signals found in ``message``, in table order."""
    return tuple(name for name, pattern, _ in SIGNALS if pattern.search(message))


def score(message: str) -> float:
    """The sum of the weights of the signals found in ``message``."""
    return sum(weight for _, pattern, weight in SIGNALS if pattern.search(message))
