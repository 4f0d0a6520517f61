"""Errors as the CLI reports them: a bad task file stops only the commands that need it, a full disk is the
machine's failure (exit 3) and names the file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from taskset.files.atomic import append_line
from test_harness_server import GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def with_a_bad_file(make_repo, python_project_env, tmp_path):
    """A task set holding the tiny task and one task file that is not JSON."""
    tiny = build_tiny_task(make_repo("tiny"))
    root = build_taskset(tmp_path / "ts", [tiny])
    (root / "tasks" / "broken__task-000000000000.json").write_text("{ not json", encoding="utf-8")
    return root, tiny


def test_an_unreadable_task_file_is_named_and_skipped_by_commands_that_do_not_need_it(with_a_bad_file):
    """Regression: one unreadable task JSON stopped `evaluate OTHER` and `calibrate --task-ids OTHER`.
    They now name it, skip it and do their work; asking for that task, or for the whole set, is exit 2."""
    root, tiny = with_a_bad_file
    result = invoke("evaluate", root, tiny.instance_id, "--gold")
    assert result.exit_code == 0, result.output
    assert "skipped broken__task-000000000000" in result.output and "resolved" in result.output
    result = invoke("calibrate", root, "--task-ids", tiny.instance_id, "--runs", "1")
    assert result.exit_code == 0, result.output
    assert "skipped broken__task-000000000000" in result.output
    for args in (("evaluate", root, "broken__task-000000000000", "--gold"), ("calibrate", root, "--runs", "1")):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert "broken__task-000000000000.json" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux) to fill a disk safely")
def test_a_full_disk_names_the_file_and_is_the_machines_failure(make_repo, python_project_env, tmp_path):
    """Regression: a full disk was exit 2 with "No space left on device" and no path; the README promises
    exit 3 (the machine, not the input). The run's tasks.jsonl sits on a full device (/dev/full)."""
    with pytest.raises(OSError) as caught:
        append_line("/dev/full", "{}")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "/dev/full"
    tiny = build_tiny_task(make_repo("tiny"))
    out = tmp_path / "run"
    out.mkdir()
    (out / "tasks.jsonl").symlink_to(Path("/dev/full"))
    with ScriptedServer({"local-m": [Reply(content=GOOD_ANSWER)]}) as server:
        conf = tmp_path / "loopctl.toml"
        conf.write_text(f'[tiers.local]\nbase_url = "{server.url}"\nmodel = "local-m"\nmax_retries = 0\n')
        result = invoke("harness", "run", "--taskset", build_taskset(tmp_path / "ts", [tiny]), "--tiers", "local",
                        "--strategies", "always-local", "--config", conf, "--out", out)
    assert result.exit_code == 3, result.output
    assert f"{out / 'tasks.jsonl'}: No space left on device" in result.output
