"""Agent tiers end to end: a scripted model works in the sandboxed workspace through shell commands.

The server is a real chat-completions server on 127.0.0.1 (tests/test_harness_server.py) whose
replies are the agent's turns: a THOUGHT and one ```bash block each. Every command runs in the
same sandbox as the tests; the evaluator alone decides.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from harness.records.attempts import read_attempts
from test_harness_server import Reply, ScriptedServer, build_taskset, build_tiny_task

# found, never imported here: mini-swe-agent's first import is the harness's to make (banner off)
pytestmark = pytest.mark.skipif(importlib.util.find_spec("minisweagent") is None,
                                reason="needs the agent extra (mini-swe-agent)")

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def turn(command: str, thought: str = "Next step.", **kw) -> Reply:
    """One agent turn: a thought and one fenced command."""
    return Reply(content=f"THOUGHT: {thought}\n\n```bash\n{command}\n```\n", **kw)


FIX = [turn("cat calc.py", "Read the code."), turn("sed -i 's/a - b/a + b/' calc.py", "add() subtracts."),
       turn("python -m pytest -q tests/test_calc.py", "Check the fix."), turn(SUBMIT, "Tests pass.")]
"""An agent that reads, fixes, runs the failing tests and declares done."""


@pytest.fixture
def tiny_set(make_repo, python_project_env, tmp_path):
    """A task set of one tiny real task (add() subtracts)."""
    task = build_tiny_task(make_repo("r0"), name="tiny0")
    return build_taskset(tmp_path / "ts", [task]), task


def agent_config(path: Path, url: str, extra: str = "") -> Path:
    """A local agent tier at the scripted server (and edit tiers o3, gpt-5.5 at the same server)."""
    path.write_text(
        f'[tiers.local]\nbase_url = "{url}"\nmodel = "local-m"\nmax_retries = 0\nkind = "agent"\n{extra}\n'
        f'[tiers.o3]\nbase_url = "{url}"\nmax_retries = 0\n\n'
        f'[tiers."gpt-5.5"]\nbase_url = "{url}"\nmax_retries = 0\nprice_input = 5.0\nprice_output = 20.0\n')
    return path


def run_agent(ts: Path, tmp_path: Path, script: dict, tiers: str = "local", extra: str = "") -> tuple[Path, list]:
    """`harness run` with the scripted server; (run dir, the requests the server saw)."""
    out = tmp_path / "run"
    with ScriptedServer(script) as server:
        config = agent_config(tmp_path / "tiers.toml", server.url, extra)
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config),
                                        "--tiers", tiers, "--strategies", "modeE", "--out", str(out)])
        assert done.exit_code == 0, done.output
        return out, list(server.requests)


def trajectory(out: Path, record) -> dict:
    """The attempt's saved trajectory."""
    return json.loads((out / record.agent.trajectory).read_text())


class TurnServer(ScriptedServer):
    """Answers each request from the conversation itself: ``pick(body)`` chooses the reply, so every
    conversation (a rerun's, another task's) gets its own script whatever came before."""

    def __init__(self, models: list[str], pick):
        super().__init__({m: [Reply()] for m in models})
        self.pick = pick

    def next_reply(self, body: dict, headers: dict) -> Reply:
        super().next_reply(body, headers)  # recorded like every request
        return self.pick(body)


def by_turn(replies: list[Reply]):
    """A pick: the reply for the conversation's turn (its assistant messages so far)."""
    def pick(body: dict) -> Reply:
        said = sum(1 for m in body["messages"] if m["role"] == "assistant")
        return replies[min(said, len(replies) - 1)]
    return pick


def test_agent_that_fixes_the_bug_through_the_shell_is_resolved(tiny_set, tmp_path):
    """Four turns (read, sed, pytest, submit): resolved, and the figures say it ran the failing tests first."""
    ts, task = tiny_set
    out, requests = run_agent(ts, tmp_path, {"local-m": FIX})
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.failure_mode.value == "resolved", record.message
    stats = record.agent
    assert (stats.exit_status, stats.turns, stats.commands, stats.declared_done) == ("submitted", 4, 4, True)
    assert stats.stop_reasons == {"stop": 4} and stats.peak_prompt_tokens == 100
    assert stats.test_runs == 1 and stats.failing_tests_run
    assert "claim success only" not in requests[0]["messages"][1]["content"]  # verify_before_done is off
    traj = trajectory(out, record)
    assert traj["trajectory_format"] == "mini-swe-agent-1.1" and traj["info"]["mini_version"] == "2.4.6"
    assert traj["info"]["loopctl"]["commands"] == 4
    outputs = [m["content"] for m in traj["messages"] if m["role"] == "user"]
    assert any("1 passed" in o or "passed" in o for o in outputs)
    # the model saw the command's output from the sandbox, in the task's environment
    assert "return a - b" in requests[1]["messages"][-1]["content"]


