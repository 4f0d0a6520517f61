"""One Task <-> one SWE-bench 5 row (the instance dict ``swebench.harness.utils.make_test_spec`` takes).

A SWE-bench 5 row carries, beside the instance fields (``instance_id``, ``repo``, ``base_commit``,
``patch``, ``test_patch``, ``problem_statement``, ``hints_text``, ``created_at``, ``version``,
``FAIL_TO_PASS``, ``PASS_TO_PASS``, ``environment_setup_commit``), how to grade it: ``image``
(the container), ``eval_script`` (run in it), ``log_parser`` (a key of swebench's
``PARSER_REGISTRY``) and ``eval_type``. Our own fields ride along under their own names.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from taskset.errors import TaskRecordError
from taskset.interop.swebench_eval import eval_script
from taskset.record import SCHEMA_VERSION, Task
from taskset.workspace.provenance import public_url

LOG_PARSER = "parse_log_pytest"
"""Reads ``-rA`` lines: ``PASSED path.py::test_x[param]``; a test id holding whitespace is cut there."""
EVAL_TYPE = "pass_and_fail"
IMAGE_NAMESPACE = "swebench"
TEST_FIELDS = ("FAIL_TO_PASS", "PASS_TO_PASS")
_REQUIRED = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement")
_OWNER_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def image_name(instance_id: str, namespace: str = IMAGE_NAMESPACE) -> str:
    """The image name SWE-bench derives for an instance (``__`` is not allowed in Docker Hub names)."""
    key = f"sweb.eval.x86_64.{instance_id}:latest".lower()
    return f"{namespace}/{key}".replace("__", "_1776_")


def to_swebench(task: Task) -> dict[str, Any]:
    """The SWE-bench 5 row of ``task``; the test lists JSON-encoded, as SWE-bench's datasets keep them.

    ``repo_url`` is only ever a public URL. A task with none keeps loopctl's ``repo_source`` (the
    exporting machine's clone) so the row can run where it was made; with a public URL it is left out.
    """
    row = task.to_dict()
    for name in TEST_FIELDS:
        row[name] = json.dumps(row[name])
    url = public_url(task.repo_url) if task.repo_url else ""  # a record from before repo_url was public held a path
    row.pop("repo_source")
    if not url and task.clone_location:
        # Nowhere public to clone it from: name this machine's clone (ours, clearly local) so the rows
        # still run here. A task repository carries the history in repo.bundle instead.
        row["repo_source"] = task.clone_location
    row.update(
        repo_url=url,
        version=task.version,
        environment_setup_commit=task.base_commit,
        hints_text="",
        image=image_name(task.instance_id),
        eval_script=eval_script(task),
        log_parser=LOG_PARSER,
        eval_type=EVAL_TYPE,
    )
    return row


def unreadable_test(task: Task) -> str | None:
    """The first test id swebench's pytest log parser cannot read back (it splits lines on whitespace)."""
    return next((test for test in task.tests if re.search(r"\s", test)), None)


def from_swebench(row: Mapping[str, Any], source: str = "<swebench>", clone_from: str = "") -> Task:
    """A Task from a SWE-bench row (theirs or ours); raises TaskRecordError naming ``source`` and the field.

    The row's ``version`` stays the repository's version: the interpreter is never taken from it.
    A row without our ``environment`` resolves its interpreter and packages as of ``created_at``,
    as a mined task would. ``clone_from`` says where this machine clones the repository from
    when that is not ``repo_url`` (a local mirror of it, say); it overrides the row's ``repo_source``.
    """
    if not isinstance(row, Mapping):
        raise TaskRecordError(source, "<record>", f"expected an object, got {type(row).__name__}")
    for name in _REQUIRED:
        if name not in row:
            raise TaskRecordError(source, name, "missing")
    data: dict[str, Any] = {name: row[name] for name in _REQUIRED}
    for name in TEST_FIELDS:
        data[name] = _test_list(row.get(name, "[]"), source, name)
    data["created_at"] = _timestamp(row.get("created_at", ""))
    data["version"] = _text(row.get("version", ""), source, "version")
    data["repo_url"] = _repo_url(row)
    local = row.get("repo_source")
    data["repo_source"] = clone_from or (local if isinstance(local, str) else "")
    for name in ("fix_commit", "failure_output"):
        data[name] = row.get(name) or ""
    for name in ("environment", "calibration", "meta"):
        value = row.get(name)
        if isinstance(value, str) and value:  # a parquet export keeps them as JSON text
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise TaskRecordError(source, name, "not a JSON-encoded object") from None
        data[name] = value if isinstance(value, Mapping) else {}
    data["environment"] = {"python": "", **data["environment"]}
    data["schema_version"] = row.get("schema_version", SCHEMA_VERSION)
    return Task.from_dict(data, source)


def is_node_id(test: str) -> bool:
    """True for a pytest node id: ``path/to/file.py::name`` (more ``::`` parts and ``[params]`` allowed)."""
    path, sep, rest = test.partition("::")
    if not sep or not path.endswith(".py") or re.search(r"\s", path):
        return False
    name = rest.split("[", 1)[0]
    return all(part and not re.search(r"\s", part) for part in name.split("::"))


def _test_list(value: Any, source: str, name: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise TaskRecordError(source, name, "not a JSON-encoded list") from None
    if hasattr(value, "tolist"):  # a numpy array, from a parquet file read through pandas
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(test, str) for test in value):
        raise TaskRecordError(source, name, "expected a list of test ids")
    bad = next((test for test in value if not is_node_id(test)), None)
    if bad is not None:
        raise TaskRecordError(source, name, f"{bad!r} is not a pytest node id (path.py::test); "
                                            "loopctl grades with pytest and cannot run it")
    return value


def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value if isinstance(value, str) else ""


def _text(value: Any, source: str, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # SWE-bench versions read back from a table as numbers ("3.0" -> 3.0)
    if value is None:
        return ""
    raise TaskRecordError(source, name, f"expected text, got {type(value).__name__}")


def _repo_url(row: Mapping[str, Any]) -> str:
    """The row's public URL; a row without the column (SWE-bench's own) is GitHub's ``owner/name``."""
    if "repo_url" in row:  # ours: "" means no public home is known, not "guess one"
        url = row["repo_url"]
        return url if isinstance(url, str) and url.startswith(("https://", "http://")) else ""
    repo = row.get("repo")
    if isinstance(repo, str) and _OWNER_NAME.fullmatch(repo) and not repo.startswith("local/"):
        return f"https://github.com/{repo}"  # SWE-bench's repos are GitHub's owner/name
    return ""
