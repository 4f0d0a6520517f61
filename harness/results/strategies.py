"""Strategies computed from the per-tier outcome matrix, not re-run.

Every tier starts clean, so a tier's outcome on a (task, seed) does not depend on which tiers ran
before it. Each tier is run once per task and seed (the ``matrix`` records) and every clean-start
strategy is a walk over that matrix. Two columns reuse matrix attempts that are the same request:
local-repair's first attempt(s) are the first tier's, and the live carry-over ladder's first tier
is the matrix's; only the rest of them are records of their own.

A walk that meets an attempt with no final record is incomplete (the budget or a stop left it
unrun, or an infrastructure failure left it to be retried), never a failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.config import CarryOver, Tier
from harness.loop.prehoc import heuristic_start
from harness.loop.tier import shared_prefix
from harness.names import Strategy
from harness.records.attempts import AttemptRecord, Key, final_records
from harness.records.pricing import Prices, attempt_billed, attempt_cost

REPAIR_SUFFIX = "+repair"


@dataclass
class Result:
    """One strategy on one (task, seed)."""

    resolved: bool = False
    cost: float | None = 0.0
    """Estimated from tokens and the price table; None when unknown."""
    billed: float | None = 0.0
    """What the servers said they billed; None when a paid attempt's bill is unknown."""
    attempts: list[AttemptRecord] = field(default_factory=list)
    solved_by: str = ""
    complete: bool = True
    """False when a needed attempt has no final record (budget stop, Ctrl-C, infrastructure failure)."""
    infra: bool = False
    """True when what is missing is an infrastructure failure (retried on the next run)."""

    @property
    def paid(self) -> bool:
        """True when the strategy used a paid (cloud) tier on this run."""
        return any(r.paid for r in self.attempts)


def repair_tier(first: Tier, tiers: Sequence[Tier], cap: int) -> Tier:
    """The local-repair column: the first tier with as many feedback retries as the ladder has attempts."""
    attempts = min(sum(t.attempts for t in tiers), cap)
    return dataclasses.replace(first, name=first.name + REPAIR_SUFFIX, attempts=attempts, feedback=True)


class Matrix:
    """A run's records as columns, and every strategy as a walk over them."""

    def __init__(self, records: Iterable[AttemptRecord], tiers: Sequence[Tier], prices: Prices, cap: int,
                 carry_over: CarryOver = CarryOver.NONE, scores: Mapping[str, float] | None = None):
        records = list(records)
        self.tiers = list(tiers)
        self.prices = prices
        self.cap = cap
        self.carry_over = carry_over
        self.scores = dict(scores or {})
        self.final: dict[Key, AttemptRecord] = {r.key: r for r in final_records(records)}
        self.infra_keys = {r.key for r in records if r.infrastructure} - set(self.final)
        first = self.tiers[0]
        self.repair = repair_tier(first, self.tiers, cap)
        self.repair_shared = shared_prefix(first, carry_over, self.repair, carry_over)
        self.carry_shared = shared_prefix(first, carry_over, first, CarryOver.ALL)

    # --- columns ---------------------------------------------------------------------------
    def key(self, kind: Strategy, task: str, seed: int, tier: Tier, number: int) -> Key:
        """Where attempt ``number`` of a column is recorded (an aliased attempt under the matrix's key)."""
        first = self.tiers[0].name
        if kind is Strategy.LOCAL_REPAIR:
            name = first if number <= self.repair_shared else tier.name
            return (Strategy.MATRIX.value, task, seed, name, number)
        if kind is Strategy.CARRY and not (tier.name == first and number <= self.carry_shared):
            return (Strategy.CARRY.value, task, seed, tier.name, number)
        return (Strategy.MATRIX.value, task, seed, tier.name, number)

    def ladder(self, task: str, seed: int, rungs: Sequence[Tier], kind: Strategy = Strategy.MATRIX) -> Result:
        """Climb ``rungs`` in order, each rung's attempts, until one resolves or the attempt cap."""
        result = Result()
        left = self.cap
        for tier in rungs:
            if left <= 0:
                break
            needed = min(tier.attempts, left)
            taken: list[AttemptRecord] = []
            missing: Key | None = None
            for number in range(1, needed + 1):
                key = self.key(kind, task, seed, tier, number)
                record = self.final.get(key)
                if record is None:
                    missing = key
                    break
                taken.append(record)
                if record.resolved:
                    break
            self._add(result, taken)
            left -= len(taken)
            if any(r.resolved for r in taken):
                result.resolved, result.solved_by = True, tier.name
                break
            if missing is not None:
                result.complete = False
                result.infra = missing in self.infra_keys
                break
        return result

    # --- strategies ------------------------------------------------------------------------
    def result(self, strategy: Strategy, task: str, seed: int, threshold: float | None = None) -> Result:
        """One strategy on one (task, seed); ``threshold`` is the cascade's."""
        tiers = self.tiers
        if strategy is Strategy.MODE_E:
            return self.ladder(task, seed, tiers)
        if strategy is Strategy.ALWAYS_LOCAL:
            return self.ladder(task, seed, tiers[:1])
        if strategy is Strategy.ALWAYS_FRONTIER:
            return self.ladder(task, seed, tiers[-1:])
        if strategy is Strategy.LOCAL_REPAIR:
            return self.ladder(task, seed, [self.repair], Strategy.LOCAL_REPAIR)
        if strategy is Strategy.HEURISTIC:
            return self.ladder(task, seed, tiers[heuristic_start(self.scores.get(task), len(tiers)):])
        if strategy is Strategy.CASCADE:
            score = self.scores.get(task)
            if score is None or threshold is None:
                return Result(complete=False)
            return self.ladder(task, seed, tiers[:1] if score <= threshold else tiers[-1:])
        if strategy is Strategy.ORACLE_ROUTING:
            return self.oracle_routing(task, seed)
        if strategy is Strategy.CARRY:
            return self.ladder(task, seed, tiers, Strategy.CARRY)
        raise ValueError(f"not a strategy to compute: {strategy.value}")

    def oracle_routing(self, task: str, seed: int) -> Result:
        """The bound: the cheapest single tier that solves the task; an unsolvable task costs nothing."""
        alone = [self.ladder(task, seed, [tier]) for tier in self.tiers]
        solving = [r for r in alone if r.resolved]
        if solving:
            return min(solving, key=lambda r: float("inf") if r.cost is None else r.cost)
        return Result(complete=all(r.complete for r in alone), infra=any(r.infra for r in alone))

    def _add(self, result: Result, records: Sequence[AttemptRecord]) -> None:
        for record in records:
            result.attempts.append(record)
            cost, billed = attempt_cost(record, self.prices), attempt_billed(record)
            result.cost = None if cost is None or result.cost is None else result.cost + cost
            result.billed = None if billed is None or result.billed is None else result.billed + billed
