"""What an agent attempt did, turn by turn, summed into one record field (``AttemptRecord.agent``).

The failure modes of agent loops are read from these figures: context compactions (A: at the
threshold; A′: after the server's overflow error), runaways (B), the wall clock (C), a declared
success the tests rejected (D: ``declared_done`` with a failing verdict, and whether the agent
ran the failing tests first). The full conversation is in the trajectory file it names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AgentStats:
    """One agent attempt's instrumentation (every count is over the whole attempt)."""

    exit_status: str = ""
    """How the loop ended: ``submitted``, ``turns``, ``wall-time``, ``cost``, ``runaway``, ``context-overflow``,
    ``format-errors``."""
    turns: int = 0
    """Model calls made."""
    commands: int = 0
    """Shell commands run in the sandbox."""
    test_runs: int = 0
    """Commands that ran tests (pytest, or a FAIL_TO_PASS test's file)."""
    failing_tests_run: bool = False
    """True when, before it declared done, the agent ran a command naming a FAIL_TO_PASS test or its file."""
    declared_done: bool = False
    """True when the agent said it was done (the submit command), rather than running out of budget."""
    runaways: int = 0
    """Replies stopped at the length limit without an action, or repeating themselves (each got a nudge)."""
    compactions_threshold: int = 0
    """History compactions because the last prompt neared the declared window."""
    compactions_overflow: int = 0
    """History compactions after the server refused a prompt as too long (then retried)."""
    peak_prompt_tokens: int = 0
    max_completion_tokens: int = 0
    """The largest completion of one turn (text and reasoning)."""
    max_reasoning_tokens: int = 0
    """The largest reasoning count of one turn."""
    max_text_tokens: int = 0
    """The largest text (completion less reasoning) count of one turn."""
    stop_reasons: dict[str, int] = field(default_factory=dict)
    """finish_reason -> turns that ended with it."""
    command_timeouts: int = 0
    wall_seconds: float = 0.0
    command_seconds: float = 0.0
    trajectory: str = ""
    """The trajectory file, relative to the run directory (mini-swe-agent's format, ``info.loopctl`` added)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentStats:
        """Rebuild from ``to_dict`` (fields a newer version added are ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
