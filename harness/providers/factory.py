"""Who answers a prompt: an OpenAI-compatible server, the gold patch, or a file of answers.

Every provider takes a Request and returns a Completion, or raises ProviderError carrying the
failure mode. API keys are read from the environment at call time and never kept in records.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness.config import ProviderKind, Tier
from harness.errors import ConfigError, ProviderError
from harness.modes import FailureMode
from harness.providers.calls import Calls
from harness.providers.completion import Completion, Provider, Request

__all__ = ["Completion", "OracleProvider", "Provider", "ReplayProvider", "Request", "make_provider"]


def make_provider(tier: Tier, calls: Calls | None = None) -> Provider:
    """The provider a tier names (a missing API key is a ConfigError before anything runs).

    ``calls`` is the run's registry of model calls in flight, which a stop cuts at once.
    """
    if tier.provider is ProviderKind.ORACLE:
        return OracleProvider()
    if tier.provider is ProviderKind.REPLAY:
        return ReplayProvider(Path(tier.replay_file))
    from harness.providers.openai_provider import OpenAIProvider  # the openai client is slow to import: only when used

    return OpenAIProvider(tier, calls)


class OracleProvider:
    """Answers with the task's gold patch as a fenced unified diff: proves harness and task set."""

    def complete(self, request: Request) -> Completion:
        """The gold patch, fenced as a model would send it."""
        started = time.perf_counter()
        text = f"```diff\n{request.task.patch}```\n"
        return Completion(content=text, model="gold-patch", finish_reason="stop", usage_reported=True,
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
            raise ProviderError(FailureMode.API_ERROR, f"{self.path}: no answer for {ident} attempt {request.attempt}")
        usage = row.get("usage")
        counts: dict[str, Any] = {name: int((usage or {}).get(name, 0) or 0)
                  for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")}
        return Completion(content=row.get("content") or "", reasoning=row.get("reasoning") or "",
                          model=row.get("model", "replay"), usage_reported=usage is not None,
                          finish_reason=row.get("finish_reason", "stop"), **counts)
