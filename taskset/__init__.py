"""taskset: verified bug-fix tasks, history-free workspaces, cached environments, and the evaluator.

The evaluator is the sole authority on "done": see docs/architecture.md for the rules it keeps.
"""

from taskset.environment import Environment, ensure_environment, environment_for
from taskset.errors import (
    DirectoryBusy,
    EditRefused,
    EnvironmentBuildError,
    ExportError,
    InfraCause,
    InfrastructureError,
    PatchError,
    RepositoryError,
    TaskNotFound,
    TaskRecordError,
    TasksetError,
    TestRunError,
    WorkspaceError,
)
from taskset.evaluate import Verdict, VerdictProblem, evaluate, run_task_tests, time_limit
from taskset.junit import Outcome, TestResult
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
from taskset.repos import mirror, repo_name
from taskset.runner import TestRun, run_tests
from taskset.store import TaskSet, load
from taskset.swebench import (
    ExportResult,
    export_jsonl,
    export_task_repo,
    from_swebench,
    import_swebench,
    read_swebench,
    to_swebench,
)
from taskset.testfiles import TestFileConventions, is_test_path
from taskset.workspace import Workspace, clear_bytecode

__all__ = [
    "Calibration",
    "CalibrationStatus",
    "Difficulty",
    "DirectoryBusy",
    "EditRefused",
    "Environment",
    "EnvironmentBuildError",
    "EnvironmentSpec",
    "ExportError",
    "ExportResult",
    "FailKind",
    "FailMode",
    "InfraCause",
    "InfrastructureError",
    "Outcome",
    "PatchError",
    "RepositoryError",
    "SCHEMA_VERSION",
    "Task",
    "TaskMeta",
    "TaskNotFound",
    "TaskRecordError",
    "TaskSet",
    "TasksetError",
    "TestFileConventions",
    "TestResult",
    "TestRun",
    "TestRunError",
    "Verdict",
    "VerdictProblem",
    "Workspace",
    "WorkspaceError",
    "clear_bytecode",
    "ensure_environment",
    "environment_for",
    "evaluate",
    "export_jsonl",
    "export_task_repo",
    "from_swebench",
    "import_swebench",
    "is_test_path",
    "load",
    "load_task",
    "mirror",
    "read_swebench",
    "repo_name",
    "run_task_tests",
    "run_tests",
    "time_limit",
    "to_swebench",
]
