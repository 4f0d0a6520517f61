"""Regression tests for the harness against a real chat-completions server on 127.0.0.1.

Each test names the defect it guards (issue 10's list). The server is real (HTTP over a socket,
scripted answers in the shapes OpenAI, vLLM, Ollama and llama.cpp send), the evaluator is the
real taskset.evaluate on a real task: nothing between the harness and the server is mocked.
"""

from __future__ import annotations

import json

import pytest

from harness.config import EditFormat, ProviderKind, Tier
from harness.loop.prompts import build_prompt, read_sources
from harness.modes import FailureMode
from harness.records.attempts import read_answers, read_attempts
from harness.results.summary import summarize
from harness.run import RunSpec, run
from test_harness_server import (
    BAD_ANSWER,
    GOOD_ANSWER,
    TWO_FILE_DIFF,
    Reply,
    ScriptedServer,
    build_taskset,
    build_tiny_task,
    build_two_file_task,
)


@pytest.fixture
def tiny(make_repo, python_project_env):
    """The tiny task (add() subtracts), its environment warm in the session cache."""
    return build_tiny_task(make_repo("tiny"))


@pytest.fixture
def two(make_repo, python_project_env):
    """A task whose fix touches two files."""
    return build_two_file_task(make_repo("two"))


def tier(server: ScriptedServer, name: str = "local", model: str = "m", **kw) -> Tier:
    """A tier at the scripted server: free unless priced, no retries unless asked."""
    values = dict(name=name, provider=ProviderKind.OPENAI, model=model, base_url=server.url, max_retries=0,
                  timeout=20.0, price_input=0.0, price_output=0.0)
    values.update(kw)
    return Tier(**values)


def run_alone(tmp_path, task, *tiers: Tier, strategies=("always-local",), **spec):
    """Run ``tiers`` on one task; returns (records in file order, run directory)."""
    out = tmp_path / "run"
    ts = tmp_path / "ts"
    if not ts.exists():
        build_taskset(ts, [task])
    run(RunSpec(taskset=ts, out=out, tiers=tiers, strategies=strategies, **spec))
    return read_attempts(out / "attempts.jsonl"), out


def test_1_llamacpp_context_error_is_trimmed_and_retried_within_the_attempt(tiny, tmp_path):
    """Defect 1: llama.cpp's context error was an api-error and lost the attempt. It is context-overflow,
    and the attempt trims its prompt (the earlier attempt goes first) and asks once more, recording both."""
    chatter = "Let me explain my reasoning at length. " * 80
    # the window: the first prompt fits, the second (with the long earlier attempt) does not
    base = build_prompt(tiny, Tier(name="local", attempts=2, feedback=True), read_sources(tiny)).chars // 3
    script = {"m": [Reply(content=chatter + BAD_ANSWER), Reply(content=GOOD_ANSWER, n_ctx=2 * base)]}
    with ScriptedServer(script) as server:
        records, out = run_alone(tmp_path, tiny, tier(server, attempts=2, feedback=True))
        asked = [sum(len(m["content"]) for m in body["messages"]) for body in server.requests]
        budgets = [body["max_tokens"] if "max_tokens" in body else body["max_completion_tokens"]
                   for body in server.requests]
    assert [r.failure_mode for r in records] == [FailureMode.TESTS_FAILED, FailureMode.RESOLVED]
    second = records[1]
    assert len(second.trims) == 1 and "exceeds the available context size" in second.trims[0]
    assert second.history_trimmed == 1 and second.max_tokens < 4096 == budgets[1]
    assert len(asked) == 3 and asked[2] < asked[1]  # the refused request, then the trimmed one


def test_1_a_prompt_that_cannot_fit_is_context_overflow_after_one_trim(tiny, tmp_path):
    """The old llama.cpp wording (no figures) is context-overflow too; a prompt that cannot fit is tried once more
    at half the size at most, then recorded as context-overflow (a model limit, not infrastructure)."""
    with ScriptedServer({"m": [Reply(content=GOOD_ANSWER, n_ctx=50, old_wording=True)]}) as server:
        records, _ = run_alone(tmp_path, tiny, tier(server))
        assert len(server.requests) == 1
    [record] = records
    assert record.failure_mode is FailureMode.CONTEXT_OVERFLOW and len(record.trims) == 1
    assert not record.infrastructure


