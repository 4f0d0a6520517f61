"""Rendering a summary: terminal tables (rich), a self-contained HTML report and Markdown.

The HTML has no external assets: styles inline, the pass-rate-vs-cost chart an inline SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import jinja2
from rich.table import Table

from taskset.atomic import write_atomic

from harness.config import Tier
from harness.summary import INFRA_RULE, write_summary

HTML_FILE = "report.html"
MD_FILE = "report.md"
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"), autoescape=jinja2.select_autoescape(["html"]),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def money(value: float | None) -> str:
    """Dollars for display; unknown stays unknown."""
    if value is None:
        return "unknown"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def pct(value: float | None) -> str:
    """A share as a percentage."""
    return "-" if value is None else f"{100 * value:.1f}%"


def ci(pair: Sequence[float] | None) -> str:
    """A 95% interval as percentages."""
    return "-" if not pair else f"[{100 * pair[0]:.1f}, {100 * pair[1]:.1f}]"


def secs(value: float | None) -> str:
    """Seconds for display."""
    return "-" if value is None else f"{value:.2f}s"


def strategy_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One display row per strategy (shared by the terminal, HTML and Markdown tables)."""
    rows = []
    for name, s in summary["strategies"].items():
        tokens = s["tokens_per_task"]
        rows.append([name, pct(s["pass_rate"]), ci(s["ci95"]), f"{s['resolved_runs']}/{s['runs']}",
                     money(s["cost_per_task"]), pct(s["cloud_fraction"]), f"{s['attempts_per_task']:.2f}",
                     f"{tokens['prompt']:.0f}/{tokens['completion']:.0f}/{tokens['reasoning']:.0f}",
                     secs(s["latency_median"]), secs(s["ttft_median"]),
                     "-" if s["tokens_per_second"] is None else f"{s['tokens_per_second']:.1f}"])
    return rows


TERMINAL_COLUMNS = 7
"""How many of the strategy columns fit a terminal."""
STRATEGY_HEADERS = ["strategy", "pass rate", "95% CI", "resolved", "cost/task", "cloud", "attempts/task",
                    "tokens in/out/reasoning", "latency p50", "TTFT p50", "tok/s"]


def tables(summary: dict[str, Any]) -> list[Table]:
    """The terminal view: strategies, differences, tiers."""
    main = Table(title=f"{summary['tasks']} tasks, {summary['attempts']} attempts")
    # A terminal is narrow: the first seven columns; tokens and latency are in the HTML report.
    for header in ("strategy", "pass", "95% CI", "solved", "$/task", "cloud", "att/task"):
        main.add_column(header, justify="left" if header == "strategy" else "right", no_wrap=True)
    for row in strategy_rows(summary):
        main.add_row(*row[:TERMINAL_COLUMNS])
    diffs = Table(title="paired differences (resampled by task)")
    for header in ("difference", "pass rate", "95% CI"):
        diffs.add_column(header)
    for d in summary["differences"]:
        diffs.add_row(f"{d['a']} - {d['b']}", f"{100 * d['pass_rate_diff']:+.1f} pts", ci(d["ci95"]))
    tiers = Table(title="tiers alone, and what each recovered in modeE")
    for header in ("tier", "runs", "pass rate", "cost/task", "latency p50", "recovered"):
        tiers.add_column(header)
    for name, t in summary["tiers"].items():
        tiers.add_row(name, str(t["runs"]), pct(t["pass_rate"]), money(t["cost_per_task"]), secs(t["latency_median"]),
                      str(t["recovered"]))
    return [main, diffs, tiers]


def chart(summary: dict[str, Any], width: int = 560, height: int = 320) -> dict[str, Any]:
    """Point coordinates for the pass-rate-vs-cost SVG (strategies with a known cost)."""
    pad = 48
    known = [(n, s) for n, s in summary["strategies"].items() if s["cost_per_task"] is not None]
    top = max([s["cost_per_task"] for _, s in known] + [1e-9])
    def x(cost: float) -> float:
        return pad + (width - 2 * pad) * cost / top
    def y(rate: float) -> float:
        return height - pad - (height - 2 * pad) * rate
    points = [{"name": n, "x": x(s["cost_per_task"]), "y": y(s["pass_rate"]), "lo": y(s["ci95"][0]),
               "hi": y(s["ci95"][1]), "label": f"{n} ({pct(s['pass_rate'])}, {money(s['cost_per_task'])})"}
              for n, s in known]
    ticks = [{"y": y(v / 4), "label": f"{25 * v}%"} for v in range(5)]
    return {"width": width, "height": height, "pad": pad, "points": points, "ticks": ticks, "max_cost": money(top),
            "unknown": [n for n, s in summary["strategies"].items() if s["cost_per_task"] is None]}


def write_report(out: str | Path, prices: Sequence[Tier] | None = None) -> tuple[Path, Path]:
    """Write summary.json, report.html and report.md in the run directory; returns the two reports."""
    out = Path(out)
    summary = write_summary(out, prices)
    context = {"s": summary, "name": out.name, "rows": strategy_rows(summary), "headers": STRATEGY_HEADERS,
               "chart": chart(summary), "money": money, "pct": pct, "ci": ci, "secs": secs, "rule": INFRA_RULE}
    html, md = out / HTML_FILE, out / MD_FILE
    write_atomic(html, _ENV.get_template("report.html.j2").render(context))
    write_atomic(md, _ENV.get_template("report.md.j2").render(context))
    return html, md
