"""Dollars from tokens, at report time, from a pinned price table (the tiers' prices).

Records keep tokens only, so a run can be re-priced with another table without re-running it.
An attempt's cost is ``None`` (unknown) when its tier has no price, or when the tier charges for
tokens and the server reported no usage: an unknown poisons any sum it enters, so a total that
includes one is unknown, never an undercount. Cached prompt tokens are priced at the tier's
cached-input price. What the server says it billed (``usage.cost``) is kept apart, as billed cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from harness.config import Tier
from harness.records.attempts import AttemptRecord

Prices = Mapping[str, Tier]
"""Tier name -> tier (its prices are the table)."""


def tier_of(record: AttemptRecord, prices: Prices) -> Tier | None:
    """The priced tier of a record (a derived column such as ``local+repair`` is priced as its tier)."""
    return prices.get(record.tier.split("+", 1)[0])


def attempt_cost(record: AttemptRecord, prices: Prices) -> float | None:
    """The estimated cost of one attempt; None when unknown."""
    tier = tier_of(record, prices)
    if tier is None or tier.price_input is None or tier.price_output is None:  # not tier.priced
        return None
    price_input, price_output = tier.price_input, tier.price_output
    charges_tokens = price_input > 0 or price_output > 0
    if charges_tokens and not record.usage_reported:
        return None
    cached = min(record.cached_tokens, record.prompt_tokens)
    cached_price = tier.price_cached_input if tier.price_cached_input is not None else price_input
    tokens = ((record.prompt_tokens - cached) * price_input + cached * cached_price
              + record.completion_tokens * price_output)
    return tokens / 1e6 + tier.cost_per_hour * record.latency / 3600.0


def attempt_billed(record: AttemptRecord) -> float | None:
    """What the server billed for the attempt: its reported cost, zero on a free tier, else unknown."""
    if record.billed_cost is not None:
        return record.billed_cost
    return None if record.paid else 0.0


def spend(record: AttemptRecord, prices: Prices) -> float:
    """Dollars --max-cost counts for an attempt: the estimate, else the billed cost, else nothing known."""
    cost = attempt_cost(record, prices)
    if cost is None:
        cost = record.billed_cost
    return cost or 0.0


def known_spend(records: Iterable[AttemptRecord], prices: Prices) -> float:
    """Dollars spent so far as --max-cost counts them."""
    return sum(spend(r, prices) for r in records)
