"""The calibration summary: counts and percentages, flaky tests, slowest tasks, calibration.json."""

from __future__ import annotations

import json

from calibrate.summary import format_summary, summarize, write_summary
from factories import make_task
from taskset import Calibration, CalibrationStatus, Difficulty


def task(n: int, status=CalibrationStatus.OK, difficulty=Difficulty.UNKNOWN, gold=1.0, **calibration):
    block = Calibration(status=status, difficulty=difficulty, gold_seconds=gold, buggy_seconds=gold / 2, **calibration)
    return make_task(instance_id=f"octo__lib-{n:012d}", calibration=block)


def test_difficulty_percentages_are_of_the_labelled_tasks():
    """'N calibrated: x% trivial · y% medium · z% hard' counts only tasks whose difficulty was measured."""
    tasks = [task(1, difficulty=Difficulty.TRIVIAL), task(2, difficulty=Difficulty.HARD),
             task(3, difficulty=Difficulty.HARD), task(4, difficulty=Difficulty.MEDIUM),
             task(5, CalibrationStatus.FLAKY)]
    summary = summarize(tasks)
    text = format_summary(summary)
    assert "4 calibrated: 25% trivial · 25% medium · 50% hard" in text
    assert "status: 4 ok (80%) · 1 flaky (20%)" in text
    data = summary.to_dict()
    assert data["difficulty"]["hard"] == {"count": 2, "percent": 50.0}
    assert data["status"]["ok"] == {"count": 4, "percent": 80.0}


def test_without_tiers_difficulty_is_reported_unknown():
    """Without --tiers no difficulty is guessed: the summary says it is unknown."""
    assert "difficulty: unknown" in format_summary(summarize([task(1), task(2)]))


def test_uncalibrated_tasks_are_counted_apart():
    """Tasks not yet calibrated count in the total but in no status."""
    summary = summarize([task(1), task(2, CalibrationStatus.UNCALIBRATED)], calibrated_now=1)
    assert (summary.tasks, summary.calibrated, summary.by_status) == (2, 1, {"ok": 1})
    assert format_summary(summary).startswith("1 of 2 tasks calibrated (1 in this run)")


def test_flaky_tests_and_slowest_tasks_are_listed():
    """Flaky tests name their task, rate and whether they were removed; slowest tasks come first."""
    flaky = task(1, gold=3.0, flaky_tests=("t::removed",), flake_rates={"t::removed": 0.25})
    summary = summarize([flaky, task(2, gold=9.0), task(3, gold=0.5)])
    assert [f.test for f in summary.flaky_tests] == ["t::removed"]
    assert summary.flaky_tests[0].removed and summary.flaky_tests[0].flake_rate == 0.25
    assert [s[0] for s in summary.slowest] == [task(2).instance_id, flaky.instance_id, task(3).instance_id]
    assert "flaky tests found: 1" in format_summary(summary)


def test_summary_is_written_beside_the_tasks(tmp_path):
    """calibration.json holds the same object --json prints."""
    summary = summarize([task(1)])
    path = write_summary(tmp_path, summary)
    assert path == tmp_path / "calibration.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(summary.to_dict()))
