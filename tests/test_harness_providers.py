"""Providers against a real chat-completions server on 127.0.0.1, and the offline providers."""

from __future__ import annotations

import json
import time

import pytest

from harness.config import ProviderKind, Tier
from harness.errors import Cancelled, ConfigError, ProviderError, ServerCheckFailed
from harness.modes import FailureMode
from harness.providers.calls import Calls
from harness.providers.factory import OracleProvider, ReplayProvider, Request, make_provider
from taskset.record import Task
from test_harness_server import Reply, ScriptedServer, llamacpp_context_error, ollama_error, openai_error, vllm_error

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
    assert (done.model, done.prompt_tokens, done.completion_tokens, done.reasoning_tokens) == (
        "m-fallback", 321, 54, 20)
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
    assert caught.value.mode is FailureMode.API_ERROR


def test_context_length_error_is_context_overflow():
    """A 400 saying the context length was exceeded is classified context-overflow, not api-error."""
    script = {"m": [Reply(status=400, error="This model's maximum context length is 8192 tokens")]}
    with ScriptedServer(script) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server))
    assert caught.value.mode is FailureMode.CONTEXT_OVERFLOW


def test_slow_server_is_a_timeout():
    """A request that outlives the tier's timeout ends as timeout."""
    script = {"m": [Reply(content="late", delay=1.5)]}
    with ScriptedServer(script) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server, timeout=0.3, max_retries=0))
    assert caught.value.mode is FailureMode.TIMEOUT


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


@pytest.mark.parametrize("reply,limit,asked", [
    (llamacpp_context_error(), None, None),
    (llamacpp_context_error(n_prompt=5000, n_ctx=4096), 4096, 5000),
    (vllm_error(400, "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens "
                     "(5000 in the messages, 4000 in the completion). Please reduce the length of the messages or "
                     "completion."), 8192, 5000),
    (openai_error(400, "This model's maximum context length is 8192 tokens. However, your messages resulted in "
                       "9000 tokens. Please reduce the length of the messages.", "context_length_exceeded"),
     8192, 9000),
])
def test_every_servers_context_error_is_context_overflow_with_its_figures(reply, limit, asked):
    """Regression: llama.cpp's wording was api-error. Each server's context error is context-overflow,
    with the window and prompt size it states (what the trim retry sizes the prompt from)."""
    with ScriptedServer({"m": [reply]}) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server, max_retries=0))
    assert caught.value.mode is FailureMode.CONTEXT_OVERFLOW
    assert (caught.value.limit, caught.value.requested) == (limit, asked)


@pytest.mark.parametrize("stream", [False, True])
def test_the_timeout_bounds_a_call_that_keeps_sending(stream):
    """Regression: a streamed answer that never ends ran as long as the server liked. A body trickled a
    byte at a time, or a stream of endless pieces, is cut at the tier's timeout (a timeout failure)."""
    # the plain body trickles for 250 x 0.05 = 12.5 s, the stream forever: ending well before 12.5 s
    # proves the cut; the bound leaves a loaded machine room (a cut call ends near 0.5 s)
    reply = Reply(content="x", forever="." * 3, trickle=0.02) if stream else Reply(content="late " * 50, trickle=0.05)
    with ScriptedServer({"m": [reply]}) as server:
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            ask(tier(server, timeout=0.5, max_retries=2, stream=stream))
        took = time.monotonic() - started
    assert caught.value.mode is FailureMode.TIMEOUT
    assert 0.5 <= took < 10 and caught.value.latency >= 0.5
    assert len(server.requests) == 1  # a timeout spends the budget: no retry after it


def test_a_failed_call_reports_how_long_it_waited():
    """Regression: a failed call recorded latency 0, booking its wait as harness time."""
    script = {"m": [Reply(status=503, delay=0.3, body={"error": {"message": "The engine is currently overloaded",
                                                              "type": "server_error"}})]}
    with ScriptedServer(script) as server, pytest.raises(ProviderError) as caught:
        ask(tier(server, max_retries=0))
    assert caught.value.mode is FailureMode.API_ERROR and caught.value.status == 503
    assert caught.value.latency >= 0.3


def test_a_server_without_usage_is_marked_so_and_cached_tokens_are_read():
    """No usage block: usage_reported False (its cost is unknown, never $0). With one, cached tokens are read."""
    with ScriptedServer({"m": [Reply(content="a", usage=False), Reply(content="b", cached_tokens=80)]}) as server:
        bare, cached = ask(tier(server)), ask(tier(server))
    assert not bare.usage_reported and bare.prompt_tokens == 0
    assert cached.usage_reported and cached.cached_tokens == 80


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_sent_beside_the_answer_is_kept_apart(field, stream):
    """vLLM/llama.cpp send reasoning_content, Ollama reasoning; both are kept, never mixed into the answer."""
    script = {"m": [Reply(content="the answer", reasoning="first I think", reasoning_field=field)]}
    with ScriptedServer(script) as server:
        done = ask(tier(server, stream=stream))
    assert (done.content, done.reasoning) == ("the answer", "first I think")


