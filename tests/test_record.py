"""The task record: JSON round trip and field-by-field validation."""

from __future__ import annotations

import json

import pytest

from factories import make_task
from taskset import (
    CalibrationStatus,
    Difficulty,
    FailKind,
    Task,
    TaskRecordError,
    load_task,
)


def test_json_round_trip_keeps_every_field():
    """A task written to JSON and read back is equal to the original, enums and tuples included."""
    task = make_task()
    again = Task.from_json(task.to_json())
    assert again == task
    assert again.calibration.status is CalibrationStatus.OK
    assert again.calibration.difficulty is Difficulty.UNKNOWN
    assert again.meta.fail_modes["tests/test_x.py::test_a[1-2]"].kind is FailKind.EXCEPTION


def test_load_task_from_file(tmp_path):
    """load_task reads a file written by to_json."""
    path = tmp_path / "t.json"
    path.write_text(make_task().to_json())
    assert load_task(path).instance_id == "octo__lib-0123456789ab"


@pytest.mark.parametrize("field", ["instance_id", "base_commit", "FAIL_TO_PASS", "environment", "schema_version"])
def test_missing_field_names_file_and_field(tmp_path, field):
    """A missing field is a TaskRecordError naming the file and the field, never a KeyError."""
    data = make_task().to_dict()
    del data[field]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TaskRecordError) as caught:
        load_task(path)
    assert caught.value.field == field
    assert str(path) in str(caught.value) and field in str(caught.value)
    assert not isinstance(caught.value, KeyError)


def test_wrong_type_is_named(tmp_path):
    """A field of the wrong type names the nested field and what was expected."""
    data = make_task().to_dict()
    data["calibration"]["runs"] = "three"
    with pytest.raises(TaskRecordError, match=r"calibration.runs.*expected int"):
        Task.from_dict(data, "x.json")


def test_list_of_non_strings_is_refused():
    """Test ids must be strings."""
    data = make_task().to_dict()
    data["FAIL_TO_PASS"] = ["ok", 3]
    with pytest.raises(TaskRecordError, match="FAIL_TO_PASS"):
        Task.from_dict(data)


def test_unknown_schema_version_is_refused():
    """A record from a newer loopctl is refused, not misread."""
    data = make_task().to_dict()
    data["schema_version"] = 99
    with pytest.raises(TaskRecordError, match="unknown version 99"):
        Task.from_dict(data, "future.json")


def test_unknown_enum_value_lists_the_allowed_ones():
    """A calibration status outside the vocabulary is refused with the allowed values."""
    data = make_task().to_dict()
    data["calibration"]["status"] = "great"
    with pytest.raises(TaskRecordError, match="bad-test"):
        Task.from_dict(data)


def test_malformed_json_names_the_file(tmp_path):
    """A truncated file (say, from a crash elsewhere) gives one clear error."""
    path = tmp_path / "half.json"
    path.write_text('{"instance_id": "x", ')
    with pytest.raises(TaskRecordError, match="half.json.*not valid JSON"):
        load_task(path)


def test_top_level_must_be_an_object():
    """A JSON list is not a task."""
    with pytest.raises(TaskRecordError, match="expected a JSON object"):
        Task.from_json("[]")


def test_optional_fields_absent_from_an_older_record_take_the_dataclass_defaults():
    """A record written before a field existed still loads: the field gets the dataclass's own default."""
    data = make_task().to_dict()
    for name in ("pythonpath", "remedy", "pytest"):
        del data["environment"][name]
    del data["meta"]["remedies"], data["failure_output"]
    task = Task.from_dict(data)
    assert (task.environment.pythonpath, task.environment.remedy, task.meta.remedies) == ((".",), "normal", ())


@pytest.mark.parametrize("path", [("calibration", "tier_passes", "local"),
                                  ("meta", "fail_modes", "tests/test_x.py::test_a[1-2]", "kind"),
                                  ("calibration", "flake_rates", "t")])
def test_nested_values_are_checked_by_their_declared_type(path):
    """Values inside dicts are checked against the field's type too, and the error names the full path."""
    data = make_task().to_dict()
    data["calibration"]["flake_rates"] = {"t": 0.5}
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "wrong"
    with pytest.raises(TaskRecordError) as caught:
        Task.from_dict(data)
    assert caught.value.field == ".".join(path)
