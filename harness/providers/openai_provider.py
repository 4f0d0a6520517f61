"""The chat-completions provider: OpenAI itself, Ollama, vLLM, llama.cpp's server.

The ``openai`` client shapes requests and parses answers; this module owns the rest, because
the client's own retry loop cannot be bounded by a wall-clock deadline nor report how long a
failed call waited:

- ``timeout`` bounds the whole call (retries, streamed or not) through a ``calls.Watch``;
- 408/409/429/5xx and connection errors are retried up to ``max_retries`` times, honouring
  ``Retry-After``/``retry-after-ms``, while time is left;
- a failed call raises ProviderError with its mode and the seconds it took;
- a streamed answer that starts repeating itself is cut and returned as ``runaway``.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import time
from typing import Any

import openai

from harness.config import Tier
from harness.errors import Cancelled, ConfigError, ProviderError, ServerCheckFailed
from harness.modes import FailureMode, classify_error
from harness.providers import calls as calls_mod
from harness.providers.calls import Calls, Watch
from harness.providers.completion import Completion, Request
from harness.providers.runaway import RepetitionDetector

# Local servers ignore the key, but the client insists on one.
_NO_KEY = "no-key-needed"
RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
CHECK_TIMEOUT = 15.0
"""Seconds the server check before a run waits for each tier's model list."""


