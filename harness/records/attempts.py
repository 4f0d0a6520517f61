"""A run directory's files: attempt records, raw answers, and the run.json settings.

``attempts.jsonl``: one JSON line per finished attempt, appended and fsync'd the moment it ends.
Records keep tokens, never dollars (the report prices them from a pinned table). An attempt is
keyed by (strategy, task, seed, tier, attempt); a rerun skips every key with a final record.
An attempt that ended in an infrastructure failure is recorded too, but is not final: the next
run retries it, and its later record supersedes it. So is a ``tests-failed`` record an earlier
version wrote for a run in a broken environment (``harness.modes.stale_environment_failure``).

``answers.jsonl``: the model's answer for a key, written as soon as it arrives (before it is
judged), so an answer paid for is never paid for twice: a run stopped between answer and verdict
judges the stored answer on the next run instead of asking again.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import AgentActions, ContextSetting, EditFormat, ProviderKind, Tier, TierKind
from harness.errors import RunDirError
from harness.modes import FailureMode, is_infrastructure, stale_environment_failure
from harness.names import Strategy
from harness.providers.completion import Completion
from harness.records.agentstats import AgentStats
from taskset.evaluation.verdict import VerdictProblem
from taskset.files.atomic import append_line, drop_torn_tail

ATTEMPTS_FILE = "attempts.jsonl"
ANSWERS_FILE = "answers.jsonl"
RUN_FILE = "run.json"
TASKS_FILE = "tasks.jsonl"
"""One line per task as a run reaches it: its pre-hoc features."""

Key = tuple[str, str, int, str, int]
"""(strategy value, task, seed, tier, attempt)."""


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt: what was asked, what answered, what it cost in tokens and time, and the verdict."""

    task: str
    strategy: Strategy
    seed: int
    tier: str
    attempt: int
    provider: ProviderKind = ProviderKind.OPENAI
    model_requested: str = ""
    model_answered: str = ""
    """The API's own ``model`` field: a silent fallback shows here."""
    edit_format: EditFormat = EditFormat.SEARCH_REPLACE
    max_tokens: int = 0
    """The completion budget the (last) request asked for."""
    usage_reported: bool = True
    """False when the server reported no usage: token counts are estimates, a paid tier's cost unknown."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens served from the server's cache (priced at the tier's cached-input price)."""
    billed_cost: float | None = None
    """A cost the API itself reported, if any (shown beside the estimated cost)."""
    latency: float = 0.0
    """Seconds spent waiting for the model, failed calls and retries included."""
    ttft: float | None = None
    """Seconds to the first streamed token (streaming tiers only)."""
    tokens_per_second: float | None = None
    """Decode rate from the first token on (streamed) or the server's own timing."""
    finish_reason: str = ""
    """The server's stop reason, ``runaway`` when the harness cut the stream, or the HTTP status of a failed call."""
    failure_mode: FailureMode = FailureMode.API_ERROR
    verdict: VerdictProblem | None = None
    """The evaluator's verdict, or None when the answer never reached it."""
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
    history_trimmed: int = 0
    """Earlier attempts left out of the prompt to fit the window."""
    trims: tuple[str, ...] = ()
    """Context-overflow retries within the attempt: what the server said and how the prompt was cut."""
    retries: int = 0
    """HTTP retries (429/5xx/connection) before the answer."""
    eval_seconds: float = 0.0
    overhead_seconds: float = 0.0
    """Harness time: everything but the model call and the evaluation."""
    paid: bool = False
    ended_at: float = 0.0
    env_checked: bool = False
    """True when the evaluator re-verified the environment before its verdict (every verdict of this
    version): a record without it that reads like a broken environment is retried."""
    context: ContextSetting = ContextSetting.ORACLE
    """The tier's context setting (records written before settings existed were all ``oracle``)."""
    gold_files: tuple[str, ...] = ()
    """The files the gold patch touches."""
    gold_in_prompt: tuple[str, ...] = ()
    """Those of them the prompt showed (after trimming): the attempt's retrieval recall."""
    agent: AgentStats | None = None
    """An agent tier's turn-by-turn figures (None for edit tiers)."""

    @property
    def key(self) -> Key:
        """The identity a resumed run checks before redoing anything."""
        return (self.strategy.value, self.task, self.seed, self.tier, self.attempt)

    @property
    def resolved(self) -> bool:
        """True when the evaluator resolved this attempt."""
        return self.failure_mode is FailureMode.RESOLVED

    @property
    def infrastructure(self) -> bool:
        """True when the attempt failed for reasons outside the model's answer (retried on a rerun)."""
        return (is_infrastructure(self.failure_mode)
                or stale_environment_failure(self.failure_mode, self.message, self.env_checked))

    def to_json(self) -> str:
        """One JSONL line (enums as their values)."""
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttemptRecord:
        """Rebuild a record, ignoring fields a newer version added."""
        values = {k: v for k, v in data.items() if k in _FIELDS}
        values["strategy"] = Strategy(values.get("strategy", Strategy.MATRIX.value))
        values["failure_mode"] = FailureMode(values.get("failure_mode", FailureMode.API_ERROR.value))
        values["provider"] = ProviderKind(values.get("provider") or ProviderKind.OPENAI.value)
        values["edit_format"] = EditFormat(values.get("edit_format") or EditFormat.SEARCH_REPLACE.value)
        values["verdict"] = VerdictProblem(values["verdict"]) if values.get("verdict") else None
        values["trims"] = tuple(values.get("trims") or ())
        values["context"] = ContextSetting(values.get("context") or ContextSetting.ORACLE.value)
        values["gold_files"] = tuple(values.get("gold_files") or ())
        values["gold_in_prompt"] = tuple(values.get("gold_in_prompt") or ())
        values["agent"] = AgentStats.from_dict(values["agent"]) if values.get("agent") else None
        return cls(**values)


