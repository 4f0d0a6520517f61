"""Providers against a real chat-completions server on 127.0.0.1, and the offline providers."""

from __future__ import annotations

import json
import time

import pytest

from harness.config import ProviderKind, Tier
from harness.errors import ConfigError, ProviderError
from harness.providers import OracleProvider, ReplayProvider, Request, make_provider
from taskset.record import Task
from test_harness_server import Reply, ScriptedServer

TASK = Task(instance_id="o__r-000000000001", repo="o/r", repo_url="/nowhere", base_commit="a" * 40,
            fix_commit="b" * 40, created_at="2024-01-01T00:00:00+00:00", patch="diff --git a/x.py b/x.py\n",
            test_patch="", problem_statement="p", FAIL_TO_PASS=("t::a",), PASS_TO_PASS=())


def tier(server: ScriptedServer, **kw) -> Tier:
    values = dict(name="t", provider=ProviderKind.OPENAI, model="m", base_url=server.url, max_retries=2, timeout=5.0)
    values.update(kw)
    return Tier(**values)


def ask(t: Tier, attempt: int = 1):
    return make_provider(t).complete(Request(TASK, t, 42, attempt, ({"role": "user", "content": "fix it"},)))


def test_usage_and_answered_model_come_from_the_api():
    """Tokens (with reasoning tokens) and the answering model are the API's own figures."""
    script = {"m": [Reply(content="ok", model="m-fallback", prompt_tokens=321, completion_tokens=54,
                          reasoning_tokens=20, cost=0.0123)]}
    with ScriptedServer(script) as server:
        done = ask(tier(server))
    assert (done.model, done.prompt_tokens, done.completion_tokens, done.reasoning_tokens) == ("m-fallback", 321, 54, 20)
    assert done.billed_cost == pytest.approx(0.0123)
    assert done.finish_reason == "stop" and done.latency > 0


def test_retry_after_is_honoured_on_429():
    """A 429 with Retry-After: 1 is retried by the client after about a second, then succeeds."""
    script = {"m": [Reply(status=429, retry_after="1"), Reply(content="ok")]}
    with ScriptedServer(script) as server:
        done = ask(tier(server))
        gap = server.times[1] - server.times[0]
    assert done.content == "ok"
    assert len(server.requests) == 2
    assert gap >= 0.9


def test_server_errors_are_retried_then_reported_as_api_error():
    """5xx answers are retried up to max_retries; when they persist the attempt is an api-error."""
    script = {"m": [Reply(status=500, retry_after="0.05")]}
    with ScriptedServer(script) as server:
        with pytest.raises(ProviderError) as caught:
            ask(tier(server, max_retries=2))
        assert len(server.requests) == 3
    assert caught.value.mode == "api-error"


def test_context_length_error_is_context_overflow():
    """A 400 saying the context length was exceeded is classified context-overflow, not api-error."""
    script = {"m": [Reply(status=400, error="This model's maximum context length is 8192 tokens")]}
    with ScriptedServer(script) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server))
    assert caught.value.mode == "context-overflow"


def test_slow_server_is_a_timeout():
    """A request that outlives the tier's timeout ends as timeout."""
    script = {"m": [Reply(content="late", delay=1.5)]}
    with ScriptedServer(script) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server, timeout=0.3, max_retries=0))
    assert caught.value.mode == "timeout"


def test_streaming_measures_time_to_first_token():
    """A streaming tier reassembles the answer, reads usage from the last chunk and times the first token."""
    script = {"m": [Reply(content="a b c", model="m-s", completion_tokens=3, reasoning_tokens=1)]}
    with ScriptedServer(script) as server:
        done = ask(tier(server, stream=True))
    assert done.content == "a b c" and done.model == "m-s"
    assert done.completion_tokens == 3 and done.reasoning_tokens == 1
    assert done.ttft is not None and done.ttft <= done.latency


def test_missing_api_key_fails_before_any_call(monkeypatch):
    """A tier whose key variable is unset is a ConfigError naming the variable."""
    with ScriptedServer({"m": [Reply(content="x")]}) as server:
        with pytest.raises(ConfigError, match="LOOPCTL_TEST_API_KEY"):
            make_provider(tier(server, api_key_env="LOOPCTL_TEST_API_KEY"))
        assert server.requests == []


def test_api_key_is_sent_but_never_echoed_in_errors(monkeypatch):
    """The key goes in the Authorization header; an error quoting it is scrubbed."""
    secret = "sk-planted-0123456789"
    monkeypatch.setenv("LOOPCTL_TEST_API_KEY", secret)
    script = {"m": [Reply(status=401, error=f"Incorrect API key provided: {secret}")]}
    with ScriptedServer(script) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server, api_key_env="LOOPCTL_TEST_API_KEY"))
    assert server.headers[0]["authorization"] == f"Bearer {secret}"
    assert secret not in str(caught.value)


def test_oracle_answers_with_the_gold_patch():
    """The oracle's answer is the task's gold patch in a diff fence."""
    done = OracleProvider().complete(Request(TASK, Tier(name="oracle"), 1, 1, ()))
    assert TASK.patch in done.content and done.content.startswith("```diff")


def test_replay_answers_by_task_tier_and_attempt(tmp_path):
    """Replay finds the line for (task, tier, attempt); a line without seed serves every seed."""
    path = tmp_path / "answers.jsonl"
    rows = [{"task": TASK.instance_id, "tier": "t", "attempt": 1, "content": "one", "usage": {"prompt_tokens": 5}},
            {"task": TASK.instance_id, "tier": "t", "attempt": 2, "seed": 42, "content": "two"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    provider = ReplayProvider(path)
    t = Tier(name="t", provider=ProviderKind.REPLAY, replay_file=str(path))
    assert provider.complete(Request(TASK, t, 42, 1, ())).prompt_tokens == 5
    assert provider.complete(Request(TASK, t, 42, 2, ())).content == "two"
    with pytest.raises(ProviderError):
        provider.complete(Request(TASK, t, 7, 2, ()))
