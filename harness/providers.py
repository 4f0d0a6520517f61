"""Who answers a prompt: an OpenAI-compatible server, the gold patch, or a file of answers.

Every provider takes a Request and returns a Completion, or raises ProviderError carrying the
failure mode. API keys are read from the environment at call time and never kept in records.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from taskset.record import Task

from harness.config import ProviderKind, Tier
from harness.errors import ConfigError, ProviderError
from harness.modes import FailureMode, classify_error


@dataclass(frozen=True)
class Request:
    """One prompt for one attempt, with the identity replay needs to find its answer."""

    task: Task
    tier: Tier
    seed: int
    attempt: int
    messages: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Completion:
    """A model's answer with the usage the API reported."""

    content: str
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: str = ""
    latency: float = 0.0
    ttft: float | None = None
    billed_cost: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """Answers a request; raises ProviderError when no answer could be had."""

    def complete(self, request: Request) -> Completion:
        """The model's answer to ``request``."""
        ...


def make_provider(tier: Tier) -> Provider:
    """The provider a tier names (a missing API key is a ConfigError before anything runs)."""
    if tier.provider is ProviderKind.ORACLE:
        return OracleProvider()
    if tier.provider is ProviderKind.REPLAY:
        return ReplayProvider(Path(tier.replay_file))
    from harness.openai_provider import OpenAIProvider

    return OpenAIProvider(tier)


class OracleProvider:
    """Answers with the task's gold patch as a fenced unified diff: proves harness and task set."""

    def complete(self, request: Request) -> Completion:
        """The gold patch, fenced as a model would send it."""
        started = time.perf_counter()
        text = f"```diff\n{request.task.patch}```\n"
        return Completion(content=text, model="gold-patch", finish_reason="stop",
                          latency=time.perf_counter() - started)


class ReplayProvider:
    """Answers from a JSONL file of ``{task, tier, attempt, content[, seed, model, usage]}`` lines.

    A run's own ``answers.jsonl`` has this shape, so any run can be replayed offline. A line
    without ``seed`` answers every seed.
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(str(path), "replay_file", f"cannot be read ({exc.strerror})") from None
        self.answers: dict[tuple, dict[str, Any]] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = (row["task"], row["tier"], row.get("seed"), int(row["attempt"]))
            except (ValueError, KeyError, TypeError):
                raise ConfigError(str(path), f"line {number}", "expected {task, tier, attempt, content}") from None
            self.answers[key] = row

    def complete(self, request: Request) -> Completion:
        """The recorded answer for this task, tier, seed and attempt."""
        ident = (request.task.instance_id, request.tier.name)
        row = self.answers.get((*ident, request.seed, request.attempt)) or self.answers.get(
            (*ident, None, request.attempt))
        if row is None:
            raise ProviderError(FailureMode.API_ERROR.value, f"{self.path}: no answer for {ident} attempt {request.attempt}")
        usage = row.get("usage") or {}
        return Completion(
            content=row.get("content") or "",
            model=row.get("model", "replay"),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            reasoning_tokens=int(usage.get("reasoning_tokens", 0)),
            finish_reason=row.get("finish_reason", "stop"),
        )


def raise_for(exc: Exception, secret: str = "") -> None:
    """Re-raise a client exception as ProviderError with its mode, the key scrubbed from the text."""
    text = f"{type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "***")
    mode = FailureMode.TIMEOUT if "Timeout" in type(exc).__name__ else classify_error(text)
    raise ProviderError(mode.value, text[:500]) from None
