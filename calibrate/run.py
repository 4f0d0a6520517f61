"""A calibration run over a task set: what is left to do, done ``--jobs`` at a time, saved at once.

The driver alone writes: each task file the moment its unit finishes (atomically), then
``calibration.json``. The whole run holds the task set's writer lock, so a second calibration
(or a ``mine`` into the same directory) is refused instead of doing the work twice. An interrupt
keeps every finished task; the next run resumes with the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from calibrate.difficulty import label, needing_labels
from calibrate.errors import InvalidSetting
from calibrate.observe import calibrate_task
from calibrate.summary import CalibrationSummary, summarize, write_summary
from taskset.files.dirlock import exclusive
from taskset.jobs.pool import Backend, runner
from taskset.jobs.progress import SILENT, Progress
from taskset.record import CalibrationStatus, Task
from taskset.store import TaskSet


@dataclass(frozen=True)
class CalibrateConfig:
    """One ``calibrate`` invocation."""

    runs: int = 3
    """Reruns of the buggy and of the gold code per task."""
    jobs: int | None = None
    """Tasks calibrated (or labelled) at once (None: one on the local pool, as many as the Ray cluster has CPUs)."""
    backend: Backend = Backend.LOCAL
    """Where tasks are calibrated: this machine's process pool, or a Ray cluster (``--backend ray``)."""
    timeout: float | None = None
    """Seconds per test run (default: the evaluator's, scaled from earlier calibration)."""
    task_ids: tuple[str, ...] = ()
    """Only these tasks (default: every task)."""
    force: bool = False
    """Redo tasks already calibrated (and labelled)."""
    tiers: tuple = ()
    """Harness tiers (``harness.Tier``) that label difficulty, in ladder order; none: no labels."""
    samples: int = 1
    """Attempts per tier per task when labelling."""

    def check(self) -> None:
        """Refuse a setting no run can use, before any work starts."""
        for name, value in (("runs", self.runs), ("jobs", self.jobs), ("samples", self.samples)):
            if value is not None and value < 1:
                raise InvalidSetting(name, value, "must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidSetting("timeout", self.timeout, "must be more than 0 seconds")


def calibrate(
    root: str | Path, config: CalibrateConfig = CalibrateConfig(), progress: Progress = SILENT
) -> CalibrationSummary:
    """Calibrate (and with ``config.tiers`` label) the task set in ``root``; returns the summary.

    Raises CalibrateError for bad settings and TasksetError for a missing task set, an unknown
    task id or a directory another writer holds, all before any work starts.
    """
    config.check()
    TaskSet.open(root, skip_unreadable=True)  # a task set at all, before the lock file is created in it
    run_each = runner(config.backend)  # Ray connects here, before any work
    with exclusive(root, doing="calibrate"):
        tasks = TaskSet.open(root, skip_unreadable=True)
        ids = list(config.task_ids) or None
        if ids is None:
            tasks.require_readable()  # calibrating the whole set needs every task file
        for instance_id, exc in sorted(tasks.unreadable.items()):
            progress.note(f"skipped {instance_id}: {exc}")
        todo = pending(tasks, ids=ids, force=config.force)
        work = functools.partial(calibrate_task, runs=config.runs, timeout=config.timeout)
        calibrated = _each(run_each, tasks, todo, work, config.jobs, progress, "calibrating", _status)
        if config.tiers:
            todo = needing_labels(tasks, config.tiers, samples=config.samples, ids=ids, force=config.force)
            work = functools.partial(label, tiers=tuple(config.tiers), samples=config.samples)
            _each(run_each, tasks, todo, work, config.jobs, progress, "labelling difficulty", _difficulty)
        summary = summarize(tasks, calibrated_now=calibrated)
        write_summary(root, summary)
    return summary


def pending(tasks: TaskSet, *, ids: Iterable[str] | None = None, force: bool = False) -> list[Task]:
    """The tasks a run should calibrate: not yet calibrated ones, or every selected one with ``force``."""
    selected = tasks.filter(ids=ids) if ids is not None else tasks
    return [t for t in selected if force or t.calibration.status == CalibrationStatus.UNCALIBRATED]


def _each(
    run_each: Callable[..., None],
    tasks: TaskSet,
    todo: Sequence[Task],
    work: Callable[[Task], Task],
    jobs: int | None,
    progress: Progress,
    phase: str,
    outcome: Callable[[Task], str],
) -> int:
    """Run ``work`` on each task through the backend's pool, saving each result the moment it arrives."""
    progress.phase(phase, total=len(todo))
    saved = 0

    def save(_: Task, done: Task) -> None:
        nonlocal saved
        tasks.add(done)
        saved += 1
        progress.advance(outcome(done))

    run_each(work, todo, save, jobs=jobs)
    return saved


def _status(task: Task) -> str:
    return task.calibration.status.value


def _difficulty(task: Task) -> str:
    return task.calibration.difficulty.value
