"""``harness run --backend ray``: each (task, seed, tier) cell a Ray task, the driver the only writer.

On the session's 2-CPU local Ray cluster, against a scripted chat-completions server in this
process (Ray workers reach it on 127.0.0.1). Compared with the local backend on the same work:
the same attempt records, the same requests under ``--max-cost``; and a driver killed with
SIGKILL mid-run resumes with nothing lost or repeated. The kill waits for events (a request the
server holds, the records on disk), never for a time.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("ray")

from cli import cli  # noqa: E402
from harness.records.attempts import read_answers, read_attempts  # noqa: E402
from test_harness_run import SCRIPT, write_config  # noqa: E402
from test_harness_server import GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task  # noqa: E402

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ("latency", "ttft", "tokens_per_second", "eval_seconds", "overhead_seconds", "ended_at")


@pytest.fixture
def two_tasks(make_repo, python_project_env, tmp_path):
    """A task set of two tiny real tasks (test_harness_run's)."""
    tasks = [build_tiny_task(make_repo(f"r{i}"), name=f"tiny{i}") for i in range(2)]
    return build_taskset(tmp_path / "ts", tasks), tasks


def evaluate_dying_once(marker: str, task, **kwargs):
    """taskset.evaluate, except that the first call kills its worker (as the OOM killer would)."""
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    from taskset.evaluation.verdict import evaluate

    return evaluate(task, **kwargs)


def records(out: Path) -> list[dict]:
    """The run's attempt records without their timings, in key order."""
    rows = []
    for record in read_attempts(out / "attempts.jsonl"):
        row = {k: v for k, v in vars(record).items() if k not in TIMINGS}
        rows.append(row)
    return sorted(rows, key=lambda r: (r["task"], r["strategy"].value, r["seed"], r["tier"], r["attempt"]))


def run(ts: Path, out: Path, server: ScriptedServer, config: Path, *extra: str):
    return CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config),
                                    "--strategies", "modeE,always-frontier", "--out", str(out), *extra])


def test_a_ray_run_records_what_the_local_run_records(ray_cluster, two_tasks, tmp_path):
    """Three tiers on both backends: the same attempts, one record each, the same verdicts and tokens."""
    ts, tasks = two_tasks
    found = {}
    for backend, jobs in (("local", "2"), ("ray", "2")):
        out = tmp_path / backend
        with ScriptedServer(SCRIPT) as server:
            config = write_config(tmp_path / f"{backend}.toml", server.url)
            done = run(ts, out, server, config, "--backend", backend, "--jobs", jobs)
        assert done.exit_code == 0, done.output
        found[backend] = records(out)
    assert found["ray"] == found["local"]
    assert len(found["ray"]) == 8 and len({(r["task"], r["tier"], r["attempt"]) for r in found["ray"]}) == 8


def test_max_cost_stops_the_same_attempts_on_ray(ray_cluster, two_tasks, tmp_path):
    """--max-cost on Ray: the gate every cell asks stops paid attempts exactly where the local run stops them
    (test_harness_run's test_max_cost_stops_new_paid_attempts_and_says_so: the same three requests)."""
    ts, _ = two_tasks
    with ScriptedServer(SCRIPT) as server:
        config = write_config(tmp_path / "tiers.toml", server.url)
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config),
                                        "--strategies", "modeE", "--max-cost", "1.5", "--backend", "ray", "--jobs", "1",
                                        "--out", str(tmp_path / "ray")])
        asked = [b["model"] for b in server.requests]
    assert done.exit_code == 0, done.output
    assert "--max-cost 1.5 reached" in done.output
    assert asked == ["local-m", "o3", "local-m"]  # the first $2 o3 attempt exhausted the budget


