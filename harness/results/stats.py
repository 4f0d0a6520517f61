"""Bootstrap confidence intervals, resampled by task (seeds of one task are not independent)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence

RESAMPLES = 2000
SEED = 20240301
"""Fixed so that a report is reproducible from the same records."""


def bootstrap_ci(values: Sequence[float], level: float = 0.95, resamples: int = RESAMPLES) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (one value per task)."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(SEED)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * resamples)]
    hi = means[min(resamples - 1, int((1 + level) / 2 * resamples))]
    return (lo, hi)


def paired_ci(a: Mapping[str, float], b: Mapping[str, float], level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean difference a - b over the tasks both have, with its interval (tasks resampled as pairs)."""
    common = sorted(set(a) & set(b))
    diffs = [a[t] - b[t] for t in common]
    if not diffs:
        return 0.0, (0.0, 0.0)
    return sum(diffs) / len(diffs), bootstrap_ci(diffs, level)


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None
