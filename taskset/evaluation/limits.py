"""Resource limits for a test process: memory, processes, file size, no core dumps.

Applied by the boot script inside the sandbox (``resource.setrlimit``, soft and hard alike, so
the code under test cannot raise them again), before pytest is imported.
"""

from __future__ import annotations

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
    """Processes of the user (``RLIMIT_NPROC``). The kernel does not enforce it for root, where the
    sandbox's PID namespace and the timeout still bound the run."""
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
