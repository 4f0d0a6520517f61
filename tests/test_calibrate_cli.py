"""The calibrate command's edges that need no test run: bad input is one line and exit 2."""

from __future__ import annotations

import json

from click.testing import CliRunner
from factories import make_task

from cli import cli
from taskset.store import TaskSet


def calibrate(*args: str):
    return CliRunner().invoke(cli, ["calibrate", *args])


def test_missing_task_set_is_one_line_and_exit_2(tmp_path):
    """A directory that is not a task set is reported in one line, exit 2, no traceback."""
    result = calibrate(str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.output.startswith("error:") and "Traceback" not in result.output


def test_unknown_task_id_is_exit_2(tmp_path):
    """--task-ids naming a task that is not in the set is an error, not a silent no-op."""
    TaskSet(tmp_path).add(make_task())
    result = calibrate(str(tmp_path), "--task-ids", "nobody__nothing-000000000000")
    assert result.exit_code == 2 and "nobody__nothing-000000000000" in result.output


def test_unknown_tier_is_exit_2(tmp_path):
    """--tiers naming a tier the config does not define is an error before anything runs."""
    TaskSet(tmp_path).add(make_task())  # already calibrated: only labelling would run
    result = calibrate(str(tmp_path), "--tiers", "no-such-tier")
    assert result.exit_code == 2 and "no-such-tier" in result.output


def test_nothing_to_do_still_writes_the_summary(tmp_path):
    """With every task calibrated, a rerun does no work but prints and writes the summary."""
    TaskSet(tmp_path).add(make_task())
    result = calibrate(str(tmp_path), "--json")
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed["calibrated_now"] == 0 and printed["status"]["ok"]["count"] == 1
    assert json.loads((tmp_path / "calibration.json").read_text()) == printed
