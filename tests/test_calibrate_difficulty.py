"""Difficulty labels from per-tier pass counts, and which tasks get labelled."""

from __future__ import annotations

from calibrate.difficulty import difficulty_from, needing_labels
from factories import make_task
from harness.config import Tier
from taskset import Calibration, CalibrationStatus, Difficulty
from taskset.store import TaskSet

LADDER = ["local", "o3", "gpt-5.5"]


def test_first_tier_passing_once_is_trivial():
    """trivial: the first tier resolves the task in at least one of its samples."""
    assert difficulty_from({"local": (1, 3)}, LADDER) == Difficulty.TRIVIAL


def test_only_a_later_tier_passing_is_medium():
    """medium: the first tier never resolves it, a later tier does at least once."""
    assert difficulty_from({"local": (0, 3), "o3": (0, 3), "gpt-5.5": (2, 3)}, LADDER) == Difficulty.MEDIUM


def test_no_tier_passing_is_hard():
    """hard: no tier resolves it in any sample."""
    assert difficulty_from({name: (0, 2) for name in LADDER}, LADDER) == Difficulty.HARD


def test_only_ok_tasks_unlabelled_or_measured_differently_need_labels(tmp_path):
    """Labels go on ok tasks only; a task measured with the same tiers and samples is not redone."""
    tiers = [Tier(name="local"), Tier(name="o3")]
    tasks = TaskSet(tmp_path)
    done = Calibration(status=CalibrationStatus.OK, difficulty=Difficulty.TRIVIAL, tier_passes={"local": (1, 2)})
    other = Calibration(status=CalibrationStatus.OK, difficulty=Difficulty.HARD, tier_passes={"big": (0, 2)})
    tasks.add(make_task(instance_id="a__b-1", calibration=Calibration(status=CalibrationStatus.OK)))
    tasks.add(make_task(instance_id="a__b-2", calibration=done))
    tasks.add(make_task(instance_id="a__b-3", calibration=other))
    tasks.add(make_task(instance_id="a__b-4", calibration=Calibration(status=CalibrationStatus.FLAKY)))
    assert [t.instance_id for t in needing_labels(tasks, tiers, samples=2)] == ["a__b-1", "a__b-3"]
    assert [t.instance_id for t in needing_labels(tasks, tiers, samples=3)] == ["a__b-1", "a__b-2", "a__b-3"]
    assert len(needing_labels(tasks, tiers, samples=2, force=True)) == 3
