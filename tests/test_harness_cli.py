"""`harness run` and `harness report` as a user meets them: bad input, a dead server, two runs in one
directory, Ctrl-C and SIGTERM, --json, an 80-column terminal, SWE-bench files in and out."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from harness.records.attempts import read_attempts
from test_harness_server import BAD_ANSWER, GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_tasks(make_repo, python_project_env, tmp_path):
    """A task set of two tiny real tasks."""
    tasks = [build_tiny_task(make_repo(f"r{i}"), name=f"tiny{i}") for i in range(2)]
    return build_taskset(tmp_path / "ts", tasks), tasks


def config(path: Path, url: str, key_env: str = "") -> Path:
    """local (free) -> o3 (priced) -> gpt-5.5 (priced), all at the scripted server, no retries."""
    key = f'api_key_env = "{key_env}"' if key_env else 'api_key_env = ""'
    path.write_text(
        f'[tiers.local]\nbase_url = "{url}"\nmodel = "local-m"\nmax_retries = 0\n\n'
        f'[tiers.o3]\nbase_url = "{url}"\nmax_retries = 0\n{key}\n\n'
        f'[tiers."gpt-5.5"]\nbase_url = "{url}"\nmax_retries = 0\napi_key_env = ""\nprice_input = 5.0\n'
        f'price_output = 20.0\n')
    return path


SCRIPT = {"local-m": [Reply(content=BAD_ANSWER)], "o3": [Reply(content=BAD_ANSWER)],
          "gpt-5.5": [Reply(content=GOOD_ANSWER)]}


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


BAD_INPUTS = {
    "unknown strategy": (["--strategies", "modeE,nosuch"], "unknown strategy 'nosuch'"),
    "unknown tier": (["--tiers", "local,nosuchtier"], "unknown tier"),
    "jobs 0": (["--jobs", "0"], "--jobs must be at least 1"),
    "jobs -1": (["--jobs", "-1"], "--jobs must be at least 1"),
    "negative max cost": (["--max-cost", "-5"], "--max-cost must be a non-negative"),
    "nan max cost": (["--max-cost", "nan"], "--max-cost must be a non-negative"),
    "unknown task id": (["--task-ids", "nosuch__task-000000000000"], "has no task 'nosuch__task-000000000000'"),
    "bad seeds": (["--seeds", "1,x"], "--seeds"),
    "bad thresholds": (["--cascade-thresholds", "5,ten"], "--cascade-thresholds"),
    "out is a file": (["--out", "{file}"], "exists and is not a directory"),
    "out under a file": (["--out", "{file}/run"], "is a file, not a directory"),
    "cache is a file": ([], "LOOPCTL_CACHE"),
    "missing task set": (["--taskset", "{tmp}/nope"], "no such directory or file"),
    "missing api key": (["--tiers", "o3"], "LOOPCTL_MISSING_API_KEY is not set"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_before_any_request_or_file(two_tasks, tmp_path, case):
    """Every bad input to `harness run` is one line and exit 2, before a request is sent or a file written."""
    ts, _ = two_tasks
    extra, expected = BAD_INPUTS[case]
    plain = tmp_path / "plain.txt"
    plain.write_text("not a directory\n")
    extra = [a.replace("{file}", str(plain)).replace("{tmp}", str(tmp_path)) for a in extra]
    env = {"LOOPCTL_CACHE": str(plain)} if case == "cache is a file" else None
    out = tmp_path / "runs" / "r"
    with ScriptedServer(SCRIPT) as server:
        conf = config(tmp_path / "t.toml", server.url,
                      key_env="LOOPCTL_MISSING_API_KEY" if case == "missing api key" else "")
        args = ["harness", "run", "--taskset", ts, "--config", conf, "--out", out, *extra]
        done = invoke(*args, env=env)
        assert server.requests == [] and server.gets == []
    assert done.exit_code == 2, done.output
    lines = [line for line in done.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.output
    assert not (tmp_path / "runs").exists() and plain.read_text() == "not a directory\n"


def test_an_out_on_a_read_only_file_system_is_refused_before_anything_runs(two_tasks, tmp_path):
    """--out on a read-only mount is one line and exit 2 (root ignores permission bits, so a real mount)."""
    ts, _ = two_tasks
    ro = tmp_path / "ro"
    ro.mkdir()
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    command = ["bwrap", "--bind", "/", "/", "--ro-bind", str(ro), str(ro), "--dev", "/dev", "--proc", "/proc",
               sys.executable, "-c", "import cli; cli.main()", "harness", "run", "--taskset", str(ts),
               "--tiers", "oracle", "--out", str(ro / "run")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if "bwrap:" in done.stderr:
        pytest.skip(f"bubblewrap cannot mount here: {done.stderr.strip()}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --out") and "not writable" in done.stderr
    assert list(ro.iterdir()) == []


def test_a_dead_server_stops_the_run_before_the_first_task(two_tasks, tmp_path):
    """No server: one line naming the tier and its URL, exit 2, fast, and no run directory left behind."""
    ts, _ = two_tasks
    with ScriptedServer(SCRIPT) as server:
        url = server.url
    conf = config(tmp_path / "t.toml", url)
    started = time.monotonic()
    done = invoke("harness", "run", "--taskset", ts, "--config", conf, "--out", tmp_path / "runs" / "r")
    assert done.exit_code == 2 and time.monotonic() - started < 60
    assert "tier 'local'" in done.stderr and "does not answer" in done.stderr and "is the server running" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_server_without_the_model_stops_the_run(two_tasks, tmp_path):
    """A server that answers but does not list the tier's model is refused before the first task."""
    ts, _ = two_tasks
    with ScriptedServer(SCRIPT, models=["local-m", "o3"]) as server:
        conf = config(tmp_path / "t.toml", server.url)
        done = invoke("harness", "run", "--taskset", ts, "--config", conf, "--out", tmp_path / "r")
        assert server.requests == []
    assert done.exit_code == 2 and "does not list model 'gpt-5.5'" in done.stderr


