"""What a run says about itself agrees everywhere: the progress line, the task tally, the result and the
summary count the same things, and the incomplete-run banner reads as sentences."""

from __future__ import annotations

from harness.config import Tier
from harness.results.summary import summarize
from harness.run import RunSpec, run
from test_harness_run import Recorder
from test_harness_server import BAD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task


def test_progress_result_and_summary_count_the_same_attempts_and_unfinished_runs(make_repo, python_project_env,
                                                                                   tmp_path):
    """Regression: the bar said "solved:6 ... 27 attempts" while the summary said 26 new attempts and one
    run unfinished. Here local fails (a final attempt), then local-repair's second attempt meets a 503
    (an infrastructure failure, retried by the next run): 1 new attempt, 1 infrastructure failure, and the
    task is unfinished — in the progress, the result and the summary alike."""
    tiny = build_tiny_task(make_repo("tiny"))
    out = tmp_path / "run"
    script = {"local-m": [Reply(content=BAD_ANSWER), Reply(status=503, error="overloaded")],
              "top-m": [Reply(content=BAD_ANSWER)]}
    progress = Recorder()
    with ScriptedServer(script) as server:
        local = Tier(name="local", model="local-m", base_url=server.url, max_retries=0, price_input=0.0,
                     price_output=0.0)
        # a second rung gives local-repair its attempts; no requested strategy climbs to it
        top = Tier(name="top", model="top-m", base_url=server.url, max_retries=0, attempts=2)
        result = run(RunSpec(taskset=build_taskset(tmp_path / "ts", [tiny]), out=out, tiers=(local, top),
                             strategies=("always-local", "local-repair")), progress=progress)
        asked = [body["model"] for body in server.requests]
    assert asked == ["local-m", "local-m"]
    summary = summarize(out)
    assert result.new_attempts == 1 == summary["attempts"]
    statuses = [e[1] for e in progress.events if e[0] == "status"]
    assert statuses[-1].startswith("1 new attempts, 1 infrastructure failure(s) to retry")
    assert summary["strategies"]["local-repair"]["incomplete_runs"] == 1
    assert [e for e in progress.events if e[0] == "advance"] == [("advance", "unfinished")]


def test_the_incomplete_run_banner_is_two_sentences(make_repo, python_project_env, tmp_path):
    """Regression: the banner ran "... the same command.Pass rates ..." together, in HTML and Markdown."""
    from harness.report.render import write_report

    tiny = build_tiny_task(make_repo("tiny"))
    out = tmp_path / "run"
    with ScriptedServer({"local-m": [Reply(status=503, error="overloaded")]}) as server:
        local = Tier(name="local", model="local-m", base_url=server.url, max_retries=0, price_input=0.0,
                     price_output=0.0)
        run(RunSpec(taskset=build_taskset(tmp_path / "ts", [tiny]), out=out, tiers=(local,),
                    strategies=("always-local",)))
    html, md = write_report(out)
    for text in (html.read_text(), md.read_text()):
        assert "same command. Pass rates" in text and "command.Pass" not in text
