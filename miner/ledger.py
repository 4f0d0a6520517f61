"""The output directory: a TaskSet for tasks, ``rejections.jsonl`` beside it.

Only the parent process writes here, one finished candidate at a time, so an interrupted run
loses nothing it finished; the next run skips every fix commit already recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from miner.rejections import Reason, Rejection
from taskset.files.atomic import append_line, drop_torn_tail
from taskset.record import Task
from taskset.store import TaskSet

REJECTIONS_FILE = "rejections.jsonl"


class Ledger:
    """Tasks and rejections of one output directory, and the fix commits they cover."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.tasks = TaskSet.open(self.root, create=True)
        self.rejections_path = self.root / REJECTIONS_FILE
        drop_torn_tail(self.rejections_path)
        self.known: dict[str, Reason | None] = {task.fix_commit: None for task in self.tasks}
        """Fix commits already recorded: their rejection reason, or None for a task."""
        # a miner error or a missing interpreter is no verdict on the commit: retried on the next run
        self.known.update((r.fix_commit, r.reason) for r in read_rejections(self.rejections_path)
                          if not r.reason.retried)

    def add_task(self, task: Task) -> None:
        """Write one task (atomically) and remember its fix commit."""
        self.tasks.add(task)
        self.known[task.fix_commit] = None

    def add_rejections(self, rejections: Iterable[Rejection]) -> None:
        """Append rejections to ``rejections.jsonl`` with one fsync for the batch."""
        fresh = [r for r in rejections if r.fix_commit not in self.known]
        if not fresh:
            return
        append_line(self.rejections_path, "\n".join(r.to_json() for r in fresh))
        self.known.update((r.fix_commit, r.reason) for r in fresh)


def read_rejections(path: Path) -> list[Rejection]:
    """The rejections recorded in ``path``; a line cut short by a kill is ignored."""
    if not path.is_file():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            found.append(Rejection.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue  # a partial last line from an interrupted append
    return found