def test_report_on_a_run_naming_an_unknown_strategy_does_not_crash(two_tasks, tmp_path):
    """A run directory whose run.json names a strategy this version does not know reports the rest, with a note."""
    ts, _ = two_tasks
    out = tmp_path / "runs" / "o"
    assert invoke("harness", "run", "--taskset", ts, "--tiers", "oracle", "--out", out,
                  "--strategies", "modeE").exit_code == 0
    settings = json.loads((out / "run.json").read_text())
    settings["strategies"].append("nosuch")
    (out / "run.json").write_text(json.dumps(settings))
    shown = invoke("harness", "report", out)
    assert shown.exit_code == 0, shown.output
    assert "unknown strategy 'nosuch'" in (out / "report.md").read_text()
    missing = invoke("harness", "report", tmp_path / "nope")
    assert missing.exit_code == 2 and "not a run directory" in missing.stderr


def _spawn(args):
    return subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", *[str(a) for a in args]], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_at_once_and_keeps_what_finished(two_tasks, tmp_path, sig):
    """Ctrl-C or SIGTERM while a model call is in flight: the call is cut, no attempt starts after it, the
    finished attempt stays recorded, exit 130; the rerun asks only for what was not finished."""
    ts, _ = two_tasks
    script = {"local-m": [Reply(content=BAD_ANSWER), Reply(hang=True), Reply(content=BAD_ANSWER)]}
    out = tmp_path / "runs" / "sig"
    with ScriptedServer(script) as server:
        conf = config(tmp_path / "t.toml", server.url)
        args = ["harness", "run", "--taskset", ts, "--config", conf, "--tiers", "local", "--strategies",
                "always-local", "--out", out]
        child = _spawn(args)
        assert server.hung.wait(120), child.communicate(timeout=5)
        child.send_signal(sig)
        signalled = time.monotonic()
        _, err = child.communicate(timeout=60)
        took = time.monotonic() - signalled
        assert child.returncode == 130, err
        assert took < 30 and "interrupted" in err
        assert len(server.requests) == 2  # nothing started after the signal
        assert [r.failure_mode.value for r in read_attempts(out / "attempts.jsonl")] == ["tests-failed"]
        again = invoke(*args)
        assert again.exit_code == 0, again.output
        assert len(server.requests) == 3
    assert len(read_attempts(out / "attempts.jsonl")) == 2


