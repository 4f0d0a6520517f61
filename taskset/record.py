"""The task record: one verified bug fix, as stored in ``tasks/<instance_id>.json``.

A superset of SWE-bench's instance fields. Every field is checked on load so that a
malformed file fails with the file and the field named, never with a bare KeyError.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskset.errors import TaskRecordError

SCHEMA_VERSION = 2
"""Version 2 added ``meta.order_dependent`` and ``meta.failing_both``; version 1 files still load."""
READABLE_VERSIONS = (1, 2)

_REQUIRED = {"required": True}
"""Field metadata: a task file must carry this field although the dataclass has a default."""


class CalibrationStatus(str, enum.Enum):
    """Where a task stands after calibration; only ``ok`` tasks gate the harness by default."""

    UNCALIBRATED = "uncalibrated"
    OK = "ok"
    FLAKY = "flaky"
    BAD_TEST = "bad-test"
    BROKEN = "broken"
    ENV_FAILED = "env-failed"


class Difficulty(str, enum.Enum):
    """Measured by tier pass counts during calibration, never guessed from patch size."""

    UNKNOWN = "unknown"
    TRIVIAL = "trivial"
    MEDIUM = "medium"
    HARD = "hard"


class FailKind(str, enum.Enum):
    """How a FAIL_TO_PASS test failed on the buggy code."""

    ASSERTION = "assertion"
    EXCEPTION = "exception"
    COLLECTION = "collection"


@dataclass(frozen=True)
class FailMode:
    """How one FAIL_TO_PASS test failed before the fix."""

    kind: FailKind
    exception: str = ""
    """The exception's type name (``ValueError``), or the import error for collection failures."""


@dataclass(frozen=True)
class EnvironmentSpec:
    """What a task's test environment is made of, so a rebuild is reproducible."""

    python: str = field(default="", metadata=_REQUIRED)
    """The interpreter version the task was validated with, e.g. ``3.11.7``."""
    install: tuple[str, ...] = ()
    """Requirement specifiers installed with ``uv pip install`` (the project itself as ``.[extras]``)."""
    exclude_newer: str = ""
    """Resolution date (ISO 8601): packages uploaded later are ignored."""
    requirements: tuple[str, ...] = ()
    """The frozen ``name==version`` lines that resolved."""
    pythonpath: tuple[str, ...] = (".",)
    """Workspace-relative directories put on ``PYTHONPATH`` (``src`` for src layouts)."""
    remedy: str = "normal"
    """Which rung of the install ladder was needed (``normal``, ``no-build-isolation``, ...)."""
    pytest: str = ""
    """The pytest requirement chosen for this interpreter and project."""
    version: str = ""
    """The project's version at ``base_commit`` from its repository's tags, handed to builds that
    version from git metadata (setuptools-scm, hatch-vcs, ...); "" for a project versioned otherwise."""
    relaxed: tuple[str, ...] = ()
    """What the resolution reconciled or relaxed to find a solution, one note per step
    (``six: upper bound dropped (six==1.10 -> six>=1.10)``); empty when it resolved as declared."""


@dataclass(frozen=True)
class Calibration:
    """The result of ``calibrate``: trust status, timings and difficulty."""

    status: CalibrationStatus = CalibrationStatus.UNCALIBRATED
    reason: str = ""
    runs: int = 0
    flaky_tests: tuple[str, ...] = ()
    flake_rates: dict[str, float] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    """Median seconds per test id, from the gold runs."""
    buggy_seconds: float = 0.0
    gold_seconds: float = 0.0
    difficulty: Difficulty = Difficulty.UNKNOWN
    tier_passes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per tier: (passes, samples)."""
    calibrated_at: str = ""
    loopctl_version: str = ""


@dataclass(frozen=True)
class TaskMeta:
    """Facts about the fix commit, for filtering and reporting."""

    subject: str = ""
    files_changed: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    score: float = 0.0
    """The miner's message-signal score: orders candidates, never decides."""
    source_files: tuple[str, ...] = ()
    test_files: tuple[str, ...] = ()
    """Every path the test patch touches (modules, fixtures, data files)."""
    fail_modes: dict[str, FailMode] = field(default_factory=dict)
    remedies: tuple[str, ...] = ()
    order_dependent: tuple[str, ...] = ()
    """Tests whose outcome depended on what ran beside them while the miner validated the fix
    (failed in their module's run, passed alone, or the reverse): calibration should weigh them."""
    failing_both: dict[str, str] = field(default_factory=dict)
    """Tests that failed before *and* after the fix (a missing binary, a changed library): in
    neither list; each with the first line of its failure."""
    programs: tuple[str, ...] = ()
    """Programs from the machine, not the environment, that the tests started while the miner
    validated the fix (``git``, ``sh``; see taskset.evaluation.programs); optional, older files lack it."""


