"""Strategy names: the one enum that records, run settings, the CLI and the report share."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from harness.errors import HarnessError


class Strategy(str, enum.Enum):
    """A way of spending tiers on a task, or (``matrix``) the per-tier records they are computed from."""

    MODE_E = "modeE"
    """The ladder bottom up, each tier's attempts, until the first resolution or the attempt cap."""
    ALWAYS_LOCAL = "always-local"
    """The first tier alone."""
    ALWAYS_FRONTIER = "always-frontier"
    """The last tier alone."""
    LOCAL_REPAIR = "local-repair"
    """The first tier with feedback and as many attempts as the ladder has (its own column)."""
    HEURISTIC = "heuristic"
    """The ladder from the rung the task's pre-hoc score points at."""
    CASCADE = "cascade"
    """First tier or last tier per task, by the pre-hoc score against each --cascade-thresholds value."""
    ORACLE_ROUTING = "oracle-routing"
    """The bound: the cheapest single tier that solves each task (always computed)."""
    CARRY = "modeE+carry"
    """modeE where later tiers see earlier tiers' failures: runs live, not from the matrix."""
    MATRIX = "matrix"
    """Not a strategy: the record kind of the per-tier runs every clean-start strategy walks."""


SELECTABLE = tuple(s for s in Strategy if s not in (Strategy.MATRIX, Strategy.ORACLE_ROUTING))
"""What --strategies accepts (the oracle-routing bound is always computed)."""
DEFAULT = (Strategy.MODE_E, Strategy.ALWAYS_LOCAL, Strategy.ALWAYS_FRONTIER, Strategy.LOCAL_REPAIR,
           Strategy.HEURISTIC, Strategy.CASCADE)
"""The strategies a run compares when none are named (none of them needs a live ladder)."""


def parse_strategies(names: Iterable[str]) -> tuple[Strategy, ...]:
    """Strategy names -> enums, in order, without repeats; an unknown name is one HarnessError line."""
    out: list[Strategy] = []
    for name in names:
        try:
            strategy = Strategy(name)
        except ValueError:
            strategy = None
        if strategy is None or strategy not in SELECTABLE:
            known = ", ".join(s.value for s in SELECTABLE)
            raise HarnessError(f"unknown strategy {name!r} (known: {known})")
        if strategy not in out:
            out.append(strategy)
    if not out:
        raise HarnessError("no strategies named")
    return tuple(out)