def test_2_two_file_diff_without_git_lines_resolves(two, tmp_path):
    """Defect 2: a diff touching two files without `diff --git` lines did not apply (the prompt's own example
    has that shape). It resolves."""
    with ScriptedServer({"m": [Reply(content=f"Here:\n```diff\n{TWO_FILE_DIFF}```\n")]}) as server:
        [record], _ = run_alone(tmp_path, two, tier(server, edit_format=EditFormat.DIFF))
    assert record.failure_mode is FailureMode.RESOLVED, record.message


def test_3_the_diff_after_think_is_the_answer(two, tmp_path):
    """Defect 3: a diff drafted inside <think> was taken instead of the answer after it. The answer after
    </think> is judged; the reasoning (inline and the server's own field) is kept in answers.jsonl."""
    wrong = TWO_FILE_DIFF.replace("half(a + b)", "half(b - a)")
    content = f"<think>\nFirst idea:\n```diff\n{wrong}```\nNo, that is wrong.\n</think>\n```diff\n{TWO_FILE_DIFF}```"
    script = {"m": [Reply(content=content, reasoning="server-side reasoning", reasoning_field="reasoning")]}
    with ScriptedServer(script) as server:
        [record], out = run_alone(tmp_path, two, tier(server, edit_format=EditFormat.DIFF))
    assert record.failure_mode is FailureMode.RESOLVED, record.message
    [answer] = read_answers(out / "answers.jsonl").values()
    assert answer.reasoning == "server-side reasoning" and "First idea" in answer.content
    assert "half(a + b)" in answer.patch and "b - a" not in answer.patch


def test_5_a_stream_that_never_ends_is_a_timeout_retried_on_the_next_run(tiny, tmp_path):
    """Defect 5: the timeout did not bound a streamed request. A stream that keeps going is cut at the tier's
    timeout; a timeout is infrastructure: not counted, shown apart, and retried by the next run."""
    endless = Reply(content="thinking", forever=" and more", trickle=0.01)
    with ScriptedServer({"m": [endless, Reply(content=GOOD_ANSWER)]}) as server:
        local = tier(server, stream=True, timeout=1.0)
        [record], out = run_alone(tmp_path, tiny, local)
        assert record.failure_mode is FailureMode.TIMEOUT and record.infrastructure and record.latency >= 1.0
        assert record.completion_tokens > 0 and not record.usage_reported  # the pieces it streamed, counted
        first = summarize(out)["strategies"]["always-local"]
        assert (first["runs"], first["incomplete_runs"], first["infra_runs"]) == (0, 1, 1)
        records, _ = run_alone(tmp_path, tiny, local)
    assert [r.failure_mode for r in records] == [FailureMode.TIMEOUT, FailureMode.RESOLVED]
    again = summarize(out)
    assert again["strategies"]["always-local"]["pass_rate"] == 1.0 and again["complete"]
    assert again["infrastructure"] == {**again["infrastructure"], "outstanding": 0, "events": 1}


def test_6_a_failed_call_books_its_wait_as_latency(tiny, tmp_path):
    """Defect 6: a failed call recorded latency 0 and its wait as harness overhead."""
    overloaded = Reply(status=503, delay=1.0, body={"error": {"message": "The engine is currently overloaded",
                                                             "type": "server_error"}})
    with ScriptedServer({"m": [overloaded]}) as server:
        [record], _ = run_alone(tmp_path, tiny, tier(server))
    assert record.failure_mode is FailureMode.API_ERROR and record.finish_reason == "http-503"
    assert record.latency >= 1.0 and record.overhead_seconds < 1.0