def test_a_second_run_into_the_same_directory_is_refused(two_tasks, tmp_path):
    """Two `harness run` into one --out: the second refuses with one line, exit 2, sending and writing nothing."""
    ts, _ = two_tasks
    out = tmp_path / "runs" / "busy"
    with ScriptedServer({"local-m": [Reply(hang=True)]}) as server:
        conf = config(tmp_path / "t.toml", server.url)
        args = ["harness", "run", "--taskset", ts, "--config", conf, "--tiers", "local", "--strategies",
                "always-local", "--out", out]
        first = _spawn(args)
        try:
            assert server.hung.wait(120)
            before = sorted((p.name, p.stat().st_size) for p in out.iterdir())
            second = invoke(*args)
            assert second.exit_code == 2
            assert "in use by harness run" in second.stderr and len(second.stderr.strip().splitlines()) == 1
            assert len(server.requests) == 1 and len(server.gets) == 1  # not even the second's server check
            assert sorted((p.name, p.stat().st_size) for p in out.iterdir()) == before
        finally:
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=60)


def test_json_output_and_an_80_column_terminal(two_tasks, tmp_path):
    """--json prints one JSON object; the tables fit 80 columns with no figure cut short."""
    ts, tasks = two_tasks
    out = tmp_path / "runs" / "j"
    with ScriptedServer(SCRIPT) as server:
        conf = config(tmp_path / "t.toml", server.url)
        args = ["harness", "run", "--taskset", ts, "--config", conf, "--out", out, "--max-cost", "100"]
        done = invoke(*args, "--json")
        assert done.exit_code == 0, done.output
        data = json.loads(done.stdout)
        assert data["result"]["new_attempts"] > 0 and data["summary"]["tasks"] == len(tasks)
        shown = invoke("harness", "report", out, env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.stdout.splitlines() if not line.startswith("wrote ")]  # paths are paths
    assert max(len(line) for line in lines) <= 80 and "…" not in shown.stdout
    for name in ("always-frontier", "oracle-routing", "cascade", "[0.0,0.0]", "$0.0027"):
        assert name in shown.stdout
    assert json.loads(invoke("harness", "report", out, "--json").stdout)["strategies"]["modeE"]["pass_rate"] == 1.0


def test_a_swebench_file_is_read_as_it_is_and_predictions_come_out(two_tasks, tmp_path):
    """--taskset FILE.jsonl (SWE-bench rows) runs as is; every tier and strategy gets a predictions file whose
    patches apply at the task's base commit."""
    import taskset

    _, tasks = two_tasks
    rows = tmp_path / "swe.jsonl"
    taskset.export_jsonl(tasks, rows)
    out = tmp_path / "runs" / "swe"
    done = invoke("harness", "run", "--taskset", rows, "--tiers", "oracle", "--out", out, "--strategies", "modeE")
    assert done.exit_code == 0, done.output
    assert invoke("harness", "report", out).exit_code == 0
    names = sorted(p.name for p in (out / "predictions").iterdir())
    assert names == ["modeE.jsonl", "oracle-routing.jsonl", "oracle.jsonl"]
    lines = [json.loads(line) for line in (out / "predictions" / "modeE.jsonl").read_text().splitlines()]
    assert sorted(row["instance_id"] for row in lines) == sorted(t.instance_id for t in tasks)
    assert {row["model_name_or_path"] for row in lines} == {"loopctl-modeE"}
    task = tasks[0]
    row = next(r for r in lines if r["instance_id"] == task.instance_id)
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", task.repo_url, str(checkout)], check=True)
    subprocess.run(["git", "checkout", "-q", task.base_commit], cwd=checkout, check=True)
    applied = subprocess.run(["git", "apply", "--check", "-"], cwd=checkout, input=row["model_patch"], text=True,
                             capture_output=True)
    assert applied.returncode == 0, applied.stderr
