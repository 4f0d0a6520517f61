"""calibrate: rerun mined tasks until they can be trusted as gates, and label their difficulty.

The seams, on one screen::

    calibrate(root, CalibrateConfig(...), progress) -> CalibrationSummary
        the whole run: pending tasks -> calibrate_task (--jobs processes) -> each task saved at once
        -> (with tiers) label -> calibration.json; holds the task set's writer lock throughout
    calibrate_task(task, runs=, timeout=) -> Task      one task: observe() the plan, judge(), no I/O on the set
    plan(task, runs) -> [(Side, Variant, tests)]       which runs calibrate a task (pure)
    judge(task, [Observation], runs) -> Task           the rules: ok | flaky | bad-test | broken | env-failed (pure)
    label(task, tiers, samples=) -> Task               difficulty from the harness tiers' observed solves
    summarize(tasks) -> CalibrationSummary             counts, flaky tests, slowest tasks

Depends on ``taskset`` (the evaluator is the only thing that runs tests) and, for difficulty
labels only, on ``harness``. Errors: ``CalibrateError`` (bad settings); the task set's own
problems stay ``TasksetError``.
"""

from calibrate.difficulty import difficulty_from, label, needing_labels
from calibrate.errors import CalibrateError, InvalidSetting
from calibrate.observe import calibrate_task, observe
from calibrate.rules import Observation, Side, Variant, judge, plan
from calibrate.run import CalibrateConfig, calibrate, pending
from calibrate.summary import SUMMARY_FILE, CalibrationSummary, FlakyTest, format_summary, summarize, write_summary

__all__ = [
    "CalibrateConfig",
    "CalibrateError",
    "CalibrationSummary",
    "FlakyTest",
    "InvalidSetting",
    "Observation",
    "SUMMARY_FILE",
    "Side",
    "Variant",
    "calibrate",
    "calibrate_task",
    "difficulty_from",
    "format_summary",
    "judge",
    "label",
    "needing_labels",
    "observe",
    "pending",
    "plan",
    "summarize",
    "write_summary",
]
