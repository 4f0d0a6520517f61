"""The failure modes of agent loops, A to F, per tier and model (pure: records in, a table out).

Every finished attempt is put in one class, the first that fits; E (infrastructure: the server or
the machine) is counted apart, as everywhere else, and never as the model's failure:

- **B runaway**: the attempt ended after replies that ran to the length limit or repeated themselves;
- **C wall time**: the attempt's wall clock ran out (often after B);
- **A′ context error**: the server refused the prompt as too long and nothing was left to compact
  (an edit tier: its prompt did not fit even trimmed);
- **D confident false success**: the agent declared it was done and the evaluator rejected its tree;
- **F capability miss**: every other unresolved attempt (turns used up, tests failed undeclared).

A (compaction at the declared window) and recovered A′ (compacted after the server's overflow
error, then carried on) are not endings: they are counted over all attempts beside the classes.
The confident-false-success rate is D over the attempts that declared done: how often "done" was
wrong. ``unchecked`` counts the D attempts that never ran the failing tests before declaring.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.config import TierKind
from harness.modes import FailureMode
from harness.records.attempts import AttemptRecord

CLASSES = ("B", "C", "A'", "D", "F")
"""The model's failure classes, in the order an attempt is tested against them."""


def failure_class(record: AttemptRecord) -> str:
    """``resolved``, ``E`` or one of CLASSES for a finished attempt."""
    if record.resolved:
        return "resolved"
    if record.infrastructure:
        return "E"
    ending = record.agent.exit_status if record.agent is not None else ""
    if record.failure_mode is FailureMode.RUNAWAY or ending == "runaway":
        return "B"
    if ending == "wall-time":
        return "C"
    if record.failure_mode is FailureMode.CONTEXT_OVERFLOW or ending == "context-overflow":
        return "A'"
    if record.agent is not None and record.agent.declared_done:
        return "D"
    return "F"


def agent_modes(records: Iterable[AttemptRecord], kinds: dict[str, TierKind]) -> dict[str, Any]:
    """tier -> {kind, model, attempts, resolved, A, A' recovered, B..F, E, declared, CFS rate, unchecked}."""
    table: dict[str, dict[str, Any]] = {}
    for record in records:
        row = table.setdefault(record.tier, {
            "kind": kinds.get(record.tier, TierKind.EDIT).value, "model": record.model_requested, "attempts": 0,
            "resolved": 0, "A": 0, "A'_recovered": 0, **dict.fromkeys(CLASSES, 0), "E": 0, "declared": 0,
            "unchecked": 0, "confident_false_success_rate": None})
        row["attempts"] += 1
        kind = failure_class(record)
        row[kind] += 1
        stats = record.agent
        if stats is None:
            continue
        row["A"] += int(stats.compactions_threshold > 0)
        row["A'_recovered"] += int(stats.compactions_overflow > 0 and kind != "A'")
        row["declared"] += int(stats.declared_done and not record.infrastructure)
        row["unchecked"] += int(kind == "D" and not stats.failing_tests_run)
    for row in table.values():
        if row["declared"]:
            row["confident_false_success_rate"] = row["D"] / row["declared"]
    return table
