"""Strategies computed from the per-tier outcome matrix, not re-run.

Every tier starts clean, so a tier's outcome on a (task, seed) does not depend on which tiers ran
before it. Each tier is run once per task and seed (the ``matrix`` records) and every clean-start
strategy is a walk over that matrix. Only strategies carrying context across tiers
(``modeE+carry``) have their own live records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from taskset.record import Difficulty

from harness.config import Tier
from harness.pricing import Prices, attempt_cost
from harness.records import MATRIX, AttemptRecord

MODE_E = "modeE"
ALWAYS_LOCAL = "always-local"
ALWAYS_FRONTIER = "always-frontier"
LOCAL_REPAIR = "local-repair"
HEURISTIC = "heuristic"
ORACLE_ROUTING = "oracle-routing"
CARRY = "modeE+carry"
STRATEGIES = (MODE_E, ALWAYS_LOCAL, ALWAYS_FRONTIER, LOCAL_REPAIR, HEURISTIC)
"""What --strategies accepts; the oracle-routing bound is always computed."""
REPAIR_SUFFIX = "+repair"

Cells = Mapping[tuple[str, int, str], Sequence[AttemptRecord]]
"""(task, seed, column) -> that column's attempt records in order."""


@dataclass
class Result:
    """One strategy on one (task, seed)."""

    resolved: bool = False
    cost: float | None = 0.0
    attempts: list[AttemptRecord] = field(default_factory=list)
    solved_by: str = ""
    complete: bool = True
    """False when a needed cell is missing (budget stop or an unfinished run)."""

    @property
    def paid(self) -> bool:
        """True when the strategy used a paid (cloud) tier on this run."""
        return any(r.paid for r in self.attempts)


def cells_from(records: Iterable[AttemptRecord], strategy: str = MATRIX) -> dict[tuple[str, int, str], list[AttemptRecord]]:
    """Group records of one strategy by (task, seed, tier), attempts in order."""
    cells: dict[tuple[str, int, str], list[AttemptRecord]] = {}
    for record in sorted(records, key=lambda r: r.attempt):
        if record.strategy == strategy:
            cells.setdefault((record.task, record.seed, record.tier), []).append(record)
    return cells


def repair_tier(first: Tier, tiers: Sequence[Tier], cap: int) -> Tier:
    """The local-repair column: the first tier with as many feedback retries as the ladder has attempts."""
    import dataclasses

    attempts = min(sum(t.attempts for t in tiers), cap)
    return dataclasses.replace(first, name=first.name + REPAIR_SUFFIX, attempts=attempts, feedback=True)


def ladder(cells: Cells, task: str, seed: int, tiers: Sequence[Tier], prices: Prices, cap: int) -> Result:
    """Climb ``tiers`` in order, each tier's attempts from the matrix, until one resolves or the cap."""
    result = Result()
    left = cap
    for tier in tiers:
        if left <= 0:
            break
        records = list(cells.get((task, seed, tier.name), ()))
        needed = min(tier.attempts, left)
        taken = records[:needed]
        done = any(r.resolved for r in taken)
        if not done and len(taken) < needed:
            result.complete = False
        _add(result, taken, prices)
        left -= len(taken)
        if done:
            result.resolved, result.solved_by = True, tier.name
            break
    return result


def strategy_result(name: str, cells: Cells, task: str, seed: int, tiers: Sequence[Tier], prices: Prices,
                    cap: int, difficulty: Difficulty = Difficulty.UNKNOWN) -> Result:
    """One named strategy on one (task, seed), computed from the matrix."""
    if name == MODE_E:
        return ladder(cells, task, seed, tiers, prices, cap)
    if name == ALWAYS_LOCAL:
        return ladder(cells, task, seed, tiers[:1], prices, cap)
    if name == ALWAYS_FRONTIER:
        return ladder(cells, task, seed, tiers[-1:], prices, cap)
    if name == LOCAL_REPAIR:
        return ladder(cells, task, seed, [repair_tier(tiers[0], tiers, cap)], prices, cap)
    if name == HEURISTIC:
        return ladder(cells, task, seed, tiers[heuristic_start(difficulty, len(tiers)):], prices, cap)
    if name == ORACLE_ROUTING:
        return oracle_routing(cells, task, seed, tiers, prices, cap)
    raise ValueError(f"unknown strategy {name!r}")


def heuristic_start(difficulty: Difficulty, rungs: int) -> int:
    """Where the heuristic starts: trivial/unknown at the bottom, medium mid-ladder, hard at the top."""
    return {Difficulty.MEDIUM: rungs // 2, Difficulty.HARD: rungs - 1}.get(difficulty, 0)


def oracle_routing(cells: Cells, task: str, seed: int, tiers: Sequence[Tier], prices: Prices, cap: int) -> Result:
    """The bound: the cheapest single tier that solves the task; an unsolvable task costs nothing."""
    best: Result | None = None
    for tier in tiers:
        alone = ladder(cells, task, seed, [tier], prices, cap)
        if alone.resolved and (best is None or _cheaper(alone, best)):
            best = alone
    return best or Result(complete=all(ladder(cells, task, seed, [t], prices, cap).complete for t in tiers))


def live_result(records: Sequence[AttemptRecord], prices: Prices) -> Result:
    """A live strategy's own records for one (task, seed)."""
    result = Result()
    _add(result, sorted(records, key=lambda r: r.ended_at), prices)
    solved = next((r for r in result.attempts if r.resolved), None)
    result.resolved, result.solved_by = solved is not None, solved.tier if solved else ""
    return result


def _add(result: Result, records: Sequence[AttemptRecord], prices: Prices) -> None:
    for record in records:
        result.attempts.append(record)
        cost = attempt_cost(record, prices)
        result.cost = None if cost is None or result.cost is None else result.cost + cost


def _cheaper(a: Result, b: Result) -> bool:
    if a.cost is None:
        return False
    return b.cost is None or a.cost < b.cost
