"""Limits of a test run: the process's resources, and how much of its evidence we read.

``RunLimits`` are applied by the boot script inside the sandbox (``resource.setrlimit``, soft and
hard alike, so the code under test cannot raise them again), before pytest is imported.
``EvidenceBudget`` bounds what the evaluator reads back (the JUnit report, the live channel), so a
flood costs it neither time nor memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class RunLimits:
    """Per-process limits for a test run (None leaves one as it is)."""

    memory: int | None = 8 * GIB
    """Address space per process, bytes (``RLIMIT_AS``)."""
    file_size: int | None = 2 * GIB
    """Largest file a process may write, bytes (``RLIMIT_FSIZE``); the console log included."""
    processes: int | None = 4096
    """Processes of the user (``RLIMIT_NPROC``). The kernel does not enforce it for root: only an
    unconfined run started by root is bounded by the timeout alone."""
    core_dumps: bool = False
    """Whether a crashing process may write a core file into the workspace."""

    def rlimits(self) -> dict[str, int]:
        """``{"RLIMIT_...": value}`` for the boot script."""
        table = {"RLIMIT_AS": self.memory, "RLIMIT_FSIZE": self.file_size, "RLIMIT_NPROC": self.processes}
        found = {name: int(value) for name, value in table.items() if value is not None}
        if not self.core_dumps:
            found["RLIMIT_CORE"] = 0
        return found


DEFAULT_LIMITS = RunLimits()


MIB = 1024**2


TESTS_FLOOR = 1000
TESTS_PER_ID = 4
"""An id without its parameters names each parametrization; most name one test."""
TESTS_PER_PATH = 200_000
"""A requested file or folder (the miner's validation runs) may hold many tests: heavily
parametrized modules reach tens of thousands. The byte caps below still bound what is read."""
REPORT_FLOOR = 4 * MIB
REPORT_PER_TEST = 16 * 1024
"""pytest's JUnit writer keeps each failure's full text; 16 KiB a test is a long traceback each."""
REPORT_CAP = 64 * MIB
CHANNEL_FLOOR = 2 * MIB
"""The closing record lists every hook implementation: a few hundred KiB with many plugins."""
CHANNEL_PER_TEST = 2 * 1024
"""Three phase records of a few hundred bytes each, per test."""
CHANNEL_CAP = 64 * MIB


@dataclass(frozen=True)
class EvidenceBudget:
    """How much a run's witnesses may say before they are a flood: more is tampering, read no further.

    Scaled to the request (the run knows what it asked for): a node id may stand for a few tests
    (its parametrizations), a file or folder for many; a floor covers our canaries and small runs.
    """

    tests: int
    """Distinct tests the JUnit report, or the channel, may name."""
    report_bytes: int
    """Bytes of JUnit report read at most."""
    channel_bytes: int
    """Bytes of live channel read at most (the run is stopped when it says more)."""

    @property
    def report_cases(self) -> int:
        """Test cases the JUnit report may hold: a test whose call failed and whose teardown errored has two."""
        return 2 * self.tests

    @classmethod
    def for_request(cls, requested: Sequence[str]) -> EvidenceBudget:
        """The budget for a run of ``requested`` (node ids and/or file or folder paths)."""
        ids = sum(1 for test in requested if "::" in test)
        tests = TESTS_FLOOR + TESTS_PER_ID * ids + TESTS_PER_PATH * (len(requested) - ids)
        return cls(
            tests=tests,
            report_bytes=min(REPORT_CAP, REPORT_FLOOR + REPORT_PER_TEST * tests),
            channel_bytes=min(CHANNEL_CAP, CHANNEL_FLOOR + CHANNEL_PER_TEST * tests),
        )
