"""Results by task class: labels, intervals resampled within a class, and the decision matrix."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli import cli
from harness.config import EditFormat, ProviderKind, Tier
from harness.results.classes import classes_of, decide
from harness.run import RunSpec, run
from taskset.record import Task
from test_harness_server import GOOD_ANSWER, Reply, ScriptedServer, build_taskset, build_tiny_task, build_two_file_task


def patch_of(files: int, lines: int) -> str:
    """A gold patch touching ``files`` files with ``lines`` changed lines in all."""
    out = []
    for i in range(files):
        body = "".join(f"-old{i}{n}\n+new{i}{n}\n" for n in range(lines // (2 * files)))
        out.append(f"diff --git a/f{i}.py b/f{i}.py\n--- a/f{i}.py\n+++ b/f{i}.py\n@@ -1 +1 @@\n{body}")
    return "".join(out)


def test_class_labels_come_from_the_gold_patch_and_the_calibration():
    """Changed lines are bucketed, files counted (3 and more together); the diff headers are not lines."""
    task = Task(instance_id="o__r-000000000000", repo="o/r", repo_url="/x", base_commit="0" * 40,
                fix_commit="1" * 40, created_at="", patch=patch_of(1, 4), test_patch="", problem_statement="",
                FAIL_TO_PASS=(), PASS_TO_PASS=())
    assert classes_of(task) == {"repo": "o/r", "difficulty": "unknown", "size": "1-5 lines", "files": "1 file"}
    wide = Task(**{**task.__dict__, "patch": patch_of(4, 120)})
    assert classes_of(wide)["size"] == "51+ lines" and classes_of(wide)["files"] == "3+ files"


def test_the_decision_is_the_cheapest_strategy_whose_interval_reaches_the_best():
    """B's interval reaches A's pass rate and B is cheaper: B. C's does not. oracle-routing is a bound, never
    chosen; an unknown cost is never taken for the cheapest; a strategy with unfinished runs does not
    compete while others finished theirs."""
    strategies = {
        "oracle-routing": {"pass_rate": 1.0, "ci95": [1.0, 1.0], "cost_per_task": 0.0},
        "A": {"pass_rate": 0.8, "ci95": [0.6, 0.95], "cost_per_task": 1.0},
        "B": {"pass_rate": 0.7, "ci95": [0.5, 0.85], "cost_per_task": 0.1},
        "C": {"pass_rate": 0.3, "ci95": [0.1, 0.5], "cost_per_task": 0.0},
        "D": {"pass_rate": 0.75, "ci95": [0.5, 0.9], "cost_per_task": None},
    }
    row = decide("all", strategies, 9)
    assert (row["best"], row["choice"], row["cost_per_task"], row["tasks"]) == ("A", "B", 0.1, 9)
    unfinished = {**strategies, "E": {"pass_rate": 0.9, "ci95": [0.9, 0.9], "cost_per_task": 0.0,
                                      "incomplete_runs": 2}}
    assert decide("all", unfinished, 9)["choice"] == "B"  # E's rate is over part of the class only


def test_report_by_files_splits_every_table_with_intervals_from_the_class_alone(make_repo, python_project_env,
                                                                                  tmp_path):
    """The free local tier solves the one-file task and not the two-file one; the oracle solves both.
    Over the whole run always-local's interval spans 0-100%; within each class it is exact, and the
    decision matrix never picks always-local for two files, where its interval is [0, 0]."""
    tasks = [build_tiny_task(make_repo("tiny")), build_two_file_task(make_repo("two"))]
    out = tmp_path / "run"
    with ScriptedServer({"local-m": [Reply(content=GOOD_ANSWER)]}) as server:
        tiers = (Tier(name="local", model="local-m", base_url=server.url, max_retries=0, price_input=0.0,
                      price_output=0.0),
                 Tier(name="frontier", provider=ProviderKind.ORACLE, edit_format=EditFormat.DIFF, price_input=1.0,
                      price_output=1.0))
        run(RunSpec(taskset=build_taskset(tmp_path / "ts", tasks), out=out, tiers=tiers,
                    strategies=("modeE", "always-local", "always-frontier")))
    result = CliRunner().invoke(cli, ["harness", "report", str(out), "--by", "files", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["strategies"]["always-local"]["ci95"] == [0.0, 1.0]
    cells = summary["classes"]["cells"]
    assert list(cells) == ["1 file", "2 files"] and summary["classes"]["by"] == "files"
    assert cells["1 file"]["strategies"]["always-local"]["ci95"] == [1.0, 1.0]
    assert cells["2 files"]["strategies"]["always-local"]["ci95"] == [0.0, 0.0]
    assert cells["2 files"]["tiers"]["frontier"]["pass_rate"] == 1.0
    decision = {row["class"]: row for row in summary["decision"]}
    assert decision["1 file"]["choice"] in ("modeE", "always-local") and decision["1 file"]["pass_rate"] == 1.0
    assert decision["2 files"]["choice"] in ("modeE", "always-frontier") and decision["2 files"]["pass_rate"] == 1.0
    html = (out / "report.html").read_text()
    assert "files: 2 files" in html and "Decision matrix by files" in html
    text = CliRunner().invoke(cli, ["harness", "report", str(out), "--by", "files"]).output
    assert "files: 1 file (1 tasks, 1 runs)" in text and "decision matrix by files" in text
