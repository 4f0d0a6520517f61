"""Attempt records: one JSON line per finished attempt, appended and fsync'd the moment it ends.

Records keep tokens, never dollars: the report prices them from a pinned table, so a run can be
re-priced without re-running it. An attempt is keyed by (strategy, task, seed, tier, attempt);
a rerun skips every key already on disk, which is what makes a killed run resumable.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from taskset.atomic import append_line, drop_torn_tail

from harness.errors import RunDirError
from harness.modes import FailureMode

ATTEMPTS_FILE = "attempts.jsonl"
ANSWERS_FILE = "answers.jsonl"
MATRIX = "matrix"
"""The strategy name of per-tier runs that every clean-start strategy is computed from."""

Key = tuple[str, str, int, str, int]


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt: what was asked, what answered, what it cost in tokens, and the verdict."""

    task: str
    strategy: str
    seed: int
    tier: str
    attempt: int
    provider: str = ""
    model_requested: str = ""
    model_answered: str = ""
    """The API's own ``model`` field: a silent fallback shows here."""
    edit_format: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    billed_cost: float | None = None
    """A cost the API itself reported, if any (shown beside the priced cost)."""
    latency: float = 0.0
    """Seconds from request to full answer."""
    ttft: float | None = None
    """Seconds to the first streamed token (streaming tiers only)."""
    finish_reason: str = ""
    failure_mode: FailureMode = FailureMode.API_ERROR
    verdict: str = ""
    """The evaluator's problem value, or empty when the answer never reached it."""
    f2p_passed: int = 0
    f2p_total: int = 0
    p2p_passed: int = 0
    p2p_total: int = 0
    message: str = ""
    feedback: str = ""
    """The failing tests' trimmed output, fed to the next attempt when the tier has feedback."""
    prompt_chars: int = 0
    files_in_prompt: int = 0
    files_trimmed: int = 0
    eval_seconds: float = 0.0
    overhead_seconds: float = 0.0
    """Harness time: everything but the model call and the evaluation."""
    paid: bool = False
    ended_at: float = 0.0

    @property
    def key(self) -> Key:
        """The identity a resumed run checks before redoing anything."""
        return (self.strategy, self.task, self.seed, self.tier, self.attempt)

    @property
    def resolved(self) -> bool:
        """True when the evaluator resolved this attempt."""
        return self.failure_mode is FailureMode.RESOLVED

    def to_json(self) -> str:
        """One JSONL line."""
        data = dataclasses.asdict(self)
        data["failure_mode"] = self.failure_mode.value
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AttemptRecord":
        """Rebuild a record, ignoring fields a newer version added."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["failure_mode"] = FailureMode(values.get("failure_mode", "api-error"))
        return cls(**values)


class RunLog:
    """The append-only attempts file of one run directory, safe to share between threads."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / ATTEMPTS_FILE
        self.answers_path = self.root / ANSWERS_FILE
        self._lock = threading.Lock()
        self.records: dict[Key, AttemptRecord] = {}
        self.answers: dict[Key, str] = {}
        self.skipped_lines = 0
        self.on_append: Callable[[AttemptRecord], None] | None = None
        """Called after each new record is on disk (the budget counts spend here)."""
        for path in (self.path, self.answers_path):
            drop_torn_tail(path)
        for record in read_attempts(self.path, self):
            self.records[record.key] = record
        for row in _read_answers(self.answers_path):
            self.answers[(row["strategy"], row["task"], row["seed"], row["tier"], row["attempt"])] = row["content"]

    def __contains__(self, key: Key) -> bool:
        return key in self.records

    def __iter__(self) -> Iterator[AttemptRecord]:
        return iter(list(self.records.values()))

    def append(self, record: AttemptRecord, answer: str | None = None) -> None:
        """Write the answer text (if any), then the record; a key already on disk is an error."""
        with self._lock:
            if record.key in self.records:
                raise RunDirError(str(self.path), f"attempt {record.key} recorded twice")
            if answer is not None:
                line = {"task": record.task, "strategy": record.strategy, "seed": record.seed,
                        "tier": record.tier, "attempt": record.attempt, "content": answer,
                        "model": record.model_answered}
                append_line(self.answers_path, json.dumps(line, sort_keys=True))
                self.answers[record.key] = answer
            append_line(self.path, record.to_json())
            self.records[record.key] = record
        if self.on_append is not None:
            self.on_append(record)


def read_attempts(path: str | Path, log: RunLog | None = None) -> list[AttemptRecord]:
    """Every complete record in an attempts file (unreadable lines are counted, not fatal)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            out.append(AttemptRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError):
            if log is not None:
                log.skipped_lines += 1
    return out


def _read_answers(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            rows.append({k: row[k] for k in ("strategy", "task", "seed", "tier", "attempt", "content")})
        except (ValueError, KeyError, TypeError):
            continue
    return rows
