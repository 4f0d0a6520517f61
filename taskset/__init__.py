"""taskset: verified bug-fix tasks, history-free workspaces, cached environments, and the evaluator.

The evaluator is the sole authority on "done": see docs/architecture.md for the rules it keeps.
"""

from typing import TYPE_CHECKING

from taskset.errors import (
    BackendUnavailable,
    DirectoryBusy,
    EditRefused,
    EnvironmentBuildError,
    EvidenceFlood,
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
from taskset.evaluation.verdict import Verdict, VerdictProblem, evaluate, run_task_tests, time_limit
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

# Everything else loads on first use (PEP 562), so `import taskset` stays cheap: no uv, no
# filelock, no environment builder, no mirrors until a name that needs them is read. The
# evaluator is imported at once: every evaluation needs it, and it is what a user imports taskset for.
_LAZY = {
    "taskset.env.environment": ("Environment", "ensure_environment", "environment_for"),
    "taskset.evaluation.junit": ("Outcome", "TestResult"),
    "taskset.workspace.mirrors": ("mirror", "repo_name"),
    "taskset.evaluation.runner": ("TestRun", "run_tests"),
    "taskset.store": ("TaskSet", "load"),
    "taskset.interop.harbor": ("export_harbor", "import_harbor", "is_harbor_export", "read_harbor"),
    "taskset.interop.swebench": (
        "ExportResult", "export_jsonl", "export_parquet", "export_task_repo", "from_swebench", "import_swebench",
        "read_swebench", "to_swebench",
    ),
    "taskset.workspace.testfiles": (
        "PytestNaming", "TestFileConventions", "is_test_module", "is_test_path", "pytest_naming",
        "testpath_entries", "with_naming", "with_root_modules",
    ),
    "taskset.workspace.files": ("clear_bytecode",),
    "taskset.workspace.workspace": ("Workspace",),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from taskset.env.environment import Environment, ensure_environment, environment_for
    from taskset.evaluation.junit import Outcome, TestResult
    from taskset.evaluation.runner import TestRun, run_tests
    from taskset.interop.harbor import export_harbor, import_harbor, is_harbor_export, read_harbor
    from taskset.interop.swebench import (
        ExportResult,
        export_jsonl,
        export_parquet,
        export_task_repo,
        from_swebench,
        import_swebench,
        read_swebench,
        to_swebench,
    )
    from taskset.store import TaskSet, load
    from taskset.workspace.files import clear_bytecode
    from taskset.workspace.mirrors import mirror, repo_name
    from taskset.workspace.testfiles import (
        PytestNaming,
        TestFileConventions,
        is_test_module,
        is_test_path,
        pytest_naming,
        testpath_entries,
        with_naming,
        with_root_modules,
    )
    from taskset.workspace.workspace import Workspace


def __getattr__(name: str):
    import importlib

    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'taskset' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # bound once: later reads are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "BackendUnavailable",
    "Calibration",
    "CalibrationStatus",
    "Difficulty",
    "DirectoryBusy",
    "EditRefused",
    "Environment",
    "EnvironmentBuildError",
    "EnvironmentSpec",
    "EvidenceFlood",
    "ExportError",
    "ExportResult",
    "FailKind",
    "FailMode",
    "InfraCause",
    "InfrastructureError",
    "Outcome",
    "PatchError",
    "PytestNaming",
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
    "export_harbor",
    "export_jsonl",
    "export_parquet",
    "export_task_repo",
    "from_swebench",
    "import_harbor",
    "import_swebench",
    "is_harbor_export",
    "is_test_module",
    "is_test_path",
    "load",
    "load_task",
    "mirror",
    "pytest_naming",
    "read_harbor",
    "read_swebench",
    "repo_name",
    "run_task_tests",
    "run_tests",
    "testpath_entries",
    "time_limit",
    "to_swebench",
    "with_naming",
    "with_root_modules",
]
