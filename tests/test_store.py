"""TaskSet: a directory of task files plus an index, written atomically."""

from __future__ import annotations

import json
import os

import pytest

import taskset
from factories import make_task
from taskset import CalibrationStatus, TaskNotFound, TaskSet, TasksetError
from taskset.files.atomic import write_atomic


def calibrated(task, status):
    import dataclasses

    return dataclasses.replace(task, calibration=dataclasses.replace(task.calibration, status=status))


def test_add_then_load(tmp_path):
    """Tasks added to a set come back from taskset.load, sorted by id, with an index."""
    ts = TaskSet.open(tmp_path / "ts", create=True)
    ts.add(make_task(instance_id="b__b-000000000002", repo="b/b"))
    ts.add(make_task(instance_id="a__a-000000000001", repo="a/a"))
    loaded = taskset.load(tmp_path / "ts")
    assert loaded.ids == ["a__a-000000000001", "b__b-000000000002"]
    assert [t.instance_id for t in loaded] == loaded.ids
    assert loaded["a__a-000000000001"].repo == "a/a"
    index = json.loads((tmp_path / "ts" / "index.json").read_text())
    assert set(index["tasks"]) == set(loaded.ids)


def test_filters(tmp_path):
    """Filter by repo and by calibration status; calibrated() keeps only ok tasks."""
    ts = TaskSet.open(tmp_path, create=True)
    ts.add(calibrated(make_task(instance_id="a__a-1", repo="a/a"), CalibrationStatus.OK))
    ts.add(calibrated(make_task(instance_id="a__a-2", repo="a/a"), CalibrationStatus.FLAKY))
    ts.add(calibrated(make_task(instance_id="b__b-3", repo="b/b"), CalibrationStatus.OK))
    assert ts.filter(repo="a/a").ids == ["a__a-1", "a__a-2"]
    assert ts.filter(status="flaky").ids == ["a__a-2"]
    assert ts.calibrated().ids == ["a__a-1", "b__b-3"]
    assert ts.filter(ids=["b__b-3"]).ids == ["b__b-3"]


def test_unknown_id_is_a_clear_error(tmp_path):
    """ts[id] for an unknown id raises TaskNotFound naming the id."""
    ts = TaskSet.open(tmp_path, create=True)
    with pytest.raises(TaskNotFound, match="nope"):
        ts["nope"]
    with pytest.raises(TaskNotFound):
        ts.filter(ids=["nope"])


def test_load_refuses_a_directory_that_is_not_a_task_set(tmp_path):
    """A missing directory or one without tasks/ is a TasksetError, not an empty set."""
    with pytest.raises(TasksetError, match="no such task set"):
        taskset.load(tmp_path / "absent")
    with pytest.raises(TasksetError, match="not a task set"):
        taskset.load(tmp_path)


def test_atomic_write_keeps_old_content_when_interrupted(tmp_path, monkeypatch):
    """A crash between writing and renaming leaves the previous file whole and no temp files behind."""
    target = tmp_path / "tasks" / "t.json"
    write_atomic(target, "old")

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["t.json"]
