"""The acceptance run: three tiers against a scripted server that behaves as llama.cpp, OpenAI and an
OpenRouter-style vLLM gateway really do, on four real tasks, yields exactly the scripted outcomes.

One run exhibits every behaviour of issue 10: a reasoning block before the answer, CRLF line ends, a
SEARCH block under a bare ```python fence, a runaway stream, llama.cpp's context error trimmed and
retried within the attempt, a two-file diff without git headers, cached prompt tokens, a files JSON
without "files", billed cost on an unpriced tier, a 503 and a body trickled past the timeout
(infrastructure: not counted, retried by the rerun), a tampered verdict counted against its model,
local-repair reusing local's first attempt, and the cascade sweep. The evaluator is the real one,
sandbox and tamper detection included: the tampering answer keeps the bug and patches pytest's
reports to "passed" when the code is imported.
"""

from __future__ import annotations

import json

import pytest

from harness.config import EditFormat, ProviderKind, Tier
from harness.names import Strategy
from harness.records.attempts import read_attempts
from harness.report.render import write_report
from harness.results.summary import summarize
from harness.run import RunSpec, run
from taskset.evaluation.verdict import evaluate
from test_harness_server import (
    CALC2_FIXED,
    FIXED,
    GOOD_ANSWER,
    TWO_FILE_DIFF,
    UTIL_FIXED,
    Reply,
    ScriptedServer,
    build_taskset,
    build_tiny_task,
    build_two_file_task,
    search_replace,
)

NO_IDEA = "I am not sure what to change here."
GOOD_DIFF = ("```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
             "+    return a + b\n```\n")
BAD_DIFF = GOOD_DIFF.replace("a + b\n```", "a * b\n```")
THINK_CRLF = ("<think>\nMaybe this?\ncalc.py\n"
              "<<<<<<< SEARCH\n    return a - b\n=======\n    return 0\n>>>>>>> REPLACE\n"
              "No: add must add.\n</think>\nThe fix:\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n"
              "    return a + b\n>>>>>>> REPLACE\n```\n").replace("\n", "\r\n")
# Keeps the bug; on import, every test report pytest builds is made to say "passed".
TAMPERING = search_replace("    return a - b", (
    "    return a - b\n\n\n"
    "import _pytest.reports\n"
    "_original = _pytest.reports.TestReport.from_item_and_call.__func__\n\n\n"
    "def _always_pass(cls, item, call):\n"
    "    report = _original(cls, item, call)\n"
    "    report.outcome, report.longrepr = 'passed', None\n"
    "    return report\n\n\n"
    "_pytest.reports.TestReport.from_item_and_call = classmethod(_always_pass)"
))


@pytest.fixture
def tasks(make_repo, python_project_env):
    """A, B, D: tiny tasks (add subtracts); C: a fix across two files."""
    return {"A": build_tiny_task(make_repo("a"), "a"), "B": build_tiny_task(make_repo("b"), "b"),
            "C": build_two_file_task(make_repo("c"), "c"), "D": build_tiny_task(make_repo("d"), "d")}


def ladder(server: ScriptedServer) -> tuple[Tier, ...]:
    common = dict(provider=ProviderKind.OPENAI, base_url=server.url, max_retries=0)
    return (
        Tier(name="local", model="qwen-local", stream=True, timeout=60.0, price_input=0.0, price_output=0.0,
             context_window=32768, max_tokens_param="max_tokens", **common),
        Tier(name="o3", model="o3", attempts=2, feedback=True, timeout=2.0, price_input=2.0, price_output=8.0,
             price_cached_input=0.5, edit_format=EditFormat.DIFF, **common),
        Tier(name="gpt-5.5", model="gpt-5.5", timeout=60.0, edit_format=EditFormat.FILES, **common),
    )


def files(**contents) -> str:
    return json.dumps({"files": {name.replace("_", "."): text for name, text in contents.items()}})