_FIELDS = {f.name for f in dataclasses.fields(AttemptRecord)}


def _plain(value: Any) -> Any:
    if isinstance(value, AgentStats):
        return value.to_dict()
    if isinstance(value, tuple):
        return list(value)
    return getattr(value, "value", value)


@dataclass(frozen=True)
class Answer:
    """A model's answer for one key, as stored before it was judged."""

    content: str
    reasoning: str = ""
    patch: str = ""
    """The candidate as a unified diff (what a SWE-bench prediction carries); empty if unusable."""
    completion: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The Completion's fields (usage, latency, finish reason), to record the attempt without a new call."""

    def as_completion(self) -> Completion:
        """The stored Completion (unknown fields of a newer version ignored)."""
        known = {f.name for f in dataclasses.fields(Completion)}
        values = {k: v for k, v in self.completion.items() if k in known}
        return Completion(**{**values, "content": self.content, "reasoning": self.reasoning})


class RunLog:
    """The append-only files of one run directory, safe to share between threads."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / ATTEMPTS_FILE
        self.answers_path = self.root / ANSWERS_FILE
        self._lock = threading.Lock()
        self.records: dict[Key, AttemptRecord] = {}
        """Final records (not infrastructure failures), by key."""
        self.infra: list[AttemptRecord] = []
        """Infrastructure failures, in the order they happened (retried on a rerun)."""
        self.answers: dict[Key, Answer] = {}
        self.skipped_lines = 0
        self.on_append: Callable[[AttemptRecord], None] | None = None
        """Called after each new record is on disk (the budget counts spend here)."""
        for path in (self.path, self.answers_path):
            drop_torn_tail(path)
        for record in read_attempts(self.path, self):
            if record.infrastructure:
                self.infra.append(record)
            else:
                self.records[record.key] = record
        for key, answer in _read_answers(self.answers_path):
            self.answers[key] = answer

    def __contains__(self, key: Key) -> bool:
        return key in self.records

    def __iter__(self) -> Iterator[AttemptRecord]:
        return iter(list(self.records.values()))

    def answer_text(self, key: Key) -> str:
        """The stored answer for a key ("" when none)."""
        answer = self.answers.get(key)
        return answer.content if answer else ""

    def save_answer(self, key: Key, completion: Completion, patch: str = "") -> None:
        """Store a model's answer the moment it arrives (before the verdict)."""
        strategy, task, seed, tier, attempt = key
        fields = {f.name: getattr(completion, f.name) for f in dataclasses.fields(Completion)
                  if f.name not in ("content", "reasoning")}
        line = {"strategy": strategy, "task": task, "seed": seed, "tier": tier, "attempt": attempt,
                "content": completion.content, "reasoning": completion.reasoning, "patch": patch,
                "model": completion.model, "finish_reason": completion.finish_reason, "completion": fields}
        if completion.usage_reported:  # the replay provider's shape
            line["usage"] = {k: fields[k] for k in ("prompt_tokens", "completion_tokens", "reasoning_tokens",
                                                     "cached_tokens")}
        with self._lock:
            append_line(self.answers_path, json.dumps(line, sort_keys=True))
            self.answers[key] = Answer(completion.content, completion.reasoning, patch, fields)

    def append(self, record: AttemptRecord) -> None:
        """Write a record; a final record for a key already final is an error (never two verdicts)."""
        with self._lock:
            if record.key in self.records:
                raise RunDirError(str(self.path), f"attempt {record.key} recorded twice")
            append_line(self.path, record.to_json())
            if record.infrastructure:
                self.infra.append(record)
            else:
                self.records[record.key] = record
        if self.on_append is not None:
            self.on_append(record)

    def outstanding_infra(self) -> list[AttemptRecord]:
        """Infrastructure failures no later record has superseded (what a rerun will retry)."""
        latest: dict[Key, AttemptRecord] = {}
        for record in self.infra:
            if record.key not in self.records:
                latest[record.key] = record
        return list(latest.values())