def test_7_no_usage_on_a_paid_tier_is_unknown_and_cached_tokens_have_their_price(tiny, tmp_path):
    """Defect 7: a paid tier whose server reports no usage was costed $0: it is unknown. Cached prompt tokens
    are priced at the tier's cached-input price."""
    script = {"silent": [Reply(content=GOOD_ANSWER, usage=False)],
              "cached": [Reply(content=GOOD_ANSWER, prompt_tokens=1_000_000, cached_tokens=500_000,
                               completion_tokens=0)]}
    with ScriptedServer(script) as server:
        silent = tier(server, "silent", "silent", price_input=2.0, price_output=8.0)
        cached = tier(server, "cached", "cached", price_input=2.0, price_output=8.0, price_cached_input=0.5)
        _, out = run_alone(tmp_path, tiny, silent, cached, strategies=("always-local", "always-frontier"))
    s = summarize(out)["strategies"]
    assert s["always-local"]["cost_per_task"] is None and s["always-local"]["pass_rate"] == 1.0
    assert s["always-frontier"]["cost_per_task"] == pytest.approx(0.5 * 2.0 + 0.5 * 0.5)


def test_8_billed_cost_is_shown_beside_the_estimate_per_strategy_and_tier(tiny, tmp_path):
    """Defect 8: usage.cost was recorded but shown nowhere, and its total did not compare with cost per task."""
    script = {"m": [Reply(content=BAD_ANSWER, cost=0.004)], "top": [Reply(content=GOOD_ANSWER, cost=0.02)]}
    with ScriptedServer(script) as server:
        local = tier(server, price_input=None, price_output=None)  # a gateway model with no price pinned
        top = tier(server, "top", "top", price_input=None, price_output=None)
        _, out = run_alone(tmp_path, tiny, local, top, strategies=("modeE",))
    from harness.report.render import write_report

    s = summarize(out)
    assert s["strategies"]["modeE"]["billed_per_task"] == pytest.approx(0.024)
    assert s["strategies"]["modeE"]["cost_per_task"] is None
    assert s["tiers"]["top"]["billed_per_task"] == pytest.approx(0.02)
    html, md = write_report(out)
    assert "$0.0240" in html.read_text() and "billed/task" in md.read_text()


def test_11_an_unfinished_run_is_shown_unfinished(tiny, tmp_path):
    """Defect 11: a --max-cost stop showed as complete (100% over the runs that finished). The runs left are
    counted in every table and the summary says the run is incomplete."""
    script = {"m": [Reply(content=BAD_ANSWER)], "top": [Reply(content=GOOD_ANSWER)]}
    with ScriptedServer(script) as server:
        top = tier(server, "top", "top", price_input=5.0, price_output=5.0)
        _, out = run_alone(tmp_path, tiny, tier(server), top, strategies=("modeE", "always-frontier"), max_cost=0.0)
        assert [b["model"] for b in server.requests] == ["m"]
    s = summarize(out)
    assert not s["complete"]
    assert s["strategies"]["modeE"]["incomplete_runs"] == 1 and s["strategies"]["modeE"]["pass_rate"] is None
    assert s["strategies"]["always-frontier"]["incomplete_runs"] == 1
    from harness.report.tables import headline

    assert "INCOMPLETE" in headline(s)


@pytest.mark.parametrize("answer,fmt", [
    ("The fix:\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```\n",
     EditFormat.SEARCH_REPLACE),
    (GOOD_ANSWER.replace("\n", "\r\n"), EditFormat.SEARCH_REPLACE),
    ('{"files": {"calc.py": "def add(a, b):\\r\\n    return a + b\\r\\n\\r\\n\\r\\n'
     'def mul(a, b):\\r\\n    return a * b\\r\\n"}}'
     .replace("\\r\\n", "\\n") .replace("\n", "\r\n"), EditFormat.FILES),
])
def test_12_parser_shapes_models_send_resolve(tiny, tmp_path, answer, fmt):
    """Defect 12: a SEARCH block with no path line (only a ```python fence) and CRLF answers resolve."""
    with ScriptedServer({"m": [Reply(content=answer)]}) as server:
        [record], _ = run_alone(tmp_path, tiny, tier(server, edit_format=fmt))
    assert record.failure_mode is FailureMode.RESOLVED, record.message