def test_a_three_tier_run_yields_exactly_the_scripted_outcomes(tasks, tmp_path):
    """Every scripted behaviour ends as scripted; infrastructure failures are apart and retried by the rerun."""
    local_base = 1200 // 3  # about the tiny task's first prompt, in llama.cpp's tokens
    script = {
        "qwen-local": [
            Reply(content=THINK_CRLF),                                        # A: resolved
            Reply(content="Let me fix it.\n", forever="I will fix the add function.\n"),  # B: runaway
            Reply(content=GOOD_ANSWER, n_ctx=2 * local_base),                 # B repair 2: context error, trimmed
            Reply(content=NO_IDEA), Reply(content=NO_IDEA), Reply(content=NO_IDEA), Reply(content=NO_IDEA),  # C
            Reply(content=TAMPERING),                                         # D: tampered
            Reply(content=NO_IDEA),                                           # D repair 2.. (repeats)
        ],
        "o3": [
            Reply(content=BAD_DIFF, model="o3-2025-04-16", cached_tokens=50),  # B 1: tests-failed
            Reply(content=GOOD_DIFF, model="o3-2025-04-16"),                   # B 2: resolved
            Reply(content=f"```diff\n{TWO_FILE_DIFF}```"),                      # C 1: resolved
            Reply(content="late " * 60, trickle=0.05),                         # D 1: timeout (infrastructure)
            Reply(content=BAD_DIFF), Reply(content=GOOD_DIFF),                 # rerun: D 1, D 2
        ],
        "gpt-5.5": [
            Reply(content=json.dumps({"path": "calc.py", "content": FIXED}), cost=0.01),  # A: format-violation
            Reply(status=503, body={"object": "error", "message": "Service Unavailable", "type": "ServiceUnavailable",
                                    "code": 503}),                             # B: api-error (infrastructure)
            Reply(content=files(calc_py=CALC2_FIXED, util_py=UTIL_FIXED), cost=0.02),  # C: resolved
            Reply(content=files(calc_py=FIXED), cost=0.01),                    # D: resolved; rerun B: resolved
        ],
    }
    ids = {name: task.instance_id for name, task in tasks.items()}
    out = tmp_path / "run"
    with ScriptedServer(script) as server:
        spec = RunSpec(taskset=build_taskset(tmp_path / "ts", list(tasks.values())), out=out, tiers=ladder(server),
                       strategies=("modeE", "always-local", "always-frontier", "local-repair", "cascade"),
                       task_ids=tuple(ids.values()))
        first = run(spec, evaluate=evaluate)
        first_summary = summarize(out)
        asked_first = len(server.requests)
        second = run(spec, evaluate=evaluate)
        asked_second = len(server.requests) - asked_first

    name = {v: k for k, v in ids.items()}
    records = read_attempts(out / "attempts.jsonl")
    got = [(name[r.task], r.tier, r.attempt, r.failure_mode.value) for r in records]
    assert got == [
        ("A", "local", 1, "resolved"), ("A", "gpt-5.5", 1, "format-violation"),
        ("B", "local", 1, "runaway"), ("B", "o3", 1, "tests-failed"), ("B", "o3", 2, "resolved"),
        ("B", "gpt-5.5", 1, "api-error"), ("B", "local+repair", 2, "resolved"),
        ("C", "local", 1, "format-violation"), ("C", "o3", 1, "resolved"), ("C", "gpt-5.5", 1, "resolved"),
        ("C", "local+repair", 2, "format-violation"), ("C", "local+repair", 3, "format-violation"),
        ("C", "local+repair", 4, "format-violation"),
        ("D", "local", 1, "tampered"), ("D", "o3", 1, "timeout"), ("D", "gpt-5.5", 1, "resolved"),
        ("D", "local+repair", 2, "format-violation"), ("D", "local+repair", 3, "format-violation"),
        ("D", "local+repair", 4, "format-violation"),
        # the rerun retries exactly the two infrastructure failures, and what depends on them
        ("B", "gpt-5.5", 1, "resolved"), ("D", "o3", 1, "tests-failed"), ("D", "o3", 2, "resolved"),
    ]
    by = {(name[r.task], r.tier, r.attempt): r for r in records}
    assert first.infra_failures == 2 and second.infra_failures == 0 and asked_second == 3
    assert asked_first == 20  # 12 local (one refused for its context, then sent trimmed), 4 o3, 4 gpt-5.5
    assert by[("B", "local", 1)].completion_tokens > 50 and by[("B", "local", 1)].finish_reason == "runaway"
    repair = by[("B", "local+repair", 2)]
    assert len(repair.trims) == 1 and repair.history_trimmed == 1 and repair.max_tokens < 4096
    assert by[("B", "o3", 1)].cached_tokens == 50 and by[("B", "o3", 1)].model_answered == "o3-2025-04-16"
    assert by[("A", "local", 1)].ttft is not None  # streamed

    s1 = first_summary["strategies"]
    assert not first_summary["complete"] and first_summary["infrastructure"]["outstanding"] == 2
    assert (s1["modeE"]["resolved_runs"], s1["modeE"]["runs"], s1["modeE"]["infra_runs"]) == (3, 3, 1)
    assert (s1["always-frontier"]["resolved_runs"], s1["always-frontier"]["infra_runs"]) == (2, 1)
    assert (s1["always-local"]["resolved_runs"], s1["always-local"]["runs"]) == (1, 4)
    assert (s1["local-repair"]["resolved_runs"], s1["local-repair"]["runs"]) == (2, 4)

    s = summarize(out)
    strategies = s["strategies"]
    assert s["complete"] and s["infrastructure"]["events"] == 2 and s["infrastructure"]["outstanding"] == 0
    assert [strategies[n]["pass_rate"] for n in ("modeE", "always-local", "always-frontier", "local-repair")] == [
        1.0, 0.25, 0.75, 0.5]
    o3 = [50 * 2 + 50 * 0.5 + 50 * 8, 600, 600, 600, 600]  # B1 (50 of 100 prompt tokens cached), B2, C1, D1, D2
    assert strategies["always-local"]["cost_per_task"] == 0.0
    assert strategies["modeE"]["cost_per_task"] == pytest.approx(sum(o3) / 1e6 / 4)  # modeE never used gpt-5.5
    assert strategies["always-frontier"]["cost_per_task"] is None  # gpt-5.5 has no price: unknown, never $0
    assert strategies["always-frontier"]["billed_per_task"] == pytest.approx((0.01 + 0.01 + 0.02 + 0.01) / 4)
    assert s["tiers"]["o3"]["cost_per_task"] == pytest.approx(sum(o3) / 1e6 / 3)
    assert s["tiers"]["local"]["tampered"] == 1 and s["tiers"]["local"]["runaway"] == 1
    assert s["failure_modes"]["tampered"]["by_tier"] == {"local": 1}
    points = {p["threshold"]: p for p in s["cascade"]["points"]}
    assert points[5.0]["tasks_local"] == 3 and points[5.0]["pass_rate"] == 0.5  # C (two files) goes to the cloud
    assert points[25.0]["tasks_local"] == 4 and points[25.0]["pass_rate"] == 0.25
    assert [Strategy(r.strategy) for r in records] == [Strategy.MATRIX] * len(records)

    html, md = write_report(out)
    page = html.read_text()
    assert "tampered" in page and "runaway" in page and "Cascade sweep" in page and "predictions/" in page
    predictions = (out / "predictions" / "modeE.jsonl").read_text().splitlines()
    assert len(predictions) == 4 and all(json.loads(line)["model_patch"] for line in predictions)
