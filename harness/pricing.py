"""Dollars from tokens, at report time, from a pinned price table (the tiers' prices).

Records keep tokens only, so a run can be re-priced with another table without re-running it.
An unpriced tier's attempts cost ``None`` (unknown), which poisons any sum it enters: a total
that includes an unknown is unknown, never an undercount.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from harness.config import Tier
from harness.records import AttemptRecord

Prices = Mapping[str, Tier]
"""Tier name -> tier (its prices are the table)."""


def attempt_cost(record: AttemptRecord, prices: Prices) -> float | None:
    """The priced cost of one attempt; None when its tier has no price."""
    tier = prices.get(_base(record.tier))
    if tier is None or not tier.priced:
        return None
    tokens = record.prompt_tokens * tier.price_input + record.completion_tokens * tier.price_output
    return tokens / 1e6 + tier.cost_per_hour * record.latency / 3600.0


def total_cost(records: Iterable[AttemptRecord], prices: Prices) -> float | None:
    """The sum of attempt costs, or None if any attempt's cost is unknown."""
    total = 0.0
    for record in records:
        cost = attempt_cost(record, prices)
        if cost is None:
            return None
        total += cost
    return total


def known_spend(records: Iterable[AttemptRecord], prices: Prices) -> float:
    """Dollars spent on priced attempts (what --max-cost compares against)."""
    return sum(c for c in (attempt_cost(r, prices) for r in records) if c is not None)


def _base(tier_name: str) -> str:
    """A derived column (``local+repair``) is priced as its tier."""
    return tier_name.split("+", 1)[0]
