"""Task classes and the decision matrix: results split by repository, difficulty, patch size or files.

A task's class comes from its record (tasks.jsonl keeps it from the run; older runs read the task
set): ``repo``; ``difficulty``, the calibrated label; ``size``, the gold patch's changed lines
bucketed; ``files``, how many files it touches. The decision matrix names, per class, the
cheapest strategy whose 95% interval reaches the best pass rate there, with its cost.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from harness.names import Strategy
from taskset.record import Task
from taskset.workspace.diffpaths import patch_paths, strip_level


class ClassKind(str, enum.Enum):
    """What ``harness report --by`` splits on."""

    REPO = "repo"
    DIFFICULTY = "difficulty"
    SIZE = "size"
    FILES = "files"


SIZE_BUCKETS = ((5, "1-5 lines"), (20, "6-20 lines"), (50, "21-50 lines"))
"""Upper bounds of the changed-line buckets; larger patches are ``51+ lines``."""
NOT_A_CHOICE = frozenset({Strategy.ORACLE_ROUTING.value})
"""oracle-routing knows each task's outcome before choosing: a bound, never a strategy to pick."""


def classes_of(task: Task) -> dict[str, str]:
    """Every class label of a task, by kind."""
    changed = sum(1 for line in task.patch.splitlines()
                  if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))
    size = next((label for top, label in SIZE_BUCKETS if changed <= top), f"{SIZE_BUCKETS[-1][0] + 1}+ lines")
    files = len(patch_paths(task.patch, strip_level(task.patch)))
    return {ClassKind.REPO.value: task.repo, ClassKind.DIFFICULTY.value: task.calibration.difficulty.value,
            ClassKind.SIZE.value: size, ClassKind.FILES.value: "1 file" if files == 1 else
            f"{files} files" if files < 3 else "3+ files"}


def label_order(kind: ClassKind, labels: set[str]) -> list[str]:
    """Labels in a reader's order: sizes and file counts ascending, difficulty easy first, else by name."""
    if kind is ClassKind.SIZE:
        order = [label for _, label in SIZE_BUCKETS] + [f"{SIZE_BUCKETS[-1][0] + 1}+ lines"]
    elif kind is ClassKind.FILES:
        order = ["1 file", "2 files", "3+ files"]
    elif kind is ClassKind.DIFFICULTY:
        order = ["trivial", "medium", "hard", "unsolved", "unknown"]
    else:
        order = []
    return sorted(labels, key=lambda label: (order.index(label) if label in order else len(order), label))


def decide(label: str, strategies: Mapping[str, Mapping[str, Any]], tasks: int) -> dict[str, Any]:
    """The cheapest strategy whose interval reaches the class's best pass rate (unknown cost counts last).

    Only strategies that finished every run of the class compete, while any did: a pass rate over
    part of the class is not the class's.
    """
    rated = {n: s for n, s in strategies.items() if n not in NOT_A_CHOICE and s.get("pass_rate") is not None}
    finished = {n: s for n, s in rated.items() if not s.get("incomplete_runs")}
    rated = finished or rated
    row: dict[str, Any] = {"class": label, "tasks": tasks, "best": None, "best_pass_rate": None, "choice": None,
                           "pass_rate": None, "ci95": None, "cost_per_task": None, "cloud_fraction": None,
                           "complete": bool(finished)}
    if not rated:
        return row
    best = max(rated, key=lambda n: rated[n]["pass_rate"])
    top = rated[best]["pass_rate"]
    close = [n for n, s in rated.items() if n == best or (s.get("ci95") and s["ci95"][1] >= top)]
    choice = min(close, key=lambda n: (rated[n]["cost_per_task"] is None, rated[n]["cost_per_task"] or 0.0,
                                        -rated[n]["pass_rate"]))
    s = rated[choice]
    row.update(best=best, best_pass_rate=top, choice=choice, pass_rate=s["pass_rate"], ci95=s.get("ci95"),
               cost_per_task=s.get("cost_per_task"), cloud_fraction=s.get("cloud_fraction"))
    return row
