"""Calibration of the sample task set: every genuine fix is ok, decoys slipped in by hand are caught.

The miner already rejects the sample's decoys; here two of them are added as tasks anyway (as if
the miner had let them through) to prove calibration is the second line of defence.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import taskset
from cli import cli
from taskset import CalibrationStatus, Task

pytestmark = pytest.mark.slow  # builds the sample's environment from the package index


def decoy_task(repo: Path, sha: str, test: str, like: Task, name: str) -> Task:
    """The decoy commit ``sha`` as the miner would have written it, had it let it through."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout

    parent = git("rev-parse", f"{sha}^").strip()
    return replace(
        like,
        instance_id=f"local__calclib-decoy-{name}",
        base_commit=parent,
        fix_commit=sha,
        patch=git("diff", parent, sha, "--", "src"),
        test_patch=git("diff", parent, sha, "--", "tests"),
        FAIL_TO_PASS=(test,),
        PASS_TO_PASS=(),
        calibration=taskset.Calibration(),
    )


def test_sample_task_set_calibrates_genuine_fixes_ok_and_catches_decoys(
    sample_repo, sample_commits, sample_module, mined_sample, tmp_path
):
    """Every genuine fix the miner found is ok; the flaky decoy is flaky, the passes-before decoy bad-test."""
    out = tmp_path / "taskset"
    shutil.copytree(mined_sample[0], out)
    tasks = taskset.load(out)
    genuine = list(tasks)
    assert len(genuine) == len(sample_module.GENUINE)
    decoys = {d["kind"]: d for d in sample_module.DECOYS}
    flaky = decoys["flaky"]
    tasks.add(decoy_task(sample_repo, sample_commits[flaky["subject"]], flaky["extra"]["test"], genuine[0], "flaky"))
    before = decoys["fix-test-passes-before"]
    tasks.add(decoy_task(sample_repo, sample_commits[before["subject"]],
                         "tests/test_numbers.py::test_parse_number_strips_whitespace", genuine[0], "passes-before"))

    result = CliRunner().invoke(cli, ["calibrate", str(out), "--runs", "1", "--jobs", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    calibrated = taskset.load(out)
    statuses = {t.instance_id: calibrated[t.instance_id].calibration for t in genuine}
    assert all(c.status == CalibrationStatus.OK for c in statuses.values()), statuses
    leak = calibrated["local__calclib-decoy-flaky"].calibration
    assert leak.status == CalibrationStatus.FLAKY and "leaves state behind" in leak.reason
    assert calibrated["local__calclib-decoy-passes-before"].calibration.status == CalibrationStatus.BAD_TEST
    assert summary["status"]["ok"]["count"] == len(genuine)
    assert (out / "calibration.json").is_file()
