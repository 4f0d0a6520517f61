"""Which tasks a run uses: a task set directory, or a SWE-bench file read as it is.

A task set directory (written by ``mine``) gives its calibrated tasks (``--uncalibrated`` adds
the ones calibration has not seen). A SWE-bench file (``.jsonl`` rows, or a ``.json`` array, as
SWE-bench and Hugging Face datasets ship them) is read through taskset's importer, in memory,
without converting it first; its instances are taken as SWE-bench validated them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import taskset
from harness.errors import HarnessError
from taskset.errors import TaskRecordError
from taskset.record import CalibrationStatus, Task

SWEBENCH_SUFFIXES = (".jsonl", ".json")


def load_tasks(path: Path) -> tuple[list[Task], bool]:
    """(tasks, from_swebench) for a task set directory or a SWE-bench file."""
    path = Path(path)
    if path.is_dir():
        return list(taskset.load(path)), False
    if path.is_file() and path.suffix in SWEBENCH_SUFFIXES:
        return _swebench(path), True
    if not path.exists():
        raise HarnessError(f"--taskset {path}: no such directory or file")
    raise HarnessError(f"--taskset {path}: not a task set directory nor a SWE-bench .jsonl/.json file")


def _swebench(path: Path) -> list[Task]:
    importer = getattr(taskset, "read_swebench", None)  # the richer importer, where taskset has one
    if importer is not None:
        return list(importer(path))
    if path.suffix == ".jsonl":
        return list(taskset.import_jsonl(path))
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskRecordError(str(path), "<json>", f"not a JSON array of SWE-bench rows ({exc})") from None
    if not isinstance(rows, list):
        raise TaskRecordError(str(path), "<json>", "expected a JSON array of SWE-bench rows")
    return [taskset.from_swebench(row, f"{path}[{i}]") for i, row in enumerate(rows)]


def select_tasks(tasks: Sequence[Task], source: Path, ids: Sequence[str] = (), include_uncalibrated: bool = False,
                 swebench: bool = False) -> list[Task]:
    """The tasks to run: the named ones (every name must exist), else the usable ones."""
    by_id = {task.instance_id: task for task in tasks}
    if ids:
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise HarnessError(f"--task-ids: {source} has no task {unknown[0]!r}{more}")
        return [by_id[i] for i in dict.fromkeys(ids)]
    if swebench:
        return list(tasks)
    usable = {CalibrationStatus.OK}
    if include_uncalibrated:
        usable.add(CalibrationStatus.UNCALIBRATED)
    chosen = [t for t in tasks if t.calibration.status in usable]
    if not tasks:
        raise HarnessError(f"{source}: the task set has no tasks")
    if not chosen:
        raise HarnessError(
            f"{source}: none of its {len(tasks)} tasks is calibrated ok; "
            "run `calibrate` first, or pass --uncalibrated to use tasks calibration has not seen"
        )
    return chosen
