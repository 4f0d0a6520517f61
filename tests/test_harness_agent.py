"""Agent tiers end to end: a scripted model works in the sandboxed workspace through shell commands.

The server is a real chat-completions server on 127.0.0.1 (tests/test_harness_server.py) whose
replies are the agent's turns: a THOUGHT and one ```bash block each. Every command runs in the
same sandbox as the tests; the evaluator alone decides.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("minisweagent")

from cli import cli  # noqa: E402
from harness.records.attempts import read_attempts  # noqa: E402
from test_harness_server import Reply, ScriptedServer, build_taskset, build_tiny_task  # noqa: E402

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


def test_agent_that_fixes_the_bug_through_the_shell_is_resolved(tiny_set, tmp_path):
    """Four turns (read, sed, pytest, submit): resolved, and the figures say it ran the failing tests first."""
    ts, task = tiny_set
    out, requests = run_agent(ts, tmp_path, {"local-m": FIX})
    [record] = read_attempts(out / "attempts.jsonl")
    assert record.failure_mode.value == "resolved", record.message
    stats = record.agent
    assert (stats.exit_status, stats.turns, stats.commands, stats.declared_done) == ("submitted", 4, 4, True)
    assert stats.test_runs == 1 and stats.failing_tests_run
    traj = trajectory(out, record)
    assert traj["trajectory_format"] == "mini-swe-agent-1.1" and traj["info"]["mini_version"] == "2.4.6"
    assert traj["info"]["loopctl"]["commands"] == 4
    outputs = [m["content"] for m in traj["messages"] if m["role"] == "user"]
    assert any("1 passed" in o or "passed" in o for o in outputs)
    # the model saw the command's output from the sandbox, in the task's environment
    assert "return a - b" in requests[1]["messages"][-1]["content"]