def test_llamacpp_timings_give_the_decode_rate():
    """llama.cpp's own timings.predicted_per_second is the tokens-per-second figure when it sends one."""
    timings = {"prompt_n": 100, "prompt_ms": 50.0, "predicted_n": 50, "predicted_ms": 1000.0,
               "predicted_per_second": 50.0}
    with ScriptedServer({"m": [Reply(content="ok", timings=timings)]}) as server:
        assert ask(tier(server)).tokens_per_second == 50.0


def test_streamed_decode_rate_is_measured_from_the_first_token():
    """Streamed: tokens per second over the time after the first token, not over the whole latency."""
    with ScriptedServer({"m": [Reply(content="a b c d e", completion_tokens=5, trickle=0.1)]}) as server:
        done = ask(tier(server, stream=True))
    assert done.ttft is not None and done.tokens_per_second == pytest.approx(5 / (done.latency - done.ttft))


def test_a_runaway_stream_is_cut_and_says_so():
    """A stream repeating one line forever is stopped and returned as runaway, with the pieces counted."""
    with ScriptedServer({"m": [Reply(content="Let me fix it.", forever="I will now fix the bug.\n")]}) as server:
        done = ask(tier(server, stream=True, timeout=60))
        assert server.disconnected.wait(10)
    assert done.finish_reason == "runaway" and done.completion_tokens > 60 and not done.usage_reported


def test_a_stop_cuts_a_call_in_flight():
    """Cancelling the run's calls ends a call waiting on a silent server at once (Cancelled, not a timeout)."""
    calls = Calls()
    with ScriptedServer({"m": [Reply(hang=True)]}) as server:
        provider = make_provider(tier(server, timeout=60), calls)
        import threading

        outcome = {}

        def call():
            try:
                provider.complete(Request(TASK, tier(server), 1, 1, ({"role": "user", "content": "q"},)))
            except Exception as exc:  # noqa: BLE001 - the test inspects it
                outcome["error"] = exc

        worker = threading.Thread(target=call)
        worker.start()
        assert server.hung.wait(10)
        calls.cancel_all()
        worker.join(10)
    assert not worker.is_alive() and isinstance(outcome["error"], Cancelled)


def test_server_check_names_a_dead_server_a_missing_model_and_a_refused_key(monkeypatch):
    """Before a run: one line each for no server, a model the server lacks, a wrong base URL, a refused key."""
    with ScriptedServer({"other": [Reply(content="x")]}) as server:
        with pytest.raises(ServerCheckFailed, match="does not list model 'm' .*other"):
            make_provider(tier(server)).check()
        good = make_provider(tier(server, model="other"))
        assert good.check() == ["other"]
        with pytest.raises(ServerCheckFailed, match="no /models endpoint"):
            make_provider(tier(server, base_url=server.url.rsplit("/v1", 1)[0] + "/nope")).check()
    with pytest.raises(ServerCheckFailed, match="does not answer.*is the server running"):
        make_provider(tier(server)).check()  # the server is gone
    monkeypatch.setenv("LOOPCTL_TEST_API_KEY", "sk-wrong")
    refused = openai_error(401, "Incorrect API key provided: sk-wrong.", "invalid_api_key")
    with ScriptedServer({"m": [Reply(content="x")]}, models_reply=refused) as server:
        with pytest.raises(ServerCheckFailed, match="refused the API key from \\$LOOPCTL_TEST_API_KEY") as caught:
            make_provider(tier(server, api_key_env="LOOPCTL_TEST_API_KEY")).check()
    assert "sk-wrong" not in str(caught.value)


def test_ollama_lists_tagged_models():
    """Ollama lists qwen2.5-coder:latest; a tier asking for qwen2.5-coder passes the check."""
    with ScriptedServer({"m": [Reply(content="x")]}, models=["qwen2.5-coder:latest"]) as server:
        assert make_provider(tier(server, model="qwen2.5-coder")).check()


def test_ollama_missing_model_is_an_api_error():
    """Ollama's 404 for a model it has not pulled is an api-error (infrastructure), not retried."""
    with ScriptedServer({"m": [ollama_error(404, 'model "m" not found, try pulling it first')]}) as server:
        with pytest.raises(ProviderError) as caught:
            ask(tier(server))
    assert caught.value.mode is FailureMode.API_ERROR and len(server.requests) == 1