def test_declared_success_without_a_fix_is_tests_failed_and_a_confident_false_success(tiny_set, tmp_path):
    """'Done! all tests pass' with nothing changed: the evaluator says tests-failed; declared, never checked."""
    ts, _ = tiny_set
    script = {"local-m": [turn("ls", "Look around."), turn(SUBMIT, "Done! 2/2 PASS")]}
    out, requests = run_agent(ts, tmp_path, script, extra="verify_before_done = true\n")
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.failure_mode.value == "tests-failed"
    assert record.agent.declared_done and not record.agent.failing_tests_run and record.agent.test_runs == 0
    # verify_before_done asked for the failing tests to be seen passing (the A/B option); it was ignored
    assert "claim success only if you saw those tests pass" in requests[0]["messages"][1]["content"]
    summary = json.loads((out / "summary.json").read_text())["agent_modes"]["local"]
    assert (summary["D"], summary["confident_false_success_rate"]) == (1, 1.0)


def test_test_edits_network_and_writes_outside_are_contained_and_judged_on_the_tree(tiny_set, tmp_path):
    """The agent rewrites the test, reaches for the network and writes outside the workspace: none of it
    counts or lands; the verdict is on its source tree alone (unchanged: tests-failed)."""
    ts, _ = tiny_set
    outside = tmp_path / "outside.txt"
    with ScriptedServer({"probe": [Reply(content="x")]}) as other:
        port = other.url.split(":")[2].split("/")[0]
        script = {"local-m": [
            turn("sed -i 's/== 3/== -1/' tests/test_calc.py && python -m pytest -q tests/test_calc.py"),
            turn(f"python -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)\""),
            turn(f"echo pwned > {outside}"),
            turn("echo ok > $HOME/note && cat $HOME/note"),
            turn(SUBMIT)]}
        out, requests = run_agent(ts, tmp_path, script)
        assert other.requests == []  # nothing reached a server on the host's loopback
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.failure_mode.value == "tests-failed"
    assert not outside.exists()
    observations = [r["messages"][-1]["content"] for r in requests[1:]]
    assert "2 passed" in observations[0]  # the edited test passed inside the workspace...
    assert "<returncode>0</returncode>" not in observations[1]  # ...the network was unreachable...
    assert "<returncode>0</returncode>" not in observations[2]  # ...the host's folders read-only
    assert "ok" in observations[3]  # while its private HOME is writable
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert answers[0]["patch"] == ""  # the test file's change is not part of the candidate


def test_history_past_the_threshold_is_compacted_into_a_task_anchored_summary(tiny_set, tmp_path):
    """A prompt near the declared window: the next request is the system message and a summary holding the
    task, the failing tests, the files changed so far and the last test output."""
    ts, task = tiny_set
    big = dict(prompt_tokens=3000)
    script = {"local-m": [turn("sed -i 's/a - b/a + b/' calc.py", **big),
                          turn("python -m pytest -q tests/test_calc.py", **big), turn(SUBMIT)]}
    extra = "context_window = 4000\nmax_output_tokens = 500\ncompact_at = 0.8\nserver_context_window = 8192\n"
    out, requests = run_agent(ts, tmp_path, script, extra=extra)
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.resolved
    assert record.agent.compactions_threshold == 2 and record.agent.compactions_overflow == 0
    last = requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user"]
    text = last[1]["content"]
    assert task.problem_statement in text and "tests/test_calc.py::test_add" in text
    assert "- calc.py" in text and "passed" in text  # the files changed and the last test output


def test_a_context_overflow_error_is_compacted_and_retried(tiny_set, tmp_path):
    """llama.cpp's 400 'exceeds the available context size' mid-run: compacted, asked again, not lost."""
    from test_harness_server import llamacpp_context_error

    ts, _ = tiny_set
    script = {"local-m": [FIX[1], llamacpp_context_error(9000, 8192), FIX[2], FIX[3]]}
    out, requests = run_agent(ts, tmp_path, script)
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.resolved
    assert record.agent.compactions_overflow == 1 and record.agent.compactions_threshold == 0
    assert "[Context compacted (1)" in requests[2]["messages"][1]["content"]


