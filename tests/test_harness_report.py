"""The report's pieces: the charts' geometry, the per-task table, the progress a run reports."""

from __future__ import annotations

from harness.report.chart import HEIGHT, WIDTH, cascade_chart, cost_chart


def strategy(rate, cost, ci=None):
    return {"pass_rate": rate, "cost_per_task": cost, "ci95": ci or [rate, rate], "cloud_fraction": 0.5}


def test_identical_points_are_spread_and_named_in_the_legend():
    """Regression: identical dots were drawn on top of each other with no legend. They sit side by side,
    each with its own colour, and the legend says which points coincide."""
    chart = cost_chart({"strategies": {"modeE": strategy(0.5, 0.01), "heuristic": strategy(0.5, 0.01),
                                       "always-frontier": strategy(1.0, 0.02), "unpriced": strategy(1.0, None)}})
    points = {p["name"]: p for p in chart["points"]}
    assert points["modeE"]["x"] != points["heuristic"]["x"] and points["modeE"]["y"] == points["heuristic"]["y"]
    assert points["modeE"]["same_as"] == ["heuristic"]
    assert len({p["color"] for p in chart["points"]}) == 3
    assert chart["unknown"] == ["unpriced"]


def test_every_mark_and_tick_stays_inside_the_plot():
    """Regression: labels ran off the chart. No label is drawn beside a point (the legend names them), and
    every mark, error bar and tick lies within the SVG."""
    chart = cost_chart({"strategies": {f"s{i}": strategy(i / 4, i * 0.37, [0.0, 1.0]) for i in range(5)}})
    for p in chart["points"]:
        assert chart["left"] <= p["x"] <= chart["right"] and 0 <= p["hi"] <= p["y"] <= p["lo"] <= HEIGHT
    assert all(0 <= t["x"] <= WIDTH for t in chart["ticks_x"]) and chart["ticks_x"][-1]["label"] == "$2.00"


def test_a_chart_where_every_cost_is_zero_says_so():
    """Regression: with every cost $0 the chart said nothing. It says the cost axis carries no information,
    and still shows every strategy as its own mark."""
    chart = cost_chart({"strategies": {"a": strategy(0.2, 0.0), "b": strategy(0.4, 0.0)}})
    assert "carries no information" in chart["note"] and chart["ticks_x"] == []
    assert len({p["x"] for p in chart["points"]}) == 2


def test_cascade_points_that_coincide_share_one_label():
    """Thresholds routing the same way land on the same spot: one label lists them all."""
    summary = {"strategies": {}, "cascade": {"points": [
        {"threshold": t, "pass_rate": 0.5, "cloud_fraction": 0.0 if t > 5 else 0.25} for t in (5, 10, 15)]}}
    marks = cascade_chart(summary)["marks"]
    assert [m["threshold"] for m in marks] == ["5", "10, 15", ""]
    assert all(m["label_y"] >= 10 for m in marks)


def test_answers_in_the_html_report_are_escaped(make_repo, python_project_env, tmp_path):
    """A model's answer is text: <think> shows as text and a <script> in an answer never runs in the report."""
    from harness.config import ProviderKind, Tier
    from harness.report.render import write_report
    from harness.run import RunSpec, run
    from test_harness_server import Reply, ScriptedServer, build_taskset, build_tiny_task

    task = build_tiny_task(make_repo("tiny"))
    answer = "<think>hmm</think><script>alert(1)</script> no idea"
    with ScriptedServer({"m": [Reply(content=answer)]}) as server:
        local = Tier(name="local", provider=ProviderKind.OPENAI, model="m", base_url=server.url, max_retries=0,
                     price_input=0.0, price_output=0.0)
        run(RunSpec(taskset=build_taskset(tmp_path / "ts", [task]), out=tmp_path / "run", tiers=(local,),
                    strategies=("always-local",)))
    page = write_report(tmp_path / "run")[0].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;think&gt;hmm" in page
