"""The escalation loop on a tiny real task, judged by the real taskset.evaluate."""

from __future__ import annotations

import json

import pytest

from harness import load_tiers, run_tier
from harness.config import ContextSetting, EditFormat, ProviderKind, Tier
from harness.records.attempts import read_attempts
from harness.run import RunSpec, run
from test_harness_server import BAD_ANSWER, GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task


@pytest.fixture
def tiny(make_repo, python_project_env):
    """The tiny task, its environment warm in the session cache."""
    return build_tiny_task(make_repo("tiny"))


def ladder(server: ScriptedServer) -> tuple[Tier, ...]:
    """local -> o3 -> gpt-5.5, all pointed at the scripted server, priced like the defaults."""
    common = dict(provider=ProviderKind.OPENAI, base_url=server.url, max_retries=0, timeout=10.0)
    return (
        Tier(name="local", model="local-m", attempts=1, price_input=0.0, price_output=0.0, **common),
        Tier(name="o3", model="o3", attempts=2, feedback=True, price_input=2.0, price_output=8.0, **common),
        Tier(name="gpt-5.5", model="gpt-5.5", attempts=1, price_input=5.0, price_output=20.0, **common),
    )


def test_oracle_tier_resolves_the_task(tiny, tmp_path):
    """The oracle submits the gold patch, which the evaluator must accept: the harness proves itself."""
    [oracle] = load_tiers(["oracle"])
    outcome = run_tier(tiny, oracle, 42, workdir=str(tmp_path / "run"))
    assert outcome.resolved and outcome.resolved_at == 1
    [record] = read_attempts(tmp_path / "run" / "attempts.jsonl")
    assert record.failure_mode.value == "resolved" and (record.f2p_passed, record.p2p_passed) == (1, 1)


def test_scripted_three_tier_run_escalates_as_scripted(tiny, tmp_path):
    """local fails, o3 fails then succeeds with the first attempt's test output fed back; gpt-5.5 never runs."""
    script = {
        "local-m": [Reply(content="I think the bug is in add.", prompt_tokens=900, completion_tokens=30)],
        "o3": [Reply(content=BAD_ANSWER, model="o3-2025-04-16", prompt_tokens=1000, completion_tokens=500,
                     reasoning_tokens=400),
               Reply(content=GOOD_ANSWER, model="o3-2025-04-16", prompt_tokens=1500, completion_tokens=250,
                     reasoning_tokens=100)],
        "gpt-5.5": [Reply(content=GOOD_ANSWER)],
    }
    out = tmp_path / "runs" / "scripted"
    with ScriptedServer(script) as server:
        spec = RunSpec(taskset=build_taskset(tmp_path / "ts", [tiny]), out=out, tiers=ladder(server),
                       strategies=("modeE",))
        result = run(spec)
        asked = [body["model"] for body in server.requests]
        second_o3 = server.by_model["o3"][1]["messages"][1]["content"]
    assert asked == ["local-m", "o3", "o3"]
    assert "assert 2 == 3" in second_o3 and "Your previous attempt" in second_o3
    records = read_attempts(out / "attempts.jsonl")
    modes = [(r.tier, r.attempt, r.failure_mode.value) for r in records]
    assert modes == [("local", 1, "format-violation"), ("o3", 1, "tests-failed"), ("o3", 2, "resolved")]
    o3 = records[1]
    assert (o3.model_requested, o3.model_answered) == ("o3", "o3-2025-04-16")
    assert (o3.prompt_tokens, o3.completion_tokens, o3.reasoning_tokens) == (1000, 500, 400)
    assert o3.f2p_passed == 0 and o3.p2p_passed == 1 and "assert 2 == 3" in o3.feedback
    assert result.new_attempts == 3


def test_without_feedback_the_retry_prompt_is_unchanged(tiny, tmp_path):
    """A tier with feedback off gets no earlier output: its second prompt equals the first."""
    script = {"m": [Reply(content=BAD_ANSWER), Reply(content=BAD_ANSWER)]}
    with ScriptedServer(script) as server:
        tier = Tier(name="plain", model="m", base_url=server.url, attempts=2, feedback=False, max_retries=0)
        outcome = run_tier(tiny, tier, 1)
        first, second = (body["messages"] for body in server.requests)
    assert not outcome.resolved and len(outcome.records) == 2
    assert first == second


def test_truncated_answer_is_classified_truncated(tiny, tmp_path):
    """An answer cut by the length limit that does not parse is truncated, not format-violation."""
    script = {"m": [Reply(content="calc.py\n<<<<<<< SEARCH\n    return a - b\n====", finish_reason="length")]}
    with ScriptedServer(script) as server:
        tier = Tier(name="t", model="m", base_url=server.url, max_retries=0)
        outcome = run_tier(tiny, tier, 1)
    assert outcome.records[0].failure_mode.value == "truncated"


def test_edits_to_tests_are_refused_by_the_evaluator(tiny):
    """A candidate that rewrites the task's test file ends as edits-touch-tests, never resolved."""
    answer = json.dumps({"files": {"tests/test_calc.py": "def test_add():\n    pass\n"}})
    with ScriptedServer({"m": [Reply(content=answer)]}) as server:
        tier = Tier(name="t", model="m", base_url=server.url, edit_format=EditFormat.FILES, max_retries=0)
        outcome = run_tier(tiny, tier, 1)
    assert outcome.records[0].failure_mode.value == "edits-touch-tests"


def test_prompt_too_big_for_the_window_is_trimmed_then_refused(tiny):
    """Files are dropped to fit the window; a prompt that cannot fit at all is context-overflow, never sent."""
    with ScriptedServer({"m": [Reply(content=GOOD_ANSWER)]}) as server:
        tier = Tier(name="t", model="m", base_url=server.url, context_window=300, max_output_tokens=100, max_retries=0,
                    context=ContextSetting.ORACLE)  # the gold file is shown, then trimmed
        outcome = run_tier(tiny, tier, 1)
        assert server.requests == []
    record = outcome.records[0]
    assert record.failure_mode.value == "context-overflow" and record.files_trimmed == 1
