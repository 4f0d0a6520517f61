"""SWE-bench JSONL export and import, so their tooling reads our tasks and we read theirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from taskset.errors import TaskRecordError
from taskset.record import SCHEMA_VERSION, Task

# SWE-bench stores the two test lists as JSON-encoded strings; we keep real lists inside our records.
_LIST_FIELDS = ("FAIL_TO_PASS", "PASS_TO_PASS")


def to_swebench(task: Task) -> dict:
    """One SWE-bench instance dict, with our extra fields kept alongside."""
    record = task.to_dict()
    for name in _LIST_FIELDS:
        record[name] = json.dumps(record[name])
    record["version"] = task.environment.python.rsplit(".", 1)[0] if task.environment.python else ""
    record["environment_setup_commit"] = task.base_commit
    record["hints_text"] = ""
    return record


def export_jsonl(tasks: Iterable[Task], path: str | Path) -> int:
    """Write tasks as SWE-bench JSONL; returns how many were written."""
    lines = [json.dumps(to_swebench(task), sort_keys=True) for task in tasks]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def from_swebench(record: dict, source: str = "<swebench>") -> Task:
    """Read a SWE-bench instance (ours or theirs) into a Task; absent loopctl fields get defaults."""
    data = dict(record)
    for name in _LIST_FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            try:
                data[name] = json.loads(value)
            except json.JSONDecodeError:
                raise TaskRecordError(source, name, "not a JSON-encoded list") from None
    owner_repo = data.get("repo", "")
    data.setdefault("repo_url", f"https://github.com/{owner_repo}" if owner_repo else "")
    data.setdefault("fix_commit", "")
    data.setdefault("environment", {"python": str(data.get("version", ""))})
    data.setdefault("calibration", {})
    data.setdefault("meta", {})
    data.setdefault("schema_version", SCHEMA_VERSION)
    for name in ("version", "environment_setup_commit", "hints_text"):
        data.pop(name, None)
    return Task.from_dict(data, source)


def import_jsonl(path: str | Path) -> Iterator[Task]:
    """Read SWE-bench JSONL; a bad line raises TaskRecordError naming the file and line."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            source = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskRecordError(source, "<json>", f"not valid JSON ({exc})") from None
            yield from_swebench(record, source)


