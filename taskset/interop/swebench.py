"""SWE-bench 5, both ways: export a task set as rows or as a task repository; import their datasets.

* ``export_jsonl(tasks, FILE)``: one SWE-bench 5 row per line (``swebench_rows``), which
  ``swebench.harness.utils.make_test_spec`` builds a TestSpec from.
* ``export_parquet(tasks, FILE)``: the same rows as one parquet file, loopctl's nested fields as
  JSON text (``swebench_files.NESTED``) so that any task's fields fit one schema.
* ``export_task_repo(tasks, DIR)``: a task repository (``swebench_repo``) that
  ``swebench.task.checks.check_task_repo`` passes.
* ``read_swebench(FILE)``: Tasks from a ``.jsonl``, ``.json`` or ``.parquet`` dataset file, every
  row checked before any is returned; ``import_swebench`` stores them all or none.

Every export is written beside its destination and renamed into place: a full disk or a kill
leaves the previous export as it was. Bad input raises ExportError/TaskRecordError (one line).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from taskset.errors import ExportError, TaskRecordError
from taskset.files.atomic import write_atomic
from taskset.interop.destination import ExportResult, check_destination, reason, store_tasks, write_directory
from taskset.interop.swebench_files import read_rows
from taskset.interop.swebench_rows import from_swebench, to_swebench, unreadable_test
from taskset.record import Task


def export_jsonl(tasks: Iterable[Task], path: str | Path) -> ExportResult:
    """Write SWE-bench 5 rows as JSONL, atomically; tasks SWE-bench cannot grade are skipped and listed."""
    return _export_rows(tasks, Path(path), lambda rows: "".join(json.dumps(row, sort_keys=True) + "\n"
                                                                  for row in rows))


def export_parquet(tasks: Iterable[Task], path: str | Path) -> ExportResult:
    """Write SWE-bench 5 rows as one parquet file, atomically (loopctl's nested fields as JSON text)."""
    from taskset.interop.swebench_files import parquet_bytes

    return _export_rows(tasks, Path(path), parquet_bytes)


def _export_rows(tasks: Iterable[Task], path: Path, encode: Callable[[list[dict]], str | bytes]) -> ExportResult:
    """The gradable tasks' rows, encoded, written atomically at ``path``."""
    check_destination(path, directory=False)
    kept, result = _gradable(tasks, path)
    data = encode([to_swebench(task) for task in kept])
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExportError(f"{path}: cannot be written ({reason(exc)}); any previous export is unchanged") from None
    result.written = len(kept)
    return result


def export_task_repo(tasks: Iterable[Task], path: str | Path, dataset: str = "") -> ExportResult:
    """Write a SWE-bench task repository at ``path``, replacing a previous one only once the new one is complete."""
    from taskset.interop.swebench_repo import CONFIG_FILE, write_task_repo

    path = Path(path)
    check_destination(path, directory=True, marker=CONFIG_FILE)
    kept, result = _gradable(tasks, path)
    dataset = dataset or f"loopctl/{path.absolute().name}"
    write_directory(path, lambda staging: write_task_repo(kept, staging, dataset))
    result.written = len(kept)
    return result


def read_swebench(path: str | Path, clone_from: str = "") -> list[Task]:
    """Every row of a SWE-bench dataset file as a Task; the first bad row raises (naming file and row)."""
    tasks: dict[str, Task] = {}
    for source, row in read_rows(path):
        task = from_swebench(row, source, clone_from=clone_from)
        if task.instance_id in tasks:
            raise TaskRecordError(source, "instance_id", f"{task.instance_id!r} appears twice")
        tasks[task.instance_id] = task
    return list(tasks.values())


def import_swebench(path: str | Path, taskset_dir: str | Path, clone_from: str = "") -> int:
    """Read a dataset file into the task set at ``taskset_dir``: all rows or, on a bad one, none."""
    tasks = read_swebench(path, clone_from)
    return store_tasks(tasks, taskset_dir)


def _gradable(tasks: Iterable[Task], path: Path) -> tuple[list[Task], ExportResult]:
    result = ExportResult(path)
    kept = []
    for task in tasks:
        bad = unreadable_test(task)
        if not task.FAIL_TO_PASS:
            result.skipped.append((task.instance_id, "no FAIL_TO_PASS test, so nothing grades it"))
        elif bad is not None:
            result.skipped.append((task.instance_id, f"test id {bad!r} holds whitespace, which SWE-bench's "
                                                     "pytest log parser cannot read back"))
        else:
            kept.append(task)
    return kept, result


__all__ = ["ExportResult", "export_jsonl", "export_parquet", "export_task_repo", "from_swebench", "import_swebench",
           "read_swebench", "to_swebench"]