def read_attempts(path: str | Path, log: RunLog | None = None) -> list[AttemptRecord]:
    """Every complete record in an attempts file, infrastructure failures included (in file order)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            out.append(AttemptRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError, KeyError):
            if log is not None:
                log.skipped_lines += 1
    return out


def final_records(records: list[AttemptRecord]) -> list[AttemptRecord]:
    """The records that count: infrastructure failures dropped, the last record of a key kept."""
    return list({r.key: r for r in records if not r.infrastructure}.values())


def read_answers(path: str | Path) -> dict[Key, Answer]:
    """Key -> stored answer (the last line of a key wins)."""
    return dict(_read_answers(Path(path)))


def _read_answers(path: Path) -> Iterator[tuple[Key, Answer]]:
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            key = (row["strategy"], row["task"], int(row["seed"]), row["tier"], int(row["attempt"]))
            yield key, Answer(row["content"], row.get("reasoning") or "", row.get("patch") or "",
                              row.get("completion") or {})
        except (ValueError, KeyError, TypeError):
            continue


# --- run.json ---------------------------------------------------------------------------------

def read_settings(out: str | Path) -> dict[str, Any]:
    """A run directory's settings as written in run.json (RunDirError if it is not a run directory)."""
    path = Path(out) / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RunDirError(str(out), f"not a run directory ({RUN_FILE}: {why})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tiers"), list):
        raise RunDirError(str(out), f"{RUN_FILE} has no tiers")
    return data


def run_tiers(out: str | Path) -> list[Tier]:
    """The ladder a run directory was started with (its pinned price table)."""
    return [tier_from_dict(t) for t in read_settings(out)["tiers"]]


def tier_from_dict(data: dict[str, Any]) -> Tier:
    """A Tier from its ``public()`` dict (fields a newer version added are ignored)."""
    known = {f.name for f in dataclasses.fields(Tier)}
    args = {k: v for k, v in data.items() if k in known}
    args["provider"] = ProviderKind(args.get("provider", ProviderKind.OPENAI.value))
    args["edit_format"] = EditFormat(args.get("edit_format", EditFormat.SEARCH_REPLACE.value))
    # a run.json from before context settings ran every tier with the gold patch's files
    args["context"] = ContextSetting(args.get("context", ContextSetting.ORACLE.value))
    args["kind"] = TierKind(args.get("kind", TierKind.EDIT.value))
    args["agent_actions"] = AgentActions(args.get("agent_actions", AgentActions.TEXT.value))
    return Tier(**args)