class OpenAIProvider:
    """Sends a tier's prompts to an OpenAI-compatible endpoint."""

    def __init__(self, tier: Tier, calls: Calls | None = None):
        self.tier = tier
        self.calls = calls or Calls()
        self._key = _NO_KEY
        if tier.api_key_env:
            key = os.environ.get(tier.api_key_env, "")
            if not key:
                raise ConfigError(f"tier {tier.name}", "api_key_env", f"${tier.api_key_env} is not set")
            self._key = key
        # no keep-alive: every request opens its own socket, which the call's watch can cut
        limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=64, max_keepalive_connections=0)
        http = openai.DefaultHttpxClient(limits=limits, event_hooks={"request": [calls_mod.on_request]})
        self.client = openai.OpenAI(base_url=tier.base_url, api_key=self._key, max_retries=0,
                                    timeout=tier.timeout, http_client=http)

    def __reduce__(self):
        """Pickled as its tier: rebuilt where it lands (a Ray worker) with its own client and calls,
        the key read from that machine's environment, never carried in the pickle."""
        return (OpenAIProvider, (self.tier,))

    def complete(self, request: Request) -> Completion:
        """One chat completion within the tier's timeout; failures raise ProviderError."""
        params = self._params(request)
        with self.calls.watch(self.tier.timeout) as watch:
            retries = 0
            while True:
                status, wait, retry = None, _backoff(retries), True
                try:
                    return self._once(params, watch, retries)
                except openai.APIStatusError as exc:
                    failure: Exception = exc
                    status = exc.status_code
                    retry = status in RETRY_STATUSES and exc.response.headers.get("x-should-retry") != "false"
                    wait = _retry_after(exc.response.headers) or wait
                except openai.APIConnectionError as exc:  # includes APITimeoutError
                    failure = exc
                if watch.cancelled:
                    raise Cancelled(f"tier {self.tier.name}: call cut by the stop")
                if watch.over or isinstance(failure, openai.APITimeoutError):
                    raise self._timeout(watch)
                if not retry or retries >= self.tier.max_retries or wait >= watch.remaining:
                    raise self._error(failure, status, watch)
                watch.sleep(wait)
                if watch.cancelled:
                    raise Cancelled(f"tier {self.tier.name}: call cut by the stop")
                retries += 1

    def check(self, timeout: float = CHECK_TIMEOUT) -> list[str]:
        """Ask the server for its models; raise ServerCheckFailed unless it answers and lists ours."""
        tier = self.tier
        try:
            page = self.client.models.list(timeout=min(timeout, tier.timeout))
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ServerCheckFailed(tier.name, tier.base_url,
                                    f"refused the API key from ${tier.api_key_env or '(none)'} "
                                    f"({exc.status_code})") from None
        except openai.NotFoundError:
            raise ServerCheckFailed(tier.name, tier.base_url, "has no /models endpoint: is base_url the API root "
                                    "(ending in /v1)?") from None
        except openai.APIStatusError as exc:
            raise ServerCheckFailed(tier.name, tier.base_url, f"answered {exc.status_code}: "
                                    f"{_scrub(_short(exc), self._key)}") from None
        except openai.APIConnectionError as exc:
            why = "timed out" if isinstance(exc, openai.APITimeoutError) else _cause(exc)
            raise ServerCheckFailed(tier.name, tier.base_url,
                                    f"does not answer ({why}): is the server running?") from None
        ids = [str(model.id) for model in page.data]
        if not model_listed(tier.model, ids):
            shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "") if ids else "none"
            raise ServerCheckFailed(tier.name, tier.base_url, f"does not list model {tier.model!r} (it lists: {shown})")
        return ids

    def _params(self, request: Request) -> dict[str, Any]:
        tier = self.tier
        params: dict[str, Any] = {"model": tier.model, "messages": list(request.messages), "seed": request.seed,
                                  tier.max_tokens_param: request.budget}
        if tier.temperature is not None:
            params["temperature"] = tier.temperature
        if request.tools:
            params["tools"] = list(request.tools)
        if tier.stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        return params

    def _once(self, params: dict[str, Any], watch: Watch, retries: int) -> Completion:
        if self.tier.stream:
            return self._stream(params, watch, retries)
        response = self.client.chat.completions.create(**params, timeout=max(watch.remaining, 0.001))
        if watch.over:
            raise self._timeout(watch)
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
        content = (message.content or "") if message else ""
        extra = getattr(response, "model_extra", None) or {}
        completion = _completion(content, _reasoning(message), response.model, response.usage,
                                 (choice.finish_reason or "") if choice else "", _elapsed(watch), None, retries,
                                 _server_rate(extra.get("timings")), 0)
        calls = tuple({"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                      for c in (getattr(message, "tool_calls", None) or []) if getattr(c, "function", None))
        return _replace(completion, tool_calls=calls) if calls else completion

    def _stream(self, params: dict[str, Any], watch: Watch, retries: int) -> Completion:
        stream = self.client.chat.completions.create(**params, timeout=max(watch.remaining, 0.001))
        parts: list[str] = []
        thoughts: list[str] = []
        detector = RepetitionDetector()
        ttft = rate = None
        model, usage, finish, pieces = "", None, "", 0
        try:
            for chunk in stream:
                model = chunk.model or model
                usage = chunk.usage or usage
                rate = _server_rate((getattr(chunk, "model_extra", None) or {}).get("timings")) or rate
                for choice in chunk.choices:
                    text, thought = (choice.delta.content or "") if choice.delta else "", _reasoning(choice.delta)
                    if text or thought:
                        pieces += 1
                        ttft = ttft if ttft is not None else _elapsed(watch)
                        parts.append(text)
                        thoughts.append(thought)
                        detector.feed(text + thought)
                    finish = choice.finish_reason or finish
                if detector.runaway:
                    finish = "runaway"
                    break
                if watch.over:
                    break
        except openai.APIError as exc:  # an error event inside the stream, or the client's wrapped read error
            if watch.cancelled:
                raise Cancelled(f"tier {self.tier.name}: call cut by the stop") from None
            if watch.over:  # the deadline cut a chunked body: "APIConnectionError: Connection error."
                raise self._timeout(watch, pieces) from None
            raise self._error(exc, None, watch, pieces) from None
        except Exception as exc:  # the socket was cut (deadline, stop) or the server dropped it
            if watch.cancelled:
                raise Cancelled(f"tier {self.tier.name}: call cut by the stop") from None
            if watch.over:
                raise self._timeout(watch, pieces) from None
            raise ProviderError(FailureMode.API_ERROR, f"the stream broke: {type(exc).__name__}: {exc}"[:500],
                                latency=_elapsed(watch), completion_tokens=pieces) from None
        finally:
            stream.close()
        if watch.cancelled:
            raise Cancelled(f"tier {self.tier.name}: call cut by the stop")
        if finish != "runaway" and watch.over:
            raise self._timeout(watch, pieces)
        if not finish and usage is None:
            raise ProviderError(FailureMode.API_ERROR, "the stream ended without a finish reason",
                                latency=_elapsed(watch), completion_tokens=pieces)
        latency = _elapsed(watch)
        completion = _completion("".join(parts), "".join(thoughts), model, usage, finish, latency, ttft, retries,
                                 rate, pieces)
        if rate is None and ttft is not None and latency > ttft and completion.completion_tokens:
            completion = _replace(completion, tokens_per_second=completion.completion_tokens / (latency - ttft))
        return completion

    def _timeout(self, watch: Watch, pieces: int = 0) -> ProviderError:
        return ProviderError(FailureMode.TIMEOUT,
                             f"no complete answer within the tier's timeout ({self.tier.timeout:g}s)",
                             latency=_elapsed(watch), completion_tokens=pieces)

    def _error(self, exc: Exception, status: int | None, watch: Watch, pieces: int = 0) -> ProviderError:
        text = _scrub(f"{type(exc).__name__}: {exc}", self._key)
        mode = classify_error(text)
        if mode is FailureMode.TIMEOUT and status is None and not isinstance(exc, openai.APITimeoutError):
            mode = FailureMode.API_ERROR  # a connection error mentioning a timeout is still a connection error
        limit, requested = _context_figures(exc) if mode is FailureMode.CONTEXT_OVERFLOW else (None, None)
        return ProviderError(mode, text[:500], latency=_elapsed(watch), status=status, limit=limit,
                             requested=requested, completion_tokens=pieces)


def model_listed(model: str, ids: list[str]) -> bool:
    """True when the server lists ``model`` (Ollama's implicit ``:latest`` tag counts)."""
    return model in ids or (":" not in model and f"{model}:latest" in ids)


def _completion(content: str, reasoning: str, model: str | None, usage: Any, finish: str, latency: float,
                ttft: float | None, retries: int, rate: float | None, pieces: int) -> Completion:
    values: dict[str, Any] = {}
    if usage is not None:
        prompt_details = getattr(usage, "prompt_tokens_details", None)
        completion_details = getattr(usage, "completion_tokens_details", None)
        extra = getattr(usage, "model_extra", None) or {}
        values = dict(usage_reported=True, prompt_tokens=usage.prompt_tokens or 0,
                      completion_tokens=usage.completion_tokens or 0,
                      reasoning_tokens=((getattr(completion_details, "reasoning_tokens", 0) or 0)
                                        if completion_details else 0),
                      cached_tokens=(getattr(prompt_details, "cached_tokens", 0) or 0) if prompt_details else 0,
                      # gateways (OpenRouter, LiteLLM) report what they billed; kept beside our pricing
                      billed_cost=float(extra["cost"]) if isinstance(extra.get("cost"), (int, float)) else None)
    else:
        values = dict(completion_tokens=pieces)  # streamed pieces: the only count there is
    return Completion(content=content, reasoning=reasoning, model=model or "", finish_reason=finish, latency=latency,
                      ttft=ttft, retries=retries, tokens_per_second=rate, **values)


def _replace(completion: Completion, **changes: Any) -> Completion:
    import dataclasses

    return dataclasses.replace(completion, **changes)


def _reasoning(part: Any) -> str:
    """Reasoning text a server sends beside the answer: vLLM/llama.cpp/DeepSeek ``reasoning_content``,
    Ollama/OpenRouter/newer vLLM ``reasoning``."""
    if part is None:
        return ""
    extra = getattr(part, "model_extra", None) or {}
    for name in ("reasoning_content", "reasoning"):
        value = getattr(part, name, None) or extra.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _server_rate(timings: Any) -> float | None:
    """llama.cpp's own decode rate (``timings.predicted_per_second``), when it sends one."""
    if isinstance(timings, dict) and isinstance(timings.get("predicted_per_second"), (int, float)):
        return float(timings["predicted_per_second"])
    return None


def _elapsed(watch: Watch) -> float:
    return time.monotonic() - watch.started


def _backoff(retries: int) -> float:
    """The client's own schedule: 0.5 s doubling to 8 s, with up to 25% jitter."""
    return min(0.5 * 2 ** retries, 8.0) * (1 - 0.25 * random.random())


def _retry_after(headers: Any) -> float | None:
    """Seconds a 429/503 asks us to wait (``retry-after-ms``, ``retry-after`` seconds or HTTP date)."""
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


# "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (5000 in the
# messages, 4000 in the completion)" (vLLM, OpenAI); "request (5000 tokens) exceeds the available
# context size (4096 tokens)" (llama.cpp, which also sends n_prompt_tokens and n_ctx).
_LIMIT = re.compile(r"maximum context length is (\d+)|context size \((\d+) tokens\)|context length \((\d+) tokens\)")
_ASKED = (re.compile(r"(\d+) in the messages"),
          re.compile(r"(?:requested|resulted in) (\d+) tokens|request \((\d+) tokens\)|input \((\d+) tokens\)"))


def _context_figures(exc: Exception) -> tuple[int | None, int | None]:
    """(context limit, prompt tokens) as the server stated them, where it did."""
    body = getattr(exc, "body", None)
    detail = body.get("error", body) if isinstance(body, dict) else None
    if (isinstance(detail, dict) and isinstance(detail.get("n_ctx"), int)
            and isinstance(detail.get("n_prompt_tokens"), int)):
        return detail["n_ctx"], detail["n_prompt_tokens"]
    text = str(exc)
    asked = next((match for match in (pattern.search(text) for pattern in _ASKED) if match), None)
    return _number(_LIMIT.search(text)), _number(asked)


def _number(match: re.Match[str] | None) -> int | None:
    return int(next(group for group in match.groups() if group)) if match else None


def _short(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    detail = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])[:200]
    if isinstance(detail, str):
        return detail[:200]
    return str(exc)[:200]


def _cause(exc: Exception) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause or exc)
    if "refused" in text.lower():
        return "connection refused"
    return text[:120] or type(exc).__name__


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and secret != _NO_KEY else text