def test_a_runaway_gets_one_nudge_then_ends_the_attempt_as_runaway(tiny_set, tmp_path):
    """A reply cut at the length limit with no command is nudged once; the next in a row ends the attempt."""
    ts, _ = tiny_set
    loop = Reply(content="Wait, I've tried this... let me try a completely different approach. " * 20,
                 finish_reason="length", completion_tokens=4096)
    out, requests = run_agent(ts, tmp_path, {"local-m": [loop, loop]})
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.failure_mode.value == "runaway"
    assert (record.agent.runaways, record.agent.exit_status, record.agent.turns) == (2, "runaway", 2)
    assert record.agent.stop_reasons == {"length": 2} and record.agent.max_text_tokens == 4096
    nudge = requests[1]["messages"][-1]["content"]
    assert "cut off while repeating itself" in nudge
    assert all("completely different approach" not in m["content"] for m in requests[1]["messages"])


def test_ladder_with_an_agent_local_tier_and_edit_frontier_tiers_and_the_report(tiny_set, tmp_path):
    """`--tiers local:agent,o3,gpt-5.5`: the agent's false 'done' escalates to o3 (two edit attempts, both
    wrong), then gpt-5.5 resolves; the report has the A–F table and links the agent's trajectory."""
    from test_harness_server import BAD_ANSWER, GOOD_ANSWER

    ts, task = tiny_set
    script = {"local-m": [turn("ls"), turn(SUBMIT, "Done! 2/2 PASS")], "o3": [Reply(content=BAD_ANSWER)],
              "gpt-5.5": [Reply(content=GOOD_ANSWER, prompt_tokens=1000, completion_tokens=100)]}
    out = tmp_path / "run"
    with ScriptedServer(script) as server:
        config = tmp_path / "tiers.toml"
        config.write_text(f'[tiers.local]\nbase_url = "{server.url}"\nmodel = "local-m"\nmax_retries = 0\n\n'
                          f'[tiers.o3]\nbase_url = "{server.url}"\nmax_retries = 0\napi_key_env = ""\n\n'
                          f'[tiers."gpt-5.5"]\nbase_url = "{server.url}"\nmax_retries = 0\nprice_input = 5.0\n'
                          'price_output = 20.0\napi_key_env = ""\n')
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config), "--tiers",
                                        "local:agent,o3,gpt-5.5", "--strategies", "modeE", "--out", str(out)])
        assert done.exit_code == 0, done.output
    records = read_attempts(out / "attempts.jsonl")
    assert [(r.tier, r.failure_mode.value) for r in records] == [
        ("local:agent", "tests-failed"), ("o3", "tests-failed"), ("o3", "tests-failed"), ("gpt-5.5", "resolved")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategies"]["modeE"]["pass_rate"] == 1.0
    # the agent tier is free; o3's two attempts at its default prices; gpt-5.5 at the configured ones
    cost = 2 * (100 * 2.0 + 50 * 8.0) / 1e6 + (1000 * 5 + 100 * 20) / 1e6
    assert summary["strategies"]["modeE"]["cost_per_task"] == pytest.approx(cost)
    agent = summary["agent_modes"]["local:agent"]
    assert (agent["kind"], agent["D"], agent["declared"], agent["unchecked"]) == ("agent", 1, 1, 1)
    assert agent["confident_false_success_rate"] == 1.0
    assert summary["agent_modes"]["o3"]["F"] == 2 and summary["agent_modes"]["gpt-5.5"]["resolved"] == 1
    shown = CliRunner().invoke(cli, ["harness", "report", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "agent loops" in shown.output and "100.0%" in shown.output.split("agent loops")[1]
    link = records[0].agent.trajectory
    assert (out / link).is_file() and ":" not in link
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert f'href="{link}"' in html and "Failure modes of agent loops" in html
    assert "| local:agent | agent | local-m | 1 | 0 |" in md and "100.0%" in md


def test_kill_9_mid_trajectory_and_rerun_repeats_nothing_finished(make_repo, python_project_env, tmp_path):
    """SIGKILL while the second task's agent is mid-trajectory: the rerun keeps the first task's record and
    asks nothing for it; only the unfinished attempt runs again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from harness.records.attempts import read_answers

    tasks = [build_tiny_task(make_repo(f"r{i}"), name=f"tiny{i}") for i in range(2)]
    ts = build_taskset(tmp_path / "ts", tasks)
    slow = [Reply(content=r.content, delay=0.4) for r in FIX]
    out = tmp_path / "run"
    with TurnServer(["local-m"], by_turn(slow)) as server:
        config = agent_config(tmp_path / "tiers.toml", server.url)
        args = ["harness", "run", "--taskset", str(ts), "--config", str(config), "--tiers", "local",
                "--strategies", "modeE", "--out", str(out)]
        root = Path(__file__).resolve().parents[1]
        child = subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", *args], cwd=root,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        attempts = out / "attempts.jsonl"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and child.poll() is None:
            started = len(list((out / "trajectories").glob("*/*/*.traj.json"))) if out.exists() else 0
            if attempts.exists() and len(attempts.read_text().splitlines()) == 1 and started == 2:
                break
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        before = attempts.read_text().splitlines()
        assert len(before) == 1, "the run must be killed between the two tasks' verdicts"
        [first] = read_attempts(attempts)
        stored = {k[1] for k in read_answers(out / "answers.jsonl")}
        asked_before = len(server.requests)
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, done.output
        asked = server.requests[asked_before:]
    records = read_attempts(attempts)
    assert attempts.read_text().splitlines()[:1] == before
    assert sorted(r.task for r in records) == sorted(t.instance_id for t in tasks)
    assert all(r.resolved for r in records)
    second = next(t.instance_id for t in tasks if t.instance_id != first.task)
    # the unfinished trajectory starts again from its first turn (4 turns); a loop that had already ended
    # (its answer stored before the kill) is judged without a single new request
    assert len(asked) == (0 if second in stored else 4)
    assert all(len(body["messages"]) >= 2 for body in asked)


def test_a_scripted_oracle_agent_applies_the_gold_patch_through_the_shell_and_resolves_the_sample(
        mined_sample, tmp_path):
    """An agent that writes each task's gold patch to a file and `git apply`s it resolves every sample task."""
    from taskset.store import TaskSet

    ts_dir, mined = mined_sample
    tasks = list(TaskSet.open(ts_dir))
    patches = {" ".join(t.FAIL_TO_PASS): t.patch for t in tasks}

    def pick(body: dict) -> Reply:
        said = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if said:
            return turn(SUBMIT, "Applied the fix.")
        instance = body["messages"][1]["content"]
        patch = next(p for ids, p in patches.items() if all(i in instance for i in ids.split()))
        command = f"cat > $TMPDIR/fix.diff <<'LOOPCTL_EOF'\n{patch.rstrip()}\nLOOPCTL_EOF\ngit apply $TMPDIR/fix.diff"
        return turn(command, "Apply the fix.")

    out = tmp_path / "run"
    with TurnServer(["local-m"], pick) as server:
        config = agent_config(tmp_path / "tiers.toml", server.url)
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts_dir), "--config", str(config),
                                        "--tiers", "local", "--strategies", "modeE", "--uncalibrated",
                                        "--out", str(out), "--jobs", "2"])
        assert done.exit_code == 0, done.output
    records = read_attempts(out / "attempts.jsonl")
    assert len(records) == mined["tasks"] == 6
    assert all(r.resolved for r in records), [(r.task, r.failure_mode.value, r.message) for r in records]
    assert all(r.agent.commands == 2 and r.agent.declared_done for r in records)


