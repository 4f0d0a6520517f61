"""The task record: one verified bug fix, as stored in ``tasks/<instance_id>.json``.

A superset of SWE-bench's instance fields. Every field is checked on load so that a
malformed file fails with the file and the field named, never with a bare KeyError.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from taskset.errors import TaskRecordError

SCHEMA_VERSION = 1


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

    python: str = ""
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
    environment: EnvironmentSpec = EnvironmentSpec()
    failure_output: str = ""
    calibration: Calibration = Calibration()
    meta: TaskMeta = TaskMeta()
    schema_version: int = SCHEMA_VERSION
    version: str = ""
    """The repository's own version at ``base_commit`` (packaging metadata or nearest tag), as SWE-bench means it."""
    repo_source: str = ""
    """Where this machine clones the repository from (URL, path or bundle) when that is not ``repo_url``.

    Local to the miner's machine: never exported. ``repo_url`` stays the public URL (or ``""``).
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
    def from_dict(cls, data: Mapping[str, Any], source: str = "<task>") -> "Task":
        """Build a task from its dict form, raising TaskRecordError naming ``source`` and the field."""
        return _Reader(source).task(data)

    @classmethod
    def from_json(cls, text: str, source: str = "<task>") -> "Task":
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
    """Checks a record's fields one by one so each problem names its field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, name: str, problem: str) -> TaskRecordError:
        return TaskRecordError(self.source, name, problem)

    def get(self, data: Mapping[str, Any], name: str, kind: type | tuple, default: Any = dataclasses.MISSING):
        if not isinstance(data, Mapping):
            raise self.fail(name.rsplit(".", 1)[0] or name, "expected an object")
        key = name.rsplit(".", 1)[-1]
        if key not in data:
            if default is dataclasses.MISSING:
                raise self.fail(name, "missing")
            return default
        value = data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(name, f"expected {expected}, got {type(value).__name__}")
        return value

    def strings(self, data: Mapping[str, Any], name: str, default: Any = dataclasses.MISSING) -> tuple[str, ...]:
        value = self.get(data, name, list, default)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(name, "expected a list of strings")
        return tuple(value)

    def enum(self, data: Mapping[str, Any], name: str, kind: type[enum.Enum], default: enum.Enum) -> Any:
        value = self.get(data, name, str, default.value)
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self.fail(name, f"unknown value {value!r} (expected one of {allowed})") from None

    def numbers(self, data: Mapping[str, Any], name: str) -> dict[str, float]:
        value = self.get(data, name, dict, {})
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            raise self.fail(name, "expected an object of numbers")
        return {k: float(v) for k, v in value.items()}

    def task(self, data: Mapping[str, Any]) -> Task:
        if not isinstance(data, Mapping):
            raise self.fail("<record>", f"expected a JSON object, got {type(data).__name__}")
        version = self.get(data, "schema_version", int)
        if version != SCHEMA_VERSION:
            raise self.fail("schema_version", f"unknown version {version} (this loopctl reads {SCHEMA_VERSION})")
        text = {name: self.get(data, name, str) for name in _TEXT_FIELDS}
        return Task(
            **text,
            FAIL_TO_PASS=self.strings(data, "FAIL_TO_PASS"),
            PASS_TO_PASS=self.strings(data, "PASS_TO_PASS"),
            environment=self.environment(self.get(data, "environment", dict)),
            failure_output=self.get(data, "failure_output", str, ""),
            calibration=self.calibration(self.get(data, "calibration", dict)),
            meta=self.meta(self.get(data, "meta", dict)),
            schema_version=version,
            version=self.get(data, "version", str, ""),
            repo_source=self.get(data, "repo_source", str, ""),
        )

    def environment(self, data: Mapping[str, Any]) -> EnvironmentSpec:
        p = "environment."
        return EnvironmentSpec(
            python=self.get(data, p + "python", str),
            install=self.strings(data, p + "install", []),
            exclude_newer=self.get(data, p + "exclude_newer", str, ""),
            requirements=self.strings(data, p + "requirements", []),
            pythonpath=self.strings(data, p + "pythonpath", ["."]),
            remedy=self.get(data, p + "remedy", str, "normal"),
            pytest=self.get(data, p + "pytest", str, ""),
        )

    def calibration(self, data: Mapping[str, Any]) -> Calibration:
        p = "calibration."
        passes = self.get(data, p + "tier_passes", dict, {})
        for tier, pair in passes.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, int) for n in pair)):
                raise self.fail(f"{p}tier_passes.{tier}", "expected [passes, samples]")
        return Calibration(
            status=self.enum(data, p + "status", CalibrationStatus, CalibrationStatus.UNCALIBRATED),
            reason=self.get(data, p + "reason", str, ""),
            runs=self.get(data, p + "runs", int, 0),
            flaky_tests=self.strings(data, p + "flaky_tests", []),
            flake_rates=self.numbers(data, p + "flake_rates"),
            durations=self.numbers(data, p + "durations"),
            buggy_seconds=self.get(data, p + "buggy_seconds", float, 0.0),
            gold_seconds=self.get(data, p + "gold_seconds", float, 0.0),
            difficulty=self.enum(data, p + "difficulty", Difficulty, Difficulty.UNKNOWN),
            tier_passes={tier: (pair[0], pair[1]) for tier, pair in passes.items()},
            calibrated_at=self.get(data, p + "calibrated_at", str, ""),
            loopctl_version=self.get(data, p + "loopctl_version", str, ""),
        )

    def meta(self, data: Mapping[str, Any]) -> TaskMeta:
        p = "meta."
        modes = self.get(data, p + "fail_modes", dict, {})
        return TaskMeta(
            subject=self.get(data, p + "subject", str, ""),
            files_changed=self.get(data, p + "files_changed", int, 0),
            lines_added=self.get(data, p + "lines_added", int, 0),
            lines_removed=self.get(data, p + "lines_removed", int, 0),
            score=self.get(data, p + "score", float, 0.0),
            source_files=self.strings(data, p + "source_files", []),
            test_files=self.strings(data, p + "test_files", []),
            fail_modes={test: self.fail_mode(mode, f"{p}fail_modes.{test}") for test, mode in modes.items()},
            remedies=self.strings(data, p + "remedies", []),
        )

    def fail_mode(self, data: Any, name: str) -> FailMode:
        if not isinstance(data, Mapping):
            raise self.fail(name, "expected an object")
        if "kind" not in data:
            raise self.fail(name + ".kind", "missing")
        return FailMode(
            kind=self.enum(data, name + ".kind", FailKind, FailKind.ASSERTION),
            exception=self.get(data, name + ".exception", str, ""),
        )


_TEXT_FIELDS = (
    "instance_id",
    "repo",
    "repo_url",
    "base_commit",
    "fix_commit",
    "created_at",
    "patch",
    "test_patch",
    "problem_statement",
)
