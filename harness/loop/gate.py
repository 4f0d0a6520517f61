"""What may start next: the --max-cost budget, a stop (Ctrl-C, SIGTERM), tiers whose server fails.

One ``Gate`` per run, shared by every job thread. It is asked before each attempt starts and
told about each attempt that ends. A stop refuses everything; the budget refuses paid attempts
once the spend reaches the limit; a tier whose calls failed ``BREAKER`` times in a row for
infrastructure reasons (its server down, timing out) is suspended for the rest of the run
rather than paying retries on every task: a rerun retries it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

from harness.config import Tier
from harness.modes import FailureMode
from harness.records.attempts import AttemptRecord
from harness.records.pricing import Prices, attempt_cost, spend

BREAKER = 3
"""Consecutive api-error/timeout attempts that suspend a tier for the rest of the run."""


class Gate:
    """The budget, the stop and the suspended tiers; thread-safe."""

    def __init__(self, limit: float | None, prices: Prices, spent: float = 0.0, stop: threading.Event | None = None):
        self.limit = limit
        self.prices = prices
        self.spent = spent
        self.stop = stop or threading.Event()
        self.budget_reached = False
        self.suspended: dict[str, str] = {}
        """Tier name -> why it was suspended."""
        self.unknown_spend: set[str] = set()
        """Paid tiers whose spend the budget could not count (no price and no billed cost)."""
        self._streak: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self.stop.is_set()

    def allow(self, tier: Tier) -> bool:
        """May an attempt of ``tier`` start now?"""
        if self.stop.is_set():
            return False
        with self._lock:
            if _base(tier.name) in self.suspended:
                return False
            if self.limit is not None and tier.paid and self.spent >= self.limit:
                self.budget_reached = True
                return False
        return True

    def add(self, record: AttemptRecord) -> None:
        """Count a finished attempt: its spend, and its part in its tier's failure streak."""
        with self._lock:
            self.spent += spend(record, self.prices)
            name = _base(record.tier)
            if record.paid and record.billed_cost is None and attempt_cost(record, self.prices) is None:
                self.unknown_spend.add(name)
            if record.failure_mode in (FailureMode.API_ERROR, FailureMode.TIMEOUT):
                self._streak[name] = self._streak.get(name, 0) + 1
                if self._streak[name] >= BREAKER and name not in self.suspended:
                    self.suspended[name] = (f"{self._streak[name]} infrastructure failures in a row "
                                            f"(last: {record.failure_mode.value}: {record.message[:200]})")
            else:
                self._streak[name] = 0


def _base(name: str) -> str:
    return name.split("+", 1)[0]


@contextlib.contextmanager
def stop_on_signals(on_stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``on_stop`` once; a second signal raises KeyboardInterrupt at once.

    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = 0

    def handler(signum, frame):  # noqa: ARG001 - the signal module's signature
        nonlocal count
        count += 1
        if count == 1:
            on_stop()
            return
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
