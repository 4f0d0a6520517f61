"""taskset: verified bug-fix tasks, history-free workspaces, cached environments, and the evaluator.

The evaluator is the sole authority on "done": see docs/architecture.md for the rules it keeps.
"""

from taskset.errors import (
    EditRefused,
    EnvironmentBuildError,
    PatchError,
    RepositoryError,
    TaskNotFound,
    TaskRecordError,
    TasksetError,
    TestRunError,
    WorkspaceError,
)
from taskset.record import (
    SCHEMA_VERSION,
    Calibration,
    CalibrationStatus,
    Difficulty,
    EnvironmentSpec,
    FailKind,
    FailMode,
    Task,
    TaskMeta,
    load_task,
)
from taskset.store import TaskSet, load
from taskset.swebench import export_jsonl, from_swebench, import_jsonl, to_swebench

__all__ = [
    "SCHEMA_VERSION",
    "Calibration",
    "CalibrationStatus",
    "Difficulty",
    "EditRefused",
    "EnvironmentBuildError",
    "EnvironmentSpec",
    "FailKind",
    "FailMode",
    "PatchError",
    "RepositoryError",
    "Task",
    "TaskMeta",
    "TaskNotFound",
    "TaskRecordError",
    "TaskSet",
    "TasksetError",
    "TestRunError",
    "WorkspaceError",
    "export_jsonl",
    "from_swebench",
    "import_jsonl",
    "load",
    "load_task",
    "to_swebench",
]