@dataclass(frozen=True)
class Task:
    """One verified bug fix: the tests in FAIL_TO_PASS fail at ``base_commit`` and pass with ``patch``."""

    instance_id: str
    repo: str
    repo_url: str
    base_commit: str
    fix_commit: str
    created_at: str
    patch: str
    test_patch: str
    problem_statement: str
    FAIL_TO_PASS: tuple[str, ...]
    PASS_TO_PASS: tuple[str, ...]
    environment: EnvironmentSpec = field(default=EnvironmentSpec(), metadata=_REQUIRED)
    failure_output: str = ""
    calibration: Calibration = field(default=Calibration(), metadata=_REQUIRED)
    meta: TaskMeta = field(default=TaskMeta(), metadata=_REQUIRED)
    schema_version: int = field(default=SCHEMA_VERSION, metadata=_REQUIRED)
    version: str = ""
    """The repository's own version at ``base_commit`` (packaging metadata or nearest tag), as SWE-bench means it."""
    repo_source: str = ""
    """Where this machine clones the repository from (URL, path or bundle) when that is not ``repo_url``.

    Local to the miner's machine: a task repository never carries it; rows only when no public URL is known.
    """

    @property
    def clone_location(self) -> str:
        """What to clone the repository from on this machine: ``repo_source``, else ``repo_url``."""
        return self.repo_source or self.repo_url

    @property
    def tests(self) -> tuple[str, ...]:
        """Every test id the verdict depends on: FAIL_TO_PASS then PASS_TO_PASS."""
        return self.FAIL_TO_PASS + self.PASS_TO_PASS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as their values, tuples as lists)."""
        return _jsonable(dataclasses.asdict(self))

    def to_json(self) -> str:
        """The record as indented, key-sorted JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<task>") -> Task:
        """Build a task from its dict form, raising TaskRecordError naming ``source`` and the field."""
        return _Reader(source).task(data)

    @classmethod
    def from_json(cls, text: str, source: str = "<task>") -> Task:
        """Parse JSON text into a task; a syntax error names ``source``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskRecordError(source, "<json>", f"not valid JSON ({exc})") from None
        return cls.from_dict(data, source)


def load_task(path: str | Path) -> Task:
    """Read one task file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskRecordError(str(path), "<file>", f"cannot be read ({exc})") from None
    return Task.from_json(text, str(path))


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class _Reader:
    """Checks a record's fields one by one so each problem names its field.

    The fields, their types and their defaults come from the dataclasses themselves
    (``dataclasses.fields`` and the type hints): a field added to a record is read without
    being listed a second time here.
    """

    def __init__(self, source: str):
        self.source = source

    def fail(self, name: str, problem: str) -> TaskRecordError:
        return TaskRecordError(self.source, name, problem)

    def task(self, data: Mapping[str, Any]) -> Task:
        if not isinstance(data, Mapping):
            raise self.fail("<record>", f"expected a JSON object, got {type(data).__name__}")
        version = self.get(data, "schema_version", int)
        if version not in READABLE_VERSIONS:
            readable = ", ".join(map(str, READABLE_VERSIONS))
            raise self.fail("schema_version", f"unknown version {version} (this loopctl reads {readable})")
        # older versions lack only defaulted fields: read as current
        return dataclasses.replace(self.record(Task, data, ""), schema_version=SCHEMA_VERSION)

    def record(self, cls: type, data: Any, prefix: str) -> Any:
        """One dataclass from its dict form, each field read by its declared type."""
        if not isinstance(data, Mapping):
            raise self.fail(prefix.rstrip(".") or "<record>", "expected an object")
        hints = _hints(cls)
        values = {}
        for spec in dataclasses.fields(cls):
            name = prefix + spec.name
            if spec.name not in data:
                if spec.metadata.get("required") or _no_default(spec):
                    raise self.fail(name, "missing")
                continue  # the dataclass's own default
            values[spec.name] = self.value(data[spec.name], name, hints[spec.name])
        return cls(**values)

    def value(self, value: Any, name: str, hint: Any) -> Any:
        """``value`` checked against (and converted to) the type ``hint``."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.record(hint, value, name + ".")
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return self.member(value, name, hint)
        if origin is tuple and args[1:] == (Ellipsis,):
            items = self.typed(value, name, list)
            if not all(isinstance(item, args[0]) for item in items):
                raise self.fail(name, f"expected a list of {_plural(args[0])}")
            return tuple(items)
        if origin is tuple:
            if not (isinstance(value, list) and len(value) == len(args)
                    and all(_is(item, kind) for item, kind in zip(value, args, strict=True))):
                raise self.fail(name, "expected [" + ", ".join(kind.__name__ for kind in args) + "]")
            return tuple(value)
        if origin is dict:
            entries = self.typed(value, name, dict)
            return {key: self.value(item, f"{name}.{key}", args[1]) for key, item in entries.items()}
        return self.typed(value, name, hint)

    def typed(self, value: Any, name: str, kind: type) -> Any:
        """A JSON scalar, list or object of ``kind`` (an int is a float; a bool is neither)."""
        if kind is float and _is(value, int):
            return float(value)
        if not _is(value, kind):
            raise self.fail(name, f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def member(self, value: Any, name: str, kind: type[enum.Enum]) -> Any:
        try:
            return kind(self.typed(value, name, str))
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self.fail(name, f"unknown value {value!r} (expected one of {allowed})") from None

    def get(self, data: Mapping[str, Any], name: str, kind: type) -> Any:
        if name not in data:
            raise self.fail(name, "missing")
        return self.typed(data[name], name, kind)


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, float))


def _no_default(spec: dataclasses.Field) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def _plural(kind: type) -> str:
    return {str: "strings", int: "integers", float: "numbers"}.get(kind, kind.__name__)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
