"""The chat-completions provider: OpenAI itself, Ollama, vLLM, llama.cpp's server.

Retries on 429/5xx and connection errors are the ``openai`` client's own (it honours
Retry-After); this module only shapes the request and reads the usage the server reports.
"""

from __future__ import annotations

import os
import time
from typing import Any

import openai

from harness.config import Tier
from harness.errors import ConfigError
from harness.providers import Completion, Request, raise_for

# Local servers ignore the key, but the client insists on one.
_NO_KEY = "no-key-needed"


class OpenAIProvider:
    """Sends a tier's prompts to an OpenAI-compatible endpoint."""

    def __init__(self, tier: Tier):
        self.tier = tier
        self._key = _NO_KEY
        if tier.api_key_env:
            key = os.environ.get(tier.api_key_env, "")
            if not key:
                raise ConfigError(f"tier {tier.name}", "api_key_env", f"${tier.api_key_env} is not set")
            self._key = key
        self.client = openai.OpenAI(base_url=tier.base_url, api_key=self._key,
                                    max_retries=tier.max_retries, timeout=tier.timeout)

    def complete(self, request: Request) -> Completion:
        """One chat completion; failures become ProviderError with a failure mode."""
        params = self._params(request)
        started = time.perf_counter()
        try:
            if self.tier.stream:
                return self._stream(params, started)
            response = self.client.chat.completions.create(**params)
        except openai.OpenAIError as exc:
            raise_for(exc, self._key)
        latency = time.perf_counter() - started
        choice = response.choices[0] if response.choices else None
        content = (choice.message.content or "") if choice else ""
        return _completion(content, response.model, response.usage,
                           (choice.finish_reason or "") if choice else "", latency, None)

    def _params(self, request: Request) -> dict[str, Any]:
        tier = self.tier
        params: dict[str, Any] = {"model": tier.model, "messages": list(request.messages), "seed": request.seed,
                                  tier.max_tokens_param: tier.max_output_tokens}
        if tier.temperature is not None:
            params["temperature"] = tier.temperature
        if tier.stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        return params

    def _stream(self, params: dict[str, Any], started: float) -> Completion:
        parts: list[str] = []
        ttft = None
        model, usage, finish = "", None, ""
        for chunk in self.client.chat.completions.create(**params):
            model = chunk.model or model
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    if ttft is None:
                        ttft = time.perf_counter() - started
                    parts.append(choice.delta.content)
                finish = choice.finish_reason or finish
        return _completion("".join(parts), model, usage, finish, time.perf_counter() - started, ttft)


def _completion(content: str, model: str, usage: Any, finish: str, latency: float, ttft: float | None) -> Completion:
    prompt = completion = reasoning = 0
    billed = None
    if usage is not None:
        prompt = usage.prompt_tokens or 0
        completion = usage.completion_tokens or 0
        details = getattr(usage, "completion_tokens_details", None)
        reasoning = (getattr(details, "reasoning_tokens", 0) or 0) if details else 0
        # Some gateways (OpenRouter, LiteLLM) report what they billed; keep it beside our pricing.
        extra = getattr(usage, "model_extra", None) or {}
        if isinstance(extra.get("cost"), (int, float)):
            billed = float(extra["cost"])
    return Completion(content=content, model=model or "", prompt_tokens=prompt, completion_tokens=completion,
                      reasoning_tokens=reasoning, finish_reason=finish, latency=latency, ttft=ttft,
                      billed_cost=billed)