def test_a_ray_run_resumes_after_the_driver_is_killed_with_nothing_lost_or_repeated(ray_cluster, two_tasks,
                                                                                    tmp_path):
    """SIGKILL the driver while a cell's model call is held; rerun: every attempt once, earlier lines untouched,
    no answer bought twice."""
    ts, _ = two_tasks
    out = tmp_path / "runs" / "killed"
    script = dict(SCRIPT, **{"gpt-5.5": [Reply(hang=True), Reply(content=GOOD_ANSWER, prompt_tokens=1000,
                                                                  completion_tokens=100)]})
    with ScriptedServer(script) as server:
        config = write_config(tmp_path / "tiers.toml", server.url)
        args = ["harness", "run", "--taskset", str(ts), "--config", str(config), "--strategies", "modeE",
                "--out", str(out), "--backend", "ray", "--jobs", "1"]
        env = {**os.environ, **ray_cluster.env}
        child = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        attempts = out / "attempts.jsonl"
        try:
            # the first task's local and o3 cells are done and written before its top cell asks (and is held)
            while not server.hung.wait(0.1):
                assert child.poll() is None, child.stderr.read().decode(errors="replace")
            while not (attempts.exists() and len(attempts.read_text().splitlines()) >= 3):
                assert child.poll() is None, child.stderr.read().decode(errors="replace")
                time.sleep(0.05)
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            child.stderr.close()
        before = attempts.read_text().splitlines()
        answered = len(read_answers(out / "answers.jsonl"))
        asked_before = len(server.requests)
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, done.output
        asked_after = len(server.requests) - asked_before
    assert len(before) == 3 and answered == 3 and asked_before == 4  # the held request was never answered
    after = attempts.read_text().splitlines()
    assert after[: len(before)] == before
    keys = [(r.task, r.seed, r.tier, r.attempt) for r in read_attempts(attempts)]
    assert len(keys) == len(set(keys)) == 8
    assert asked_after == 8 - answered  # the stored answers were judged, never bought again


def test_a_cell_whose_worker_dies_is_submitted_again_and_recorded_once(ray_cluster, two_tasks, tmp_path):
    """The worker dies after the answer arrived, before the verdict: the cell runs again from what was written,
    judges the stored answer (asks nothing again) and records each attempt once."""
    from harness import load_tiers
    from harness.run import RunSpec
    from harness.run import run as run_harness
    from taskset.jobs.pool import Backend

    ts, tasks = two_tasks
    out = tmp_path / "run"
    marker = tmp_path / "died"
    spec = RunSpec(taskset=ts, out=out, tiers=tuple(load_tiers(["oracle"])), strategies=("modeE",),
                   backend=Backend.RAY)
    result = run_harness(spec, evaluate=functools.partial(evaluate_dying_once, str(marker)))
    assert marker.exists(), "a worker was meant to die"
    found = read_attempts(out / "attempts.jsonl")
    assert sorted(r.task for r in found) == sorted(t.instance_id for t in tasks)
    assert all(r.resolved for r in found)
    answers = (out / "answers.jsonl").read_text().splitlines()
    assert len(answers) == len(tasks)  # the answer streamed before the death was judged, not asked again
    assert result.new_attempts == len(tasks) and not result.interrupted


def test_ctrl_c_on_a_ray_run_cuts_the_held_call_and_keeps_what_finished(ray_cluster, two_tasks, tmp_path):
    """SIGINT while a cell's model call is held on a worker: the stop reaches the cell through the gate, the
    call is cut, the finished attempt stays recorded, exit 130."""
    ts, _ = two_tasks
    out = tmp_path / "run"
    with ScriptedServer(dict(SCRIPT, o3=[Reply(hang=True)])) as server:
        config = write_config(tmp_path / "tiers.toml", server.url)
        args = ["harness", "run", "--taskset", str(ts), "--config", str(config), "--strategies", "modeE",
                "--out", str(out), "--backend", "ray", "--jobs", "1"]
        child = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT,
                                 env={**os.environ, **ray_cluster.env}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, start_new_session=True)
        try:
            while not server.hung.wait(0.1):
                assert child.poll() is None, child.stderr.read().decode(errors="replace")
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=300)  # returns once the cell saw the stop, far sooner
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    assert child.returncode == 130, err.decode(errors="replace")
    assert "interrupted: 1 attempts finished and saved" in err.decode(errors="replace")
    assert [r.tier for r in read_attempts(out / "attempts.jsonl")] == ["local"]
