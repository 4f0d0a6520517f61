"""SWE-bench JSONL export and import."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import cli
from taskset import TaskRecordError, TaskSet, export_jsonl, import_jsonl
from factories import make_task


def test_export_uses_swebench_shapes(tmp_path):
    """SWE-bench keeps the test lists as JSON strings; an export follows it so their tooling reads it."""
    out = tmp_path / "out.jsonl"
    assert export_jsonl([make_task()], out) == 1
    record = json.loads(out.read_text())
    assert json.loads(record["FAIL_TO_PASS"]) == ["tests/test_x.py::test_a[1-2]"]
    for field in ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "version"):
        assert field in record


def test_round_trip_through_jsonl(tmp_path):
    """Our task survives export then import unchanged."""
    out = tmp_path / "out.jsonl"
    export_jsonl([make_task()], out)
    assert list(import_jsonl(out)) == [make_task()]


def test_import_a_plain_swebench_instance(tmp_path):
    """A SWE-bench instance without our fields imports with defaults."""
    line = {
        "instance_id": "psf__requests-1234",
        "repo": "psf/requests",
        "base_commit": "b" * 40,
        "created_at": "2020-01-01T00:00:00Z",
        "patch": "p",
        "test_patch": "t",
        "problem_statement": "s",
        "FAIL_TO_PASS": '["tests/test_a.py::test_x"]',
        "PASS_TO_PASS": "[]",
        "version": "2.0",
        "environment_setup_commit": "b" * 40,
        "hints_text": "",
    }
    path = tmp_path / "theirs.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (task,) = import_jsonl(path)
    assert task.repo_url == "https://github.com/psf/requests"
    assert task.FAIL_TO_PASS == ("tests/test_a.py::test_x",)


def test_bad_line_is_named(tmp_path):
    """A broken line names the file and line number."""
    path = tmp_path / "bad.jsonl"
    path.write_text("{}\nnot json\n")
    with pytest.raises(TaskRecordError, match="bad.jsonl:1"):
        list(import_jsonl(path))


def test_cli_export_and_import(tmp_path):
    """`loopctl export` writes JSONL; `--import` reads it back into a task set."""
    ts = TaskSet.open(tmp_path / "ts", create=True)
    ts.add(make_task())
    out = tmp_path / "x.jsonl"
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "ts"), "--format", "swebench", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "back"), "--out", str(out), "--import"])
    assert result.exit_code == 0, result.output
    assert TaskSet.open(tmp_path / "back").ids == [make_task().instance_id]


def test_cli_export_of_missing_dir_is_one_line(tmp_path):
    """Bad input is one line on stderr and exit 2, not a traceback."""
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "no such task set" in result.output
    assert "Traceback" not in result.output
