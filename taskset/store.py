"""A task set on disk: ``tasks/<instance_id>.json`` plus ``index.json``, written atomically."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from taskset.errors import TaskNotFound, TaskRecordError, TasksetError
from taskset.files.atomic import write_atomic
from taskset.record import SCHEMA_VERSION, CalibrationStatus, Task, load_task

TASKS_DIR = "tasks"
INDEX_FILE = "index.json"


class TaskSet:
    """The tasks of one directory, in instance-id order. Filters return views on the same directory."""

    def __init__(self, root: str | Path, tasks: Iterable[Task] = ()):
        self.root = Path(root)
        self._tasks = {task.instance_id: task for task in tasks}
        self.unreadable: dict[str, TaskRecordError] = {}
        """Task files skipped because they cannot be read, by instance id (``skip_unreadable``)."""

    @classmethod
    def open(cls, root: str | Path, create: bool = False, skip_unreadable: bool = False) -> TaskSet:
        """Load the task set in ``root``; with ``create`` an absent directory starts empty.

        An unreadable task file raises its TaskRecordError; with ``skip_unreadable`` it is left out
        and kept in ``unreadable`` instead, so that work on other tasks goes on, while asking for that
        task (by id, or with ``require_readable``) still raises.
        """
        root = Path(root)
        tasks_dir = root / TASKS_DIR
        if not tasks_dir.is_dir():
            if create:
                return cls(root)
            if not root.exists():
                raise TasksetError(f"{root}: no such task set directory")
            raise TasksetError(f"{root}: not a task set (no {TASKS_DIR}/ directory)")
        tasks, unreadable = [], {}
        for path in sorted(tasks_dir.glob("*.json")):
            try:
                tasks.append(load_task(path))
            except TaskRecordError as exc:
                if not skip_unreadable:
                    raise
                unreadable[path.stem] = exc
        found = cls(root, tasks)
        found.unreadable = unreadable
        return found

    def require_readable(self) -> None:
        """Raise the first unreadable task file's error (for work that needs every task)."""
        for instance_id in sorted(self.unreadable):
            raise self.unreadable[instance_id]

    def __iter__(self) -> Iterator[Task]:
        return iter(sorted(self._tasks.values(), key=lambda task: task.instance_id))

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, instance_id: object) -> bool:
        return instance_id in self._tasks

    def __getitem__(self, instance_id: str) -> Task:
        if instance_id in self.unreadable:
            raise self.unreadable[instance_id]
        try:
            return self._tasks[instance_id]
        except KeyError:
            raise TaskNotFound(instance_id, str(self.root)) from None

    def __repr__(self) -> str:
        return f"TaskSet({str(self.root)!r}, {len(self)} tasks)"

    @property
    def ids(self) -> list[str]:
        """Instance ids, sorted."""
        return sorted(self._tasks)

    def where(self, predicate: Callable[[Task], bool]) -> TaskSet:
        """A view holding the tasks for which ``predicate`` is true."""
        return TaskSet(self.root, (task for task in self if predicate(task)))

    def filter(
        self,
        repo: str | None = None,
        status: CalibrationStatus | str | None = None,
        ids: Iterable[str] | None = None,
    ) -> TaskSet:
        """A view by repository (``owner/name``), calibration status and/or instance ids."""
        wanted_status = CalibrationStatus(status) if status is not None else None
        wanted_ids = set(ids) if ids is not None else None
        if wanted_ids is not None:
            for instance_id in sorted(wanted_ids & set(self.unreadable)):
                raise self.unreadable[instance_id]
            missing = sorted(wanted_ids - set(self._tasks))
            if missing:
                raise TaskNotFound(missing[0], str(self.root))
        return self.where(
            lambda task: (repo is None or task.repo == repo)
            and (wanted_status is None or task.calibration.status == wanted_status)
            and (wanted_ids is None or task.instance_id in wanted_ids)
        )

    def calibrated(self) -> TaskSet:
        """Only the tasks calibration marked ``ok``: what the harness uses by default."""
        return self.filter(status=CalibrationStatus.OK)

    def add(self, task: Task) -> Path:
        """Write (or replace) one task atomically, then the index; returns the task file's path."""
        self._tasks[task.instance_id] = task
        path = self.root / TASKS_DIR / f"{task.instance_id}.json"
        write_atomic(path, task.to_json())
        self.save_index()
        return path

    def save_index(self) -> None:
        """Rewrite ``index.json`` from the tasks in memory."""
        entries = {
            task.instance_id: {
                "repo": task.repo,
                "fix_commit": task.fix_commit,
                "status": task.calibration.status.value,
                "difficulty": task.calibration.difficulty.value,
                "FAIL_TO_PASS": len(task.FAIL_TO_PASS),
                "PASS_TO_PASS": len(task.PASS_TO_PASS),
            }
            for task in self
        }
        index = {"schema_version": SCHEMA_VERSION, "tasks": entries}
        write_atomic(self.root / INDEX_FILE, json.dumps(index, indent=2, sort_keys=True) + "\n")


def load(path: str | Path, skip_unreadable: bool = False) -> TaskSet:
    """Open the task set in ``path`` (a directory written by ``mine``); see ``TaskSet.open``."""
    return TaskSet.open(path, skip_unreadable=skip_unreadable)
