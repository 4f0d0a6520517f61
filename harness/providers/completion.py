"""What every provider takes and returns: a Request in, a Completion out (the Provider protocol).

Kept apart from the providers themselves so that each provider module imports only this one,
and the factory (``harness.providers.factory.make_provider``) imports the providers: no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from harness.config import Tier
from taskset.record import Task


@dataclass(frozen=True)
class Request:
    """One prompt for one attempt, with the identity replay needs to find its answer."""

    task: Task
    tier: Tier
    seed: int
    attempt: int
    messages: tuple[dict[str, Any], ...]
    max_tokens: int | None = None
    """The completion budget asked for; None means the tier's ``max_output_tokens``."""
    tools: tuple[dict[str, Any], ...] = ()
    """Function tools offered (chat-completions ``tools``): an agent tier in tool-call mode offers ``bash``."""

    @property
    def budget(self) -> int:
        """The completion budget this request asks for."""
        return self.max_tokens if self.max_tokens is not None else self.tier.max_output_tokens


@dataclass(frozen=True)
class Completion:
    """A model's answer with what the server reported about it."""

    content: str
    reasoning: str = ""
    """Reasoning text the server returned apart from the answer (``reasoning_content``/``reasoning``)."""
    model: str = ""
    """The server's own ``model`` field (a silent fallback shows here)."""
    usage_reported: bool = False
    """False when the server sent no usage: token counts are then estimates or zero, cost unknown."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the server served from its cache (``prompt_tokens_details.cached_tokens``)."""
    finish_reason: str = ""
    """The server's stop reason; ``runaway`` when the harness cut a repeating stream."""
    latency: float = 0.0
    """Seconds from the first request to the full answer, retries included."""
    ttft: float | None = None
    """Seconds to the first streamed token (streaming tiers only)."""
    tokens_per_second: float | None = None
    """Decode rate from the first token on (streamed), or the server's own timing (llama.cpp)."""
    billed_cost: float | None = None
    """What the server says it billed (``usage.cost``: OpenRouter, LiteLLM), if it says."""
    retries: int = 0
    """Requests retried after 429/5xx/connection errors before this answer."""
    tool_calls: tuple[dict[str, Any], ...] = ()
    """The reply's tool calls, each ``{"id", "name", "arguments"}`` (arguments as the JSON text sent)."""


class Provider(Protocol):
    """Answers a request; raises ProviderError when no answer could be had."""

    def complete(self, request: Request) -> Completion:
        """The model's answer to ``request``."""
        ...
