"""An agent's shell command, confined like a test run (taskset.evaluation.shell)."""

from __future__ import annotations

from pathlib import Path

from taskset.evaluation.shell import run_shell


def test_a_command_past_its_deadline_is_killed_with_its_children(python_project_env, tmp_path):
    """A per-command timeout kills the whole group: a background child never gets to write its file."""
    root, home, tmp = (tmp_path / d for d in ("ws", "agent-home", "agent-tmp"))
    for d in (root, home, tmp):
        d.mkdir()
    ran = run_shell(python_project_env, root, "(sleep 3; echo late > late.txt) & sleep 30", home=home, tmp=tmp,
                    timeout=1.0)
    assert ran.timed_out and ran.exit_code is None
    assert not (root / "late.txt").exists()


def test_output_is_capped_head_and_tail_and_python_is_the_tasks(python_project_env, tmp_path):
    """Output past the cap keeps its head and tail; `python` on PATH is the task environment's."""
    root, home, tmp = (tmp_path / d for d in ("ws", "agent-home", "agent-tmp"))
    for d in (root, home, tmp):
        d.mkdir()
    command = "python -c 'import sys; print(sys.prefix)'; seq 1 20000; echo TAIL"
    ran = run_shell(python_project_env, root, command, home=home, tmp=tmp, output_cap=2000)
    assert ran.exit_code == 0 and ran.truncated and len(ran.output) < 2100
    prefix = Path(ran.output.splitlines()[0])
    assert prefix.resolve() == Path(python_project_env.python).parent.parent.resolve()
    assert ran.output.rstrip().endswith("TAIL") and "characters cut" in ran.output