def test_12_a_files_json_without_files_writes_no_file(tiny, tmp_path):
    """Defect 12: {"path": ..., "content": ...} wrote files named after its keys; it is a format violation."""
    answer = json.dumps({"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"})
    with ScriptedServer({"m": [Reply(content=answer)]}) as server:
        [record], _ = run_alone(tmp_path, tiny, tier(server, edit_format=EditFormat.FILES))
    assert record.failure_mode is FailureMode.FORMAT_VIOLATION and record.verdict is None


def test_12_max_cost_counts_the_billed_cost_of_an_unpriced_paid_tier(tiny, tmp_path):
    """Defect 12: --max-cost was not enforced on a paid tier with no price that reports billed cost."""
    script = {"gw": [Reply(content=BAD_ANSWER, cost=0.6), Reply(content=BAD_ANSWER, cost=0.6)]}
    with ScriptedServer(script) as server:
        gateway = tier(server, "gw", "gw", attempts=3, price_input=None, price_output=None)
        records, _ = run_alone(tmp_path, tiny, gateway, max_cost=1.0)
        assert len(server.requests) == 2  # $1.20 billed after two: the third is not started
    assert len(records) == 2


# --- gaps of issue 10 ---------------------------------------------------------------------------

def test_a_non_streamed_answer_that_ran_away_is_runaway_not_truncated(tiny, tmp_path):
    """An answer cut by the length limit whose tail repeats one line is runaway (its own mode), not truncated."""
    looping = "Let me think.\n" + "I need to look at the add function again.\n" * 80
    with ScriptedServer({"m": [Reply(content=looping, finish_reason="length", completion_tokens=4096)]}) as server:
        [record], _ = run_alone(tmp_path, tiny, tier(server))
    assert record.failure_mode is FailureMode.RUNAWAY and record.completion_tokens == 4096


def test_a_failing_server_is_infrastructure_suspended_after_three_and_retried_by_the_rerun(make_repo,
                                                                                           python_project_env,
                                                                                           tmp_path):
    """api-errors are never the model's failure: the runs wait for a rerun, shown apart; after three in a
    row the tier is suspended for the rest of the run instead of paying retries on every task."""
    tasks = [build_tiny_task(make_repo(f"t{i}"), f"t{i}") for i in range(4)]
    ts = build_taskset(tmp_path / "ts", tasks)
    down = Reply(status=500, body={"error": {"message": "The server had an error while processing your request.",
                                             "type": "server_error"}})
    with ScriptedServer({"m": [Reply(content="no idea")], "o3": [down]}) as server:
        spec = RunSpec(taskset=ts, out=tmp_path / "run", strategies=("modeE",),
                       tiers=(tier(server), tier(server, "o3", "o3", price_input=2.0, price_output=8.0)))
        result = run(spec)
        assert [b["model"] for b in server.requests].count("o3") == 3  # the fourth task never asked
        s = summarize(spec.out)
        assert any("suspended" in note for note in result.notes) and result.infra_failures == 3
        modee = s["strategies"]["modeE"]
        assert (modee["runs"], modee["incomplete_runs"], modee["infra_runs"]) == (0, 4, 3)
        assert s["failure_modes"]["api-error"]["count"] == 0 and s["infrastructure"]["outstanding"] == 3
        server.script["o3"].clear()
        server.script["o3"].append(Reply(content=GOOD_ANSWER))
        again = run(spec)
    assert again.infra_failures == 0 and summarize(spec.out)["strategies"]["modeE"]["pass_rate"] == 1.0


def test_the_carry_ladder_reuses_the_matrix_first_tier_and_runs_only_what_is_asked(tiny, tmp_path):
    """modeE+carry alone: the first tier's requests are the matrix's (sent once); no other matrix cell runs."""
    script = {"m": [Reply(content=BAD_ANSWER)], "top": [Reply(content=GOOD_ANSWER)]}
    with ScriptedServer(script) as server:
        records, out = run_alone(tmp_path, tiny, tier(server), tier(server, "top", "top"),
                                 strategies=("modeE+carry",))
        asked = [b["model"] for b in server.requests]
        carried = server.by_model["top"][0]["messages"][1]["content"]
    assert asked == ["m", "top"]
    assert [(r.strategy.value, r.tier) for r in records] == [("matrix", "local"), ("modeE+carry", "top")]
    assert "An earlier attempt by another model" in carried
    assert summarize(out)["strategies"]["modeE+carry"]["pass_rate"] == 1.0


