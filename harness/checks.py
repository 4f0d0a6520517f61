"""Everything checked before a run asks a model or writes a file.

Bad input is one HarnessError line (the CLI turns it into exit 2): options out of range, a
--out that is a file or cannot be written, a cache path that is a file, unknown task ids, tiers
whose API key is missing. Then each tier's server is asked for its models (it answers, and
lists the tier's model); a dead server stops the run before the first task, not after forty
seconds of retries recorded as failures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.config import ProviderKind, Tier
from harness.errors import HarnessError
from harness.providers.completion import Provider
from taskset.files.cache import cache_dir


def check_options(jobs: int | None, max_cost: float | None, seeds: Sequence[int],
                  thresholds: Sequence[float]) -> None:
    """--jobs >= 1 (None: the backend's default), --max-cost >= 0, at least one seed, finite cascade thresholds."""
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise HarnessError(f"--jobs must be at least 1 (got {jobs})")
    if max_cost is not None and (not math.isfinite(max_cost) or max_cost < 0):
        raise HarnessError(f"--max-cost must be a non-negative number of dollars (got {max_cost:g})")
    if not seeds:
        raise HarnessError("--seeds names no seed")
    if any(not math.isfinite(t) for t in thresholds):
        raise HarnessError("--cascade-thresholds must be finite numbers")


def check_writable_dir(path: Path, what: str) -> None:
    """``path`` is a directory we can write, or can be created: else one line saying why not."""
    if path.exists() and not path.is_dir():
        raise HarnessError(f"{what} {path}: exists and is not a directory")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise HarnessError(f"{what} {path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise HarnessError(f"{what} {path}: {probe} is not writable (read-only file system or permissions)")


def check_cache() -> None:
    """The cache for repositories and environments (LOOPCTL_CACHE) can be used."""
    where = "LOOPCTL_CACHE" if os.environ.get("LOOPCTL_CACHE") else "the cache directory"
    check_writable_dir(cache_dir(), where)


def check_servers(tiers: Sequence[Tier], providers: Mapping[str, Provider]) -> dict[str, list[str]]:
    """Ask every OpenAI-compatible tier's server for its models; ServerCheckFailed names the first bad one."""
    listed: dict[str, list[str]] = {}
    for tier in tiers:
        provider = providers.get(tier.name)
        check = getattr(provider, "check", None)
        if tier.provider is ProviderKind.OPENAI and check is not None:
            listed[tier.name] = check()
    return listed
