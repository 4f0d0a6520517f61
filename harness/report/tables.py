"""The terminal view of a summary: narrow tables that fit 80 columns without cutting a figure.

Every table shows unfinished runs (``left``) and, apart, those waiting on an infrastructure
retry (``infra``). Wider views (tokens, latency, TTFT) are in the HTML and Markdown reports.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from harness.report.display import ci, count, money, pct, secs

TERMINAL_WIDTH = 80


def _table(title: str, headers: list[str], wrap_last: bool = False) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), title_justify="left")
    for i, header in enumerate(headers):
        text = i == 0 or (wrap_last and i == len(headers) - 1)
        # names may wrap onto a second line; figures never wrap, so they are never cut short
        table.add_column(header, justify="left" if text else "right", no_wrap=not text, overflow="fold")
    return table


def headline(summary: dict[str, Any]) -> str:
    """One line: what the run covered, and whether it is complete."""
    seeds = len(summary["run"].get("seeds") or [])
    context = summary["run"].get("context") or "oracle"  # a summary from before context settings
    line = f"context {context}: {summary['tasks']} tasks x {seeds} seed(s), {summary['attempts']} attempts"
    infra = summary.get("infrastructure", {}).get("outstanding", 0)
    if not summary.get("complete", True):
        left = max((s["incomplete_runs"] for s in summary["strategies"].values()), default=0)
        line += f"; INCOMPLETE: up to {left} runs unfinished"
        if infra:
            line += f", {infra} attempts await an infrastructure retry (rerun to retry)"
    return line


def tables(summary: dict[str, Any]) -> list[Table]:
    """Outcomes, costs, tiers, the cascade sweep, paired differences, failure modes."""
    outcomes = _table("outcomes", ["strategy", "pass", "95% CI", "solved", "left", "infra", "tampered"])
    costs = _table("costs per task (estimated from tokens; billed as the servers reported)",
                   ["strategy", "estimated", "billed", "cloud", "attempts"])
    for name, s in summary["strategies"].items():
        outcomes.add_row(name, pct(s["pass_rate"]), ci(s["ci95"]), f"{s['resolved_runs']}/{s['runs']}",
                         str(s["incomplete_runs"]), str(s["infra_runs"]), str(s["tampered"]))
        costs.add_row(name, money(s["cost_per_task"]), money(s["billed_per_task"]), pct(s["cloud_fraction"]),
                      count(s["attempts_per_task"]))
    tiers = _table("tiers alone, and what each recovered in modeE",
                   ["tier", "runs", "pass", "est/task", "billed", "p50", "recov", "left", "infra", "tamp"])
    for name, t in summary["tiers"].items():
        tiers.add_row(name, str(t["runs"]), pct(t["pass_rate"]), money(t["cost_per_task"]),
                      money(t["billed_per_task"]), secs(t["latency_median"]), str(t["recovered"]),
                      str(t["incomplete_runs"]), str(t["infra_runs"]), str(t["tampered"]))
    out = [outcomes, costs, tiers]
    points = summary.get("cascade", {}).get("points") or []
    if points:
        cascade = _table("cascade: first tier when the pre-hoc score <= t, else the last tier",
                         ["t", "local", "pass", "95% CI", "cloud", "est/task", "left", "infra"])
        for p in points:
            cascade.add_row(f"{p['threshold']:g}", str(p["tasks_local"]), pct(p["pass_rate"]), ci(p["ci95"]),
                            pct(p["cloud_fraction"]), money(p["cost_per_task"]), str(p["incomplete_runs"]),
                            str(p["infra_runs"]))
        out.append(cascade)
    if summary["differences"]:
        diffs = _table("paired differences (resampled by task)", ["difference", "pass rate", "95% CI"])
        for d in summary["differences"]:
            diffs.add_row(f"{d['a']} - {d['b']}", f"{100 * d['pass_rate_diff']:+.1f} pts", ci(d["ci95"]))
        out.append(diffs)
    if summary.get("retrieval"):
        found = _table("retrieval: gold-patch files in the prompt", ["context", "attempts", "recall", "1-file",
                                                                     "recall", "all gold"])
        for setting, r in summary["retrieval"].items():
            found.add_row(setting, str(r["attempts"]), pct(r["recall"]), str(r["single_file_attempts"]),
                          pct(r["single_file_recall"]), pct(r["all_gold_shown"]))
        out.append(found)
    modes = _table("failure modes (infrastructure apart)", ["mode", "count", "by tier"], wrap_last=True)
    for mode, m in summary["failure_modes"].items():
        if m["count"]:
            modes.add_row(mode, str(m["count"]), ", ".join(f"{t} {c}" for t, c in m["by_tier"].items()))
    for mode, n in summary.get("infrastructure", {}).get("by_mode", {}).items():
        modes.add_row(f"{mode} (infra)", str(n), "awaiting a rerun")
    out.append(modes)
    agents = summary.get("agent_modes", {})
    if any(r["kind"] == "agent" for r in agents.values()):
        table = _table("agent loops: A compacted, A' overflow (ok/lost), B runaway, C wall time, D false success,"
                       " F miss, E infra apart; CFS = D / declared done",
                       ["tier", "A", "A'ok", "A'", "B", "C", "D", "F", "E", "CFS"])
        for name, r in agents.items():
            agent = r["kind"] == "agent"
            only = [str(r[k]) if agent else "–" for k in ("A", "A'_recovered")]
            table.add_row(name, *only, str(r["A'"]), str(r["B"]), str(r["C"]) if agent else "–",
                          str(r["D"]) if agent else "–", str(r["F"]), str(r["E"]),
                          pct(r["confident_false_success_rate"]) if agent else "–")
        out.append(table)
    return out


def class_tables(summary: dict[str, Any]) -> list[tuple[str, list[Table]]]:
    """(heading, tables) per task class when the summary was split (``--by``), else nothing."""
    classes = summary.get("classes") or {}
    by = classes.get("by")
    return [(f"{by}: {label} ({cell['tasks']} tasks, {cell['runs']} runs)", tables(cell))
            for label, cell in (classes.get("cells") or {}).items()]


def decision_table(summary: dict[str, Any]) -> Table:
    """Per class, the cheapest strategy whose interval reaches the class's best pass rate."""
    by = (summary.get("classes") or {}).get("by")
    table = _table(f"decision matrix{f' by {by}' if by else ''}: the cheapest strategy whose CI reaches the best",
                   [by or "tasks", "n", "best", "pass", "choose", "pass", "95% CI", "est/task"])
    for row in summary.get("decision") or []:
        table.add_row(row["class"], str(row["tasks"]), row["best"] or "-", pct(row["best_pass_rate"]),
                      row["choice"] or "-", pct(row["pass_rate"]), ci(row["ci95"]), money(row["cost_per_task"]))
    return table