def test_a_small_window_drops_carried_history_before_the_source_files(tiny):
    """Trimming cuts earlier attempts (other tiers' first) before it drops a source file."""
    from harness.loop.prompts import Earlier

    sources = {"calc.py": "def add(a, b):\n    return a - b\n", "other.py": "X = 1\n" * 50}
    history = [Earlier(f"o3 attempt {i}", "tests-failed", "x" * 2000, "y" * 2000, same_tier=False) for i in range(3)]
    history.append(Earlier("local attempt 1", "tests-failed", "z" * 2000, "w" * 500))
    small = Tier(name="local", context_window=1900, max_output_tokens=100)
    prompt = build_prompt(tiny, small, sources, history)
    assert not prompt.overflow and prompt.history_dropped >= 3 and "calc.py" in prompt.files
    text = prompt.messages[1]["content"]
    assert "An earlier attempt by another model" not in text and "def add" in text


def test_an_infrastructure_error_from_the_evaluator_is_retried_never_a_verdict(tiny, tmp_path):
    """taskset.evaluate raising InfrastructureError (disk full, sandbox gone) is env-failed: not the model's
    failure, not final; the next run judges the stored answer again without asking the model."""
    from taskset.errors import InfraCause, InfrastructureError
    from taskset.evaluation.verdict import evaluate

    def broken(task, **candidate):
        raise InfrastructureError("no space left on device", cause=InfraCause.DISK)

    with ScriptedServer({"m": [Reply(content=GOOD_ANSWER)]}) as server:
        spec = RunSpec(taskset=build_taskset(tmp_path / "ts", [tiny]), out=tmp_path / "run", tiers=(tier(server),),
                       strategies=("always-local",))
        assert run(spec, evaluate=broken).infra_failures == 1
        [failed] = read_attempts(spec.out / "attempts.jsonl")
        assert failed.failure_mode is FailureMode.ENV_FAILED and "no space left" in failed.message
        assert summarize(spec.out)["strategies"]["always-local"]["infra_runs"] == 1
        run(spec, evaluate=evaluate)
        assert len(server.requests) == 1  # the stored answer was judged again, not bought again
    assert [r.failure_mode for r in read_attempts(spec.out / "attempts.jsonl")] == [FailureMode.ENV_FAILED,
                                                                                   FailureMode.RESOLVED]


def test_an_old_tests_failed_record_of_a_broken_environment_is_retried(tiny, tmp_path):
    """An earlier version stored a run in a broken environment as ``tests-failed`` ("No module named
    '_pytest.pastebin' ... wrote no JUnit report"): the next run judges the stored answer again
    instead of keeping it as final; a verdict of this version (environment re-verified) stays final."""
    with ScriptedServer({"m": [Reply(content=GOOD_ANSWER)]}) as server:
        spec = RunSpec(taskset=build_taskset(tmp_path / "ts", [tiny]), out=tmp_path / "run", tiers=(tier(server),),
                       strategies=("always-local",))
        run(spec)
        path = spec.out / "attempts.jsonl"
        [line] = path.read_text().splitlines()
        old = json.loads(line)
        del old["env_checked"]  # as the earlier version wrote it
        old.update(failure_mode="tests-failed", verdict="tests-failed", f2p_passed=0, message=(
            "pytest exited with 1 and wrote no JUnit report\nImportError: No module named '_pytest.pastebin'"))
        path.write_text(json.dumps(old) + "\n")
        run(spec)
        assert len(server.requests) == 1  # the stored answer was judged again, not bought again
        records = read_attempts(path)
        assert [r.failure_mode for r in records] == [FailureMode.TESTS_FAILED, FailureMode.RESOLVED]
        assert records[1].env_checked
        failed_now = json.loads(path.read_text().splitlines()[1])
        failed_now.update(failure_mode="tests-failed", verdict="tests-failed", message=old["message"])
        path.write_text(json.dumps(failed_now) + "\n")
        run(spec)
        assert len(read_attempts(path)) == 1, "a verdict that re-verified its environment is final"