def test_mini_swe_agent_is_imported_quietly_and_keeps_out_of_home(tmp_path):
    """Through harness.agent, mini-swe-agent prints no banner, creates nothing in HOME, loads no .env of
    the user's, and the version is the pinned one."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    (home / ".config" / "mini-swe-agent").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "mini-swe-agent" / ".env").write_text("LOOPCTL_LEAK=1\n")
    code = ("import os; from harness.agent import installed_version; v = installed_version(); "
            "import harness.agent.attempt; print(v, os.environ.get('LOOPCTL_LEAK'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2.4.6 None\n"


def test_an_attempt_that_runs_out_of_money_is_still_judged_on_its_tree(tiny_set, tmp_path):
    """$1 a turn at the tier's prices and agent_max_cost = 1.5: the loop ends after two turns (read, fix) as
    `cost`, and the evaluator, not the budget, decides: the fix was made, so it is resolved."""
    ts, _ = tiny_set
    priced = [Reply(content=r.content, prompt_tokens=1000, completion_tokens=0) for r in FIX]
    extra = "price_input = 1000.0\nprice_output = 0.0\nagent_max_cost = 1.5\n"
    out, requests = run_agent(ts, tmp_path, {"local-m": priced}, extra=extra)
    [record] = read_attempts(out / "attempts.jsonl")
    assert (record.agent.exit_status, record.agent.turns, len(requests)) == ("cost", 2, 2)
    assert record.resolved and not record.agent.declared_done


def test_a_server_failing_mid_trajectory_is_infrastructure_and_retried_by_the_rerun(tiny_set, tmp_path):
    """A 500 on the second turn: an `api-error` record (E: not the model's, not final) with the trajectory
    kept; the rerun runs the attempt again and it resolves."""
    ts, _ = tiny_set
    failures = [Reply(status=500)]
    turns = by_turn(FIX)

    def pick(body: dict) -> Reply:
        said = sum(1 for m in body["messages"] if m["role"] == "assistant")
        return failures.pop() if said == 1 and failures else turns(body)

    out = tmp_path / "run"
    with TurnServer(["local-m"], pick) as server:
        config = agent_config(tmp_path / "tiers.toml", server.url)
        args = ["harness", "run", "--taskset", str(ts), "--config", str(config), "--tiers", "local", "--out", str(out),
                "--strategies", "modeE"]
        assert CliRunner().invoke(cli, args).exit_code == 0
        [failed] = read_attempts(out / "attempts.jsonl")
        assert failed.failure_mode.value == "api-error" and failed.infrastructure
        saved = trajectory(out, failed)
        assert saved["info"]["exit_status"] == "ProviderError" and saved["info"]["loopctl"]["commands"] == 1
        summary = json.loads((out / "summary.json").read_text())
        assert summary["agent_modes"]["local"]["E"] == 1 and summary["strategies"]["modeE"]["infra_runs"] == 1
        assert CliRunner().invoke(cli, args).exit_code == 0
    assert [r.failure_mode.value for r in read_attempts(out / "attempts.jsonl")] == ["api-error", "resolved"]


def test_the_wall_clock_ends_the_attempt_as_wall_time(tiny_set, tmp_path):
    """agent_wall_time = 1 and a first reply that takes longer: the loop ends before its second turn (C)."""
    ts, _ = tiny_set
    slow = [Reply(content=FIX[0].content, delay=1.5), *FIX[1:]]
    out, requests = run_agent(ts, tmp_path, {"local-m": slow}, extra="agent_wall_time = 1.0\n")
    [record] = read_attempts(out / "attempts.jsonl")
    assert (record.agent.exit_status, record.agent.turns, len(requests)) == ("wall-time", 1, 1)
    assert record.failure_mode.value == "tests-failed"
    assert json.loads((out / "summary.json").read_text())["agent_modes"]["local"]["C"] == 1


@pytest.mark.parametrize("command,runs,failing", [
    ("python -m pytest -q tests/test_calc.py", True, True),
    ("pytest tests/test_calc.py::test_add -x", True, True),
    ("pytest -q", True, True),  # the whole suite includes the failing tests
    ("cd src && pytest -q && echo done", True, True),
    ("pytest tests/test_other.py", True, False),
    ("python tests/test_calc.py", True, True),
    ("cat tests/test_calc.py", False, False),  # reading the test is not running it
    ("grep -n test_add tests/test_calc.py", False, False),
    ("ls", False, False),
])
def test_which_commands_count_as_test_runs_and_runs_of_the_failing_tests(command, runs, failing):
    """Confident false success is a 'done' without running the check: the counting must not be fooled."""
    from harness.agent.shell import names_failing_tests, runs_tests

    f2p = ("tests/test_calc.py::test_add",)
    assert runs_tests(command, f2p) is runs
    assert (runs and names_failing_tests(command, f2p)) is failing


def test_a_reply_that_repeats_itself_is_nudged_and_the_agent_recovers(tiny_set, tmp_path):
    """A reply repeating one sentence (no command) is a runaway: nudged once, counted, never resent; the
    agent then fixes the bug and the attempt is resolved."""
    ts, _ = tiny_set
    loop = Reply(content="I will try the same thing again. " * 100)
    out, requests = run_agent(ts, tmp_path, {"local-m": [loop, *FIX]})
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.resolved and record.agent.runaways == 1 and record.agent.turns == 5
    assert all("try the same thing again" not in m["content"] for body in requests[1:] for m in body["messages"])


def test_agent_frontier_tier_gets_the_evaluators_feedback_on_its_second_attempt(tiny_set, tmp_path):
    """`--tiers local:agent,o3:agent`: o3 (2 attempts, feedback) as an agent; its first 'done' is rejected and
    the second attempt starts from a clean workspace with the rejection and the failing output in its task."""
    ts, _ = tiny_set
    false_done = [turn("ls"), turn(SUBMIT, "Done!")]

    def pick(body: dict) -> Reply:
        said = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if body["model"] == "o3" and "was rejected" in body["messages"][1]["content"]:
            return FIX[min(said, len(FIX) - 1)]  # the second attempt fixes it
        return false_done[min(said, 1)]

    out = tmp_path / "run"
    with TurnServer(["local-m", "o3"], pick) as server:
        config = agent_config(tmp_path / "tiers.toml", server.url)
        config.write_text(config.read_text().replace("[tiers.o3]\n", '[tiers.o3]\napi_key_env = ""\n'))
        done = CliRunner().invoke(cli, ["harness", "run", "--taskset", str(ts), "--config", str(config), "--tiers",
                                        "local:agent,o3:agent", "--strategies", "modeE", "--out", str(out)])
        assert done.exit_code == 0, done.output
        second = [b for b in server.requests if b["model"] == "o3" and "was rejected" in b["messages"][1]["content"]]
    records = read_attempts(out / "attempts.jsonl")
    assert [(r.tier, r.attempt, r.failure_mode.value) for r in records] == [
        ("local:agent", 1, "tests-failed"), ("o3:agent", 1, "tests-failed"), ("o3:agent", 2, "resolved")]
    task_text = second[0]["messages"][1]["content"]
    assert "o3:agent attempt 1" in task_text and "test_add" in task_text
    assert "return a - b" in second[1]["messages"][-1]["content"]  # a clean workspace: the bug is back


def test_run_tier_runs_an_agent_tier_for_calibration(make_repo, python_project_env, tmp_path):
    """`harness.run_tier` (calibration's difficulty labels) runs an agent tier like an edit tier."""
    from harness import load_config, run_tier

    task = build_tiny_task(make_repo("r0"), name="tiny0")
    with TurnServer(["local-m"], by_turn(FIX)) as server:
        config = agent_config(tmp_path / "tiers.toml", server.url)
        [tier] = load_config(config).select(["local"])
        outcome = run_tier(task, tier, 1, workdir=str(tmp_path / "run"))
    assert outcome.resolved and outcome.records[0].agent.commands == 4
    assert (tmp_path / "run" / outcome.records[0].agent.trajectory).is_file()


def call(command: str, ident: str) -> Reply:
    """One agent turn in tool-call mode: a call of the bash function."""
    return Reply(content="", tool_calls=((ident, "bash", json.dumps({"command": command})),),
                 finish_reason="tool_calls")


def test_tool_call_actions_fix_the_bug_and_outputs_go_back_as_tool_messages(tiny_set, tmp_path):
    """agent_actions = "tools": the bash function is offered, each call runs in the sandbox, its output
    answers the call by id; a reply with no call gets mini's format error; resolved."""
    ts, _ = tiny_set
    script = {"local-m": [call("sed -i 's/a - b/a + b/' calc.py", "c1"), Reply(content="I think it is fixed."),
                          call("python -m pytest -q tests/test_calc.py", "c2"), call(SUBMIT, "c3")]}
    out, requests = run_agent(ts, tmp_path, script, extra='agent_actions = "tools"\n')
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.resolved and record.agent.commands == 3 and record.agent.failing_tests_run
    assert [t["function"]["name"] for t in requests[0]["tools"]] == ["bash"]
    second = requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["id"] == "c1"
    assert (second[-1]["role"], second[-1]["tool_call_id"]) == ("tool", "c1")
    assert "Call the bash tool" in requests[2]["messages"][-1]["content"]  # the reply without a call
    assert "passed" in requests[3]["messages"][-1]["content"]
