"""The reports of a run: summary.json, a self-contained report.html, report.md, SWE-bench predictions.

The HTML has no external assets: styles inline, the charts inline SVG. Its per-task table shows
what every tier did on every task, each attempt's answer, reasoning and test output one click
away (``<details>``), and an agent attempt's figures with a link to its trajectory file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from harness.config import Tier
from harness.loop.prompts import trim_output
from harness.names import Strategy
from harness.records.agentstats import AgentStats
from harness.records.attempts import ANSWERS_FILE, read_answers
from harness.report.chart import cascade_chart, cost_chart
from harness.report.display import ci, count, money, pct, rate, secs
from harness.results.classes import ClassKind
from harness.results.predictions import write_predictions
from harness.results.summary import SUMMARY_FILE, RunView, read_classes, summarize, view
from taskset.files.atomic import write_atomic

HTML_FILE = "report.html"
MD_FILE = "report.md"
ANSWER_CHARS = 20000
"""Characters of an answer shown in the per-task table (head and tail kept)."""
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
STRATEGY_HEADERS = ["strategy", "pass rate", "95% CI", "resolved", "unfinished", "infra", "cost/task (est.)",
                    "billed/task", "cloud", "attempts/task", "tokens in / cached / out / reasoning", "latency p50",
                    "TTFT p50", "tok/s", "tampered"]


def strategy_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One display row per strategy (the HTML and Markdown tables)."""
    rows = []
    for name, s in summary["strategies"].items():
        tokens = s["tokens_per_task"]
        rows.append([name, pct(s["pass_rate"]), ci(s["ci95"]), f"{s['resolved_runs']}/{s['runs']}",
                     str(s["incomplete_runs"]), str(s["infra_runs"]), money(s["cost_per_task"]),
                     money(s["billed_per_task"]), pct(s["cloud_fraction"]), count(s["attempts_per_task"]),
                     "/".join(f"{tokens[k]:.0f}" for k in ("prompt", "cached", "completion", "reasoning")),
                     secs(s["latency_median"]), secs(s["ttft_median"]), rate(s["tokens_per_second"]),
                     str(s["tampered"])])
    return rows


AGENT_HEADERS = ["tier", "kind", "model", "attempts", "resolved", "A compacted", "A′ recovered", "A′ lost",
                 "B runaway", "C wall time", "D false success", "F miss", "E infra (apart)", "declared done",
                 "confident false success", "D unchecked"]


def agent_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One display row per tier of the A–F table (``–`` where a class cannot happen to an edit tier)."""
    rows = []
    for name, r in summary.get("agent_modes", {}).items():
        agent = r["kind"] == "agent"

        def only(key: str, r: dict[str, Any] = r, agent: bool = agent) -> str:
            return str(r[key]) if agent else "–"

        rows.append([name, r["kind"], r["model"], str(r["attempts"]), str(r["resolved"]), only("A"),
                     only("A'_recovered"), str(r["A'"]), str(r["B"]), only("C"), only("D"), str(r["F"]), str(r["E"]),
                     only("declared"), pct(r["confident_false_success_rate"]) if agent else "–", only("unchecked")])
    return rows


def write_report(out: str | Path, prices: Sequence[Tier] | None = None,
                 by: ClassKind | None = None) -> tuple[Path, Path]:
    """Write summary.json, report.html, report.md and predictions/ in the run directory; returns the reports.

    ``by`` splits every table and chart by task class, and the decision matrix with them.
    """
    out = Path(out)
    summary = summarize(out, prices, by)
    write_atomic(out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    run = view(out, prices)
    write_predictions(out, run.matrix, run.keys, run.strategies, run.thresholds)
    tasks = task_rows(run)
    labels = read_classes(out, run.settings, [row["task"] for row in tasks["rows"]], [])
    for row in tasks["rows"]:
        row["classes"] = labels[row["task"]]
    class_charts = {label: {"chart": cost_chart(c), "cascade": cascade_chart(c)}
                    for label, c in summary["classes"]["cells"].items()}
    context = {"s": summary, "name": out.name, "strategy_rows": strategy_rows, "headers": STRATEGY_HEADERS,
               "chart": cost_chart(summary), "cascade": cascade_chart(summary), "tasks": tasks,
               "class_charts": class_charts, "agent_headers": AGENT_HEADERS, "agent_rows": agent_rows(summary),
               "money": money, "pct": pct, "ci": ci, "secs": secs, "rate": rate}
    html, md = out / HTML_FILE, out / MD_FILE
    write_atomic(html, _ENV.get_template("report.html.j2").render(context))
    write_atomic(md, _ENV.get_template("report.md.j2").render(context))
    return html, md


def columns(run: RunView) -> list[tuple[str, Strategy, Tier]]:
    """(heading, record kind, tier) for every column of the per-task table."""
    out = [(t.name, Strategy.MATRIX, t) for t in run.tiers]
    if Strategy.LOCAL_REPAIR in run.strategies:
        out.append((run.matrix.repair.name, Strategy.LOCAL_REPAIR, run.matrix.repair))
    if Strategy.CARRY in run.strategies:
        out += [(f"carry: {t.name}", Strategy.CARRY, t) for t in run.tiers]
    return out


def task_rows(run: RunView) -> dict[str, Any]:
    """What each column did on each (task, seed): attempts with their answers and test output."""
    answers = read_answers(run.out / ANSWERS_FILE)
    infra = {r.key: r for r in run.records if r.infrastructure}
    heads = columns(run)
    rows = []
    for task, seed in run.keys:
        cells = []
        for _, kind, tier in heads:
            cell = []
            for number in range(1, tier.attempts + 1):
                key = run.matrix.key(kind, task, seed, tier, number)
                record = run.matrix.final.get(key) or infra.get(key)
                if record is None:
                    break
                answer = answers.get(key)
                cell.append({"attempt": number, "mode": record.failure_mode.value, "ok": record.resolved,
                             "infra": record.infrastructure, "message": record.message,
                             "feedback": record.feedback, "trims": list(record.trims),
                             "answer": trim_output(answer.content, ANSWER_CHARS) if answer else "",
                             "reasoning": trim_output(answer.reasoning, ANSWER_CHARS) if answer else "",
                             "tokens": f"{record.prompt_tokens}/{record.completion_tokens}",
                             "agent": _agent_line(record.agent), "trajectory": record.agent.trajectory
                             if record.agent else "",
                             "latency": secs(record.latency)})
                if record.resolved or record.infrastructure:
                    break
            cells.append(cell)
        rows.append({"task": task, "seed": seed, "cells": cells})
    return {"headings": [h for h, _, _ in heads], "rows": rows}


def _agent_line(stats: AgentStats | None) -> str:
    if stats is None:
        return ""
    return (f"agent: {stats.exit_status}, {stats.turns} turns, {stats.commands} commands, {stats.test_runs} test "
            f"runs{' (failing tests run)' if stats.failing_tests_run else ''}, declared done: "
            f"{'yes' if stats.declared_done else 'no'}, compactions {stats.compactions_threshold}+"
            f"{stats.compactions_overflow}, runaways {stats.runaways}, peak prompt {stats.peak_prompt_tokens}")
