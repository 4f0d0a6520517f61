"""Whole runs through the CLI: oracle proves the harness, kill + resume, budget, secrets, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from harness.records.attempts import read_answers, read_attempts
from test_harness_server import BAD_ANSWER, GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_tasks(make_repo, python_project_env, tmp_path):
    """A task set of two tiny real tasks."""
    tasks = [build_tiny_task(make_repo(f"r{i}"), name=f"tiny{i}") for i in range(2)]
    return build_taskset(tmp_path / "ts", tasks), tasks


def write_config(path: Path, url: str, key_env: str = "") -> Path:
    """Three tiers at the scripted server: free local, priced o3 (2 attempts, feedback), priced top."""
    key = f'api_key_env = "{key_env}"\n'
    path.write_text(
        f'[tiers.local]\nbase_url = "{url}"\nmodel = "local-m"\nmax_retries = 0\n\n'
        f'[tiers.o3]\nbase_url = "{url}"\nmax_retries = 0\n{key}\n'
        f'[tiers."gpt-5.5"]\nbase_url = "{url}"\nmax_retries = 0\nprice_input = 5.0\nprice_output = 20.0\n{key}'
    )
    return path


SCRIPT = {
    "local-m": [Reply(content="no idea")],
    "o3": [Reply(content=BAD_ANSWER, prompt_tokens=1_000_000, completion_tokens=0)],
    "gpt-5.5": [Reply(content=GOOD_ANSWER, prompt_tokens=1000, completion_tokens=100)],
}


def test_oracle_run_resolves_every_task_and_the_report_renders(two_tasks, tmp_path):
    """`harness run --tiers oracle` resolves every task; `harness report` writes self-contained HTML and Markdown."""
    ts, tasks = two_tasks
    out = tmp_path / "runs" / "oracle"
    done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--tiers", "oracle", "--out", str(out),
                                    "--jobs", "2"])
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategies"]["modeE"]["pass_rate"] == 1.0
    assert summary["strategies"]["modeE"]["resolved_runs"] == len(tasks)
    shown = CliRunner().invoke(cli, ["harness", "report", str(out)])
    assert shown.exit_code == 0, shown.output
    html = (out / "report.html").read_text()
    assert "<svg" in html and "modeE" in html and "100.0%" in html
    assert "src=" not in html and "<link" not in html  # no external assets
    assert "| modeE |" in (out / "report.md").read_text()


def test_scripted_three_tier_run_costs_come_from_reported_usage(two_tasks, tmp_path):
    """o3's million prompt tokens at $2/M cost $2 per attempt; the top tier's usage is priced at its own rates."""
    ts, tasks = two_tasks
    out = tmp_path / "runs" / "s"
    with ScriptedServer(SCRIPT) as server:
        config = write_config(tmp_path / "tiers.toml", server.url)
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config),
                                        "--strategies", "modeE,always-frontier", "--out", str(out)])
    assert done.exit_code == 0, done.output
    modes = [r.failure_mode.value for r in read_attempts(out / "attempts.jsonl") if r.task == tasks[0].instance_id]
    assert modes == ["format-violation", "tests-failed", "tests-failed", "resolved"]
    s = json.loads((out / "summary.json").read_text())["strategies"]
    assert s["modeE"]["cost_per_task"] == pytest.approx(2 * 2.0 + (1000 * 5 + 100 * 20) / 1e6)
    assert s["always-frontier"]["cost_per_task"] == pytest.approx((1000 * 5 + 100 * 20) / 1e6)
    assert s["modeE"]["cloud_fraction"] == 1.0


def test_killed_run_resumes_without_losing_or_repeating_an_attempt(two_tasks, tmp_path):
    """SIGKILL mid-run, rerun the same command: every attempt recorded exactly once, earlier records untouched."""
    ts, tasks = two_tasks
    out = tmp_path / "runs" / "killed"
    with ScriptedServer(SCRIPT) as server:
        config = write_config(tmp_path / "tiers.toml", server.url)
        args = ["harness", "run", "--taskset", str(ts), "--config", str(config), "--strategies", "modeE",
                "--out", str(out)]
        child = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        attempts = out / "attempts.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if attempts.exists() and len(attempts.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        before = attempts.read_text().splitlines()
        assert 3 <= len(before) < 8, "the run must be killed mid-way"
        answered = len(read_answers(out / "answers.jsonl"))  # paid-for answers, judged or not
        asked_before = len(server.requests)
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, done.output
        asked_after = len(server.requests) - asked_before
    after = attempts.read_text().splitlines()
    assert after[: len(before)] == before
    keys = [(r.task, r.seed, r.tier, r.attempt) for r in read_attempts(attempts)]
    assert len(keys) == len(set(keys)) == 8
    # the rerun asks only for attempts with no stored answer: an answer that arrived before the kill is
    # judged from answers.jsonl, never bought twice (one request may have been in flight at the kill)
    assert asked_after == 8 - answered
    assert asked_before - answered <= 1


def test_max_cost_stops_new_paid_attempts_and_says_so(two_tasks, tmp_path):
    """Once priced spend reaches --max-cost no paid attempt starts; free tiers still run; the CLI says why."""
    ts, tasks = two_tasks
    out = tmp_path / "runs" / "budget"
    with ScriptedServer(SCRIPT) as server:
        config = write_config(tmp_path / "tiers.toml", server.url)
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config),
                                        "--strategies", "modeE", "--max-cost", "1.5", "--out", str(out)])
        asked = [b["model"] for b in server.requests]
    assert done.exit_code == 0, done.output
    assert "--max-cost 1.5 reached" in done.output
    assert asked == ["local-m", "o3", "local-m"]  # the first $2 o3 attempt exhausted the budget


def test_api_key_is_never_written_to_the_run_directory(two_tasks, tmp_path, monkeypatch):
    """A planted key reaches the server but no file of the run directory (records, answers, reports)."""
    ts, _ = two_tasks
    secret = "sk-planted-secret-4242"
    monkeypatch.setenv("LOOPCTL_PLANTED_API_KEY", secret)
    script = dict(SCRIPT, o3=[Reply(status=401, error=f"Incorrect API key provided: {secret}")])
    out = tmp_path / "runs" / "keys"
    with ScriptedServer(script) as server:
        config = write_config(tmp_path / "tiers.toml", server.url, key_env="LOOPCTL_PLANTED_API_KEY")
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config),
                                        "--strategies", "modeE", "--out", str(out)])
        assert done.exit_code == 0, done.output
        assert any(h.get("authorization") == f"Bearer {secret}" for h in server.headers)
    assert CliRunner().invoke(cli, ["harness", "report", str(out)]).exit_code == 0
    for path in out.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
    assert secret not in done.output


def test_rerun_with_other_tiers_is_refused(two_tasks, tmp_path):
    """A run directory belongs to one ladder: resuming it with different tiers is an error, not a mix."""
    ts, _ = two_tasks
    out = tmp_path / "runs" / "one"
    args = ["harness", "run", "--taskset", str(ts), "--strategies", "modeE", "--out", str(out)]
    assert CliRunner().invoke(cli, [*args, "--tiers", "oracle"]).exit_code == 0
    again = CliRunner().invoke(cli, [*args, "--tiers", "oracle,local"])
    assert again.exit_code == 2 and "different tiers" in again.output


def test_only_calibrated_tasks_run_by_default(make_repo, python_project_env, tmp_path):
    """The harness uses calibrated (ok) tasks; an uncalibrated set is refused with a hint, --uncalibrated runs it."""
    tasks = [build_tiny_task(make_repo("u0"), name="unseen0")]
    ts = build_taskset(tmp_path / "ts", tasks, calibrated=False)
    out = tmp_path / "runs" / "o"
    refused = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--tiers", "oracle", "--out", str(out)])
    assert refused.exit_code == 2
    assert "calibrate" in refused.output and "--uncalibrated" in refused.output
    done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--tiers", "oracle", "--out", str(out),
                                    "--uncalibrated"])
    assert done.exit_code == 0, done.output
    assert json.loads((out / "summary.json").read_text())["strategies"]["modeE"]["resolved_runs"] == 1


def test_oracle_resolves_every_task_of_the_mined_sample(mined_sample, tmp_path):
    """On the sample task set the oracle tier resolves every task: the harness proves itself."""
    out = tmp_path / "runs" / "oracle"
    done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(mined_sample[0]), "--tiers", "oracle",
                                    "--out", str(out), "--uncalibrated", "--strategies", "modeE", "--jobs", "2"])
    assert done.exit_code == 0, done.output
    modee = json.loads((out / "summary.json").read_text())["strategies"]["modeE"]
    assert modee["resolved_runs"] == mined_sample[1]["tasks"] == 6
    assert modee["pass_rate"] == 1.0


class Recorder:
    """A Progress (taskset.jobs.progress) that remembers what it was told, with the optional status line."""

    def __init__(self):
        self.events = []

    def phase(self, description, total=None):
        self.events.append(("phase", description, total))

    def advance(self, label=""):
        self.events.append(("advance", label))

    def note(self, message):
        self.events.append(("note", message))

    def status(self, text):
        self.events.append(("status", text))


def test_progress_reports_tasks_attempts_and_spend_and_the_report_has_a_per_task_table(two_tasks, tmp_path):
    """A run tells its progress each task done (with how it went) and the attempts and dollars so far;
    the HTML report shows every attempt of every task, its answer one click away."""
    from harness import RunSpec, load_tiers, run, write_report

    ts, tasks = two_tasks
    out = tmp_path / "runs" / "p"
    recorder = Recorder()
    run(RunSpec(taskset=ts, out=out, tiers=tuple(load_tiers(["oracle"])), strategies=("modeE",)), progress=recorder)
    assert recorder.events[0] == ("phase", "harness run: 2 tasks", 2)
    assert [e for e in recorder.events if e[0] == "advance"] == [("advance", "solved")] * 2
    assert ("status", "2 new attempts, $0.0000 spent") in recorder.events
    html, _ = write_report(out)
    page = html.read_text()
    assert page.count("<details>") == 2 and "1: resolved</summary>" in page
    assert "+    return a + b" in page  # the oracle's answer, inside the attempt's details
