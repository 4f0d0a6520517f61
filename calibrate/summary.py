"""What calibration found across a task set: counts, flaky tests, slowest tasks, ``calibration.json``.

Percentages of statuses are of the calibrated tasks; percentages of difficulty are of the tasks
whose difficulty was measured (``unknown`` is not a difficulty, it is the absence of one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from taskset.files.atomic import write_atomic
from taskset.record import CalibrationStatus, Difficulty, Task
from taskset.store import TaskSet

SUMMARY_FILE = "calibration.json"
SLOWEST = 5


@dataclass(frozen=True)
class FlakyTest:
    """A test calibration saw flip, and the task it belongs to."""

    instance_id: str
    test: str
    flake_rate: float
    removed: bool
    """True for a PASS_TO_PASS test taken out of the task (the task stays usable)."""


@dataclass(frozen=True)
class CalibrationSummary:
    """Counts by status and difficulty, the flaky tests and the slowest tasks of one task set."""

    tasks: int
    calibrated: int
    by_status: dict[str, int]
    by_difficulty: dict[str, int]
    flaky_tests: tuple[FlakyTest, ...]
    slowest: tuple[tuple[str, float, float], ...]
    """(instance_id, median gold seconds, median buggy seconds), slowest gold run first."""
    calibrated_now: int = 0

    @property
    def labelled(self) -> int:
        """Tasks whose difficulty was measured."""
        return sum(n for name, n in self.by_difficulty.items() if name != Difficulty.UNKNOWN.value)

    def to_dict(self) -> dict:
        """The JSON form written to ``calibration.json`` and printed by ``--json``."""
        return {
            "tasks": self.tasks,
            "calibrated": self.calibrated,
            "calibrated_now": self.calibrated_now,
            "status": {name: _share(n, self.calibrated) for name, n in self.by_status.items()},
            "difficulty": {
                name: _share(n, self.labelled if name != Difficulty.UNKNOWN.value else self.calibrated)
                for name, n in self.by_difficulty.items()
            },
            "flaky_tests": [vars(flaky) for flaky in self.flaky_tests],
            "slowest": [
                {"instance_id": iid, "gold_seconds": gold, "buggy_seconds": buggy} for iid, gold, buggy in self.slowest
            ],
        }


def _share(count: int, whole: int) -> dict:
    return {"count": count, "percent": round(100.0 * count / whole, 1) if whole else 0.0}


def summarize(tasks: TaskSet | list[Task], calibrated_now: int = 0) -> CalibrationSummary:
    """Summarise the calibration blocks of ``tasks`` (every task, calibrated or not)."""
    tasks = list(tasks)
    done = [t for t in tasks if t.calibration.status != CalibrationStatus.UNCALIBRATED]
    by_status = {s.value: sum(t.calibration.status == s for t in done) for s in CalibrationStatus}
    by_status = {name: n for name, n in by_status.items() if n and name != CalibrationStatus.UNCALIBRATED.value}
    by_difficulty = {d.value: sum(t.calibration.difficulty == d for t in done) for d in Difficulty}
    by_difficulty = {name: n for name, n in by_difficulty.items() if n}
    flaky = tuple(
        FlakyTest(t.instance_id, test, t.calibration.flake_rates.get(test, 0.0), test not in t.tests)
        for t in done
        for test in t.calibration.flaky_tests
    )
    timed = sorted(done, key=lambda t: (-t.calibration.gold_seconds, t.instance_id))
    slowest = tuple(
        (t.instance_id, t.calibration.gold_seconds, t.calibration.buggy_seconds)
        for t in timed[:SLOWEST]
        if t.calibration.gold_seconds > 0
    )
    return CalibrationSummary(len(tasks), len(done), by_status, by_difficulty, flaky, slowest, calibrated_now)


def write_summary(root: str | Path, summary: CalibrationSummary) -> Path:
    """Write ``calibration.json`` beside the tasks, atomically; returns its path."""
    path = Path(root) / SUMMARY_FILE
    write_atomic(path, json.dumps(summary.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def format_summary(summary: CalibrationSummary) -> str:
    """The summary as a few lines of text for the terminal."""
    lines = [f"{summary.calibrated} of {summary.tasks} tasks calibrated ({summary.calibrated_now} in this run)"]
    if summary.calibrated:
        lines.append("status: " + _shares(summary.by_status, summary.calibrated, counts=True))
    measured = {k: v for k, v in summary.by_difficulty.items() if k != Difficulty.UNKNOWN.value}
    if measured:
        lines.append(f"{summary.labelled} calibrated: " + _shares(measured, summary.labelled))
    else:
        lines.append("difficulty: unknown (label it with --tiers)")
    lines.append(f"flaky tests found: {len(summary.flaky_tests)}")
    for flaky in summary.flaky_tests:
        what = "removed from PASS_TO_PASS" if flaky.removed else "FAIL_TO_PASS"
        lines.append(f"  {flaky.instance_id}  {flaky.test}  ({what}, flake rate {flaky.flake_rate:.0%})")
    if summary.slowest:
        lines.append("slowest tasks (median gold / buggy run):")
        lines += [f"  {iid}  {gold:.2f}s / {buggy:.2f}s" for iid, gold, buggy in summary.slowest]
    return "\n".join(lines)


def _shares(tally: dict[str, int], whole: int, *, counts: bool = False) -> str:
    parts = []
    for name, n in tally.items():
        percent = f"{round(100 * n / whole)}%"
        parts.append(f"{n} {name} ({percent})" if counts else f"{percent} {name}")
    return " · ".join(parts)
