"""How figures read in tables: money, shares, intervals, seconds (unknown stays unknown)."""

from __future__ import annotations

from collections.abc import Sequence


def money(value: float | None) -> str:
    """Dollars for display; unknown stays unknown, never $0."""
    if value is None:
        return "unknown"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def pct(value: float | None) -> str:
    """A share as a percentage ("-" when there is nothing to share)."""
    return "-" if value is None else f"{100 * value:.1f}%"


def ci(pair: Sequence[float] | None) -> str:
    """A 95% interval as percentages."""
    return "-" if not pair else f"[{100 * pair[0]:.1f},{100 * pair[1]:.1f}]"


def secs(value: float | None) -> str:
    """Seconds for display."""
    return "-" if value is None else f"{value:.2f}s"


def rate(value: float | None) -> str:
    """Tokens per second."""
    return "-" if value is None else f"{value:.1f}"


def count(value: float | None) -> str:
    """A per-task count."""
    return "-" if value is None else f"{value:.2f}"
