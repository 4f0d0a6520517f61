"""Errors raised by the taskset library.

One root, so a caller can catch everything taskset raises::

    TasksetError
    ├── TaskRecordError        a task file is malformed (names the file and the field)
    ├── TaskNotFound           an instance id is not in the task set
    ├── RepositoryError        a repository cannot be found, cloned or read
    ├── WorkspaceError         a workspace cannot be materialised
    │   └── PatchError         a patch or test patch does not apply
    ├── EditRefused            a candidate edit is unsafe or touches tests (carries the reason)
    ├── EnvironmentBuildError  an environment cannot be built (carries the installer's output)
    ├── TestRunError           pytest could not be run or its report is unusable
    │   └── EvidenceFlood      a report names far more tests than were asked for (tampering)
    ├── DirectoryBusy          another process is writing the same output directory
    ├── BackendUnavailable     ``--backend ray`` without Ray installed
    ├── ExportError            an export or import cannot be done (bad destination, unreadable file)
    └── InfrastructureError    the machine failed, not the candidate or the task: never a verdict
"""

from __future__ import annotations

import enum
from pathlib import Path


class TasksetError(Exception):
    """Root of every error the taskset library raises."""


class TaskRecordError(TasksetError):
    """A task record is malformed: a missing field, a wrong type, an unknown schema version."""

    def __init__(self, source: str, field: str, problem: str):
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: field {field!r}: {problem}")


class TaskNotFound(TasksetError, KeyError):
    """No task with this instance id in the task set."""

    def __init__(self, instance_id: str, root: str = ""):
        self.instance_id = instance_id
        self.root = root
        where = f" in {root}" if root else ""
        super().__init__(f"no task {instance_id!r}{where}")

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return self.args[0]


class RepositoryError(TasksetError):
    """A repository cannot be found, cloned or read."""

    def __init__(self, location: str, problem: str):
        self.location = location
        self.problem = problem
        super().__init__(f"{location}: {problem}")


class WorkspaceError(TasksetError):
    """A workspace cannot be materialised."""


class PatchError(WorkspaceError):
    """A patch does not apply to the workspace."""

    def __init__(self, what: str, output: str):
        self.what = what
        self.output = output
        super().__init__(f"{what} does not apply: {output.strip()[:500]}")


class EditRefused(TasksetError):
    """A candidate edit was refused: unsafe path or an edit to the task's tests.

    ``kind`` is ``"unsafe-edit"`` (the path leaves the workspace or reaches into ``.git``) or
    ``"edits-touch-tests"`` (the path belongs to the task's tests).
    """

    UNSAFE = "unsafe-edit"
    TOUCHES_TESTS = "edits-touch-tests"

    def __init__(self, path: str, reason: str, kind: str = UNSAFE):
        self.path = path
        self.reason = reason
        self.kind = kind
        super().__init__(f"edit to {path!r} refused: {reason}")


class EnvironmentBuildError(TasksetError):
    """An environment could not be built; ``output`` holds the installer's trimmed output."""

    def __init__(self, message: str, output: str = "", step: str = "", timed_out: bool = False):
        self.output = output
        self.step = step
        self.timed_out = timed_out
        """The build ran out of time: the machine's speed had a say, so it is not remembered."""
        self.remembered: Path | None = None
        """The record of an earlier identical build's failure this one was answered from (not built)."""
        super().__init__(message)


class TestRunError(TasksetError):
    """pytest could not be run, or its report contradicts its exit code."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: str, output: str = ""):
        self.output = output
        super().__init__(message)


class EvidenceFlood(TestRunError):
    """A run's report or channel says far more than the run asked for: read no further, it is tampering."""


class DirectoryBusy(TasksetError):
    """Another process holds the writer lock of an output directory (one writer per directory)."""

    def __init__(self, directory: str, holder: str):
        self.directory = directory
        self.holder = holder
        super().__init__(f"{directory}: in use by {holder}; wait for it to finish or choose another directory")


class BackendUnavailable(TasksetError):
    """The asked-for backend cannot be used here (``--backend ray`` needs the ``loopctl[ray]`` extra)."""


class ExportError(TasksetError):
    """An export or import cannot be done: a destination that cannot be written, a file that cannot be read."""


class InfraCause(str, enum.Enum):
    """What part of the machine failed (an InfrastructureError's ``cause``)."""

    INTERPRETER = "interpreter"
    """The named Python does not exist or does not run."""
    DISK = "disk"
    """No space, a read-only or vanished directory, a permission the run needs."""
    NETWORK = "network"
    """The package index or a remote repository cannot be reached."""
    CACHE = "cache"
    """A cached environment or mirror is damaged and could not be rebuilt."""
    SANDBOX = "sandbox"
    """The test sandbox could not start where one is required."""
    OTHER = "other"


class InfrastructureError(TasksetError):
    """The machine failed, not the candidate and not the task: report it and retry later.

    Never stored as a verdict, a rejection or a calibration status (DESIGN.md: infrastructure
    failures are never verdicts). ``cause`` says which part; ``output`` the evidence.
    """

    def __init__(self, message: str, cause: InfraCause = InfraCause.OTHER, output: str = ""):
        self.cause = InfraCause(cause)
        self.output = output
        super().__init__(message)
