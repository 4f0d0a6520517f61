"""Mining the shipped sample: exactly its genuine fixes become tasks; every other commit is
rejected for the right reason; a rerun does no repeated work; bad input leaves nothing behind.

The sample is mined once per session (conftest's ``mined_sample``) (real venvs, real pytest
runs); the tests read that result.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import taskset
from cli import cli
from miner.ledger import REJECTIONS_FILE, read_rejections
from miner.split import changed_lines

pytestmark = pytest.mark.slow


def _mine(*args: str):
    return CliRunner().invoke(cli, ["mine", *args], catch_exceptions=False)


@pytest.fixture
def mined(mined_sample):
    """The sample mined with two jobs (once per session): (out dir, the --json summary)."""
    return mined_sample


def test_genuine_fixes_become_exactly_the_tasks(mined, sample_module, sample_commits):
    """Mining the sample gives exactly its genuine fixes, with their FAIL_TO_PASS/PASS_TO_PASS ids."""
    out, _ = mined
    tasks = {task.fix_commit: task for task in taskset.load(out)}
    expected = {sample_commits[g["subject"]]: g for g in sample_module.GENUINE}
    assert set(tasks) == set(expected)
    for sha, genuine in expected.items():
        task = tasks[sha]
        assert sorted(task.FAIL_TO_PASS) == sorted(genuine["fail_to_pass"]), genuine["subject"]
        assert sorted(task.PASS_TO_PASS) == sorted(genuine["pass_to_pass"]), genuine["subject"]


def test_failure_kinds_are_labelled(mined, sample_module, sample_commits):
    """Each FAIL_TO_PASS test records how it failed on the buggy code (assertion/exception:Name/collection)."""
    out, _ = mined
    tasks = {task.fix_commit: task for task in taskset.load(out)}
    for genuine in sample_module.GENUINE:
        task = tasks[sample_commits[genuine["subject"]]]
        for test in task.FAIL_TO_PASS:
            mode = task.meta.fail_modes[test]
            label = f"exception:{mode.exception}" if mode.kind.value == "exception" else mode.kind.value
            assert label == genuine["failure"], (genuine["subject"], test)


def test_decoys_and_ordinary_commits_are_rejected_for_the_right_reason(mined, sample_module, sample_commits):
    """Every decoy and ordinary commit ends in rejections.jsonl with its expected reason."""
    out, summary = mined
    reasons = {r.fix_commit: r.reason.value for r in read_rejections(out / REJECTIONS_FILE)}
    for decoy in sample_module.DECOYS:
        assert reasons[sample_commits[decoy["subject"]]] == decoy["expected"], decoy["subject"]
    for ordinary in sample_module.ORDINARY:
        assert reasons[sample_commits[ordinary["subject"]]] == ordinary["reason"], ordinary["subject"]
    assert summary["commits_walked"] == len(sample_commits)
    assert summary["tasks"] + summary["rejected"] == len(sample_commits)  # nothing dropped silently


def test_task_records_are_complete(mined, sample_repo):
    """Tasks carry the instance id form, the parent as base, the environment and no gold line in the statement."""
    out, _ = mined
    for task in taskset.load(out):
        assert task.instance_id == f"local__{sample_repo.name}-{task.fix_commit[:12]}"
        assert task.base_commit != task.fix_commit and task.created_at.startswith("20")
        assert task.environment.python and task.environment.requirements
        assert task.failure_output and task.meta.subject in task.problem_statement
        for line in changed_lines(task.patch):
            if len(line.strip()) >= 4:
                assert line.strip() not in task.problem_statement, task.instance_id
        assert "tests/" not in task.patch and "CHANGELOG" not in task.patch


def test_rerun_does_no_repeated_work(mined, sample_repo, tmp_path):
    """Mining the same range again validates nothing and reports the same funnel."""
    out, first = mined
    copy = tmp_path / "ts"
    shutil.copytree(out, copy)
    result = _mine("--repo", str(sample_repo), "--out", str(copy), "--json")
    again = json.loads(result.output)
    assert again["validated"] == 0 and again["skipped"] == first["candidates"]
    assert (again["tasks"], again["rejections"]) == (first["tasks"], first["rejections"])


def test_interrupted_run_resumes_where_it_stopped(mined, sample_repo, sample_commits, sample_module, tmp_path):
    """A run killed before recording some candidates redoes exactly those on the next run."""
    out, first = mined
    copy = tmp_path / "ts"
    shutil.copytree(out, copy)
    lost = sample_commits[sample_module.GENUINE[0]["subject"]]
    (copy / "tasks" / f"local__{sample_repo.name}-{lost[:12]}.json").unlink()
    result = _mine("--repo", str(sample_repo), "--out", str(copy), "--json")
    again = json.loads(result.output)
    assert again["validated"] == 1
    assert again["tasks"] == first["tasks"]
    assert lost in {task.fix_commit for task in taskset.load(copy)}


def test_human_summary_shows_the_funnel(mined, sample_repo, tmp_path):
    """Without --json the funnel is printed as lines: walked, candidates, tasks, rejections by reason."""
    out, _ = mined
    copy = tmp_path / "ts"
    shutil.copytree(out, copy)
    text = _mine("--repo", str(sample_repo), "--out", str(copy)).output
    for word in ("commits walked", "candidates", "tasks", "rejections", "flaky", "install-failed"):
        assert word in text
