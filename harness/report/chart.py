"""Geometry for the report's two inline SVG charts (pure: numbers in, coordinates out).

Pass rate against cost per task, one coloured mark per strategy with its 95% interval, named in
a legend beside the chart (never in labels that could run off the plot); marks at the same spot
are spread sideways and the legend says so. When every known cost is $0 the cost axis carries
no information, and the chart says that instead of drawing one pile of dots. The cascade chart
plots pass rate against the cloud fraction, one point per threshold, with always-local and
always-frontier as the ends of the trade-off.
"""

from __future__ import annotations

import math
from typing import Any

from harness.report.display import money, pct

WIDTH, HEIGHT = 640, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 16, 46
PALETTE = ("#1b6ca8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#4d4d4d", "#8ab17d", "#c05299")
SPREAD = 9.0
"""Pixels between marks that would sit on the same spot."""
INSET = 10.0
"""Pixels between an axis and the nearest mark, so that no mark or interval bar sits on an axis."""


def _y(rate: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - rate)


def _ticks_y() -> list[dict[str, Any]]:
    return [{"y": round(_y(v / 4), 1), "label": f"{25 * v}%"} for v in range(5)]


def _nice(top: float) -> float:
    """A round axis end at or above ``top``."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= top)


def _spread(points: list[dict[str, Any]]) -> None:
    """Move marks that coincide apart horizontally, and name what each overlapped."""
    groups: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault((round(point["x"]), round(point["y"])), []).append(point)
    for group in groups.values():
        if len(group) < 2:
            continue
        for i, point in enumerate(group):
            point["x"] = round(point["x"] + (i - (len(group) - 1) / 2) * SPREAD, 1)
            point["same_as"] = [p["name"] for p in group if p is not point]


def cost_chart(summary: dict[str, Any]) -> dict[str, Any]:
    """Marks for pass rate vs estimated cost per task; strategies with an unknown cost are listed apart."""
    strategies = summary["strategies"]
    known = [(n, s) for n, s in strategies.items() if s["cost_per_task"] is not None and s["pass_rate"] is not None]
    top = max([s["cost_per_task"] for _, s in known], default=0.0)
    free = bool(known) and top == 0
    end = _nice(top)
    plot_w = WIDTH - LEFT - RIGHT - 2 * INSET
    points = []
    for i, (name, s) in enumerate(known):
        # all free: spread the marks evenly so that each stays visible; the x axis then means nothing
        x = LEFT + INSET + plot_w * ((i + 1) / (len(known) + 1) if free else s["cost_per_task"] / end)
        lo, hi = s["ci95"] or (s["pass_rate"], s["pass_rate"])
        points.append({"name": name, "x": round(x, 1), "y": round(_y(s["pass_rate"]), 1), "lo": round(_y(lo), 1),
                       "hi": round(_y(hi), 1), "color": PALETTE[i % len(PALETTE)], "same_as": [],
                       "label": f"{pct(s['pass_rate'])} at {money(s['cost_per_task'])}/task"})
    if not free:
        _spread(points)
    decimals = max(2, 1 - math.floor(math.log10(end / 4)))
    ticks_x = [] if free else [{"x": round(LEFT + INSET + plot_w * f, 1), "label": f"${end * f:,.{decimals}f}"}
                               for f in (0, .25, .5, .75, 1)]
    note = ""
    if free:
        note = ("Every plotted strategy cost $0.00 per task at the run's prices (no paid tier was used, or its "
                "price is zero), so the horizontal position carries no information: only pass rates differ.")
    unknown = [n for n, s in strategies.items() if s["cost_per_task"] is None]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "points": points, "ticks_y": _ticks_y(), "ticks_x": ticks_x,
            "x_label": "strategies (cost $0 for all)" if free else "estimated cost per task", "note": note,
            "unknown": unknown}


def cascade_chart(summary: dict[str, Any]) -> dict[str, Any] | None:
    """Points for pass rate vs cloud fraction over the cascade thresholds, with the two pure strategies."""
    points = [p for p in (summary.get("cascade") or {}).get("points", []) if p["pass_rate"] is not None
              and p["cloud_fraction"] is not None]
    if not points:
        return None
    plot_w = WIDTH - LEFT - RIGHT - 2 * INSET

    def x(fraction: float) -> float:
        return round(LEFT + INSET + plot_w * fraction, 1)

    marks: list[dict[str, Any]] = [
        {"x": x(p["cloud_fraction"]), "y": round(_y(p["pass_rate"]), 1), "threshold": f"{p['threshold']:g}",
         "label": f"t={p['threshold']:g}: {pct(p['pass_rate'])}, {pct(p['cloud_fraction'])} cloud"}
        for p in points
    ]
    spots: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for mark in marks:
        spots.setdefault((mark["x"], mark["y"]), []).append(mark)
    for group in spots.values():  # one label per spot: "10, 15, 20" where thresholds coincide
        for i, mark in enumerate(group):
            mark["threshold"] = ", ".join(m["threshold"] for m in group) if i == 0 else ""
    for mark in marks:  # threshold labels above the point, kept inside the plot
        mark["anchor"] = "start" if mark["x"] < LEFT + 30 else "end" if mark["x"] > WIDTH - RIGHT - 30 else "middle"
        mark["label_y"] = max(TOP + 10, mark["y"] - 9)
    line = " ".join(f"{m['x']},{m['y']}" for m in sorted(marks, key=lambda m: (m["x"], m["y"])))
    ends = []
    for name, color in (("always-local", PALETTE[1]), ("always-frontier", PALETTE[2])):
        s = summary["strategies"].get(name)
        if s and s["pass_rate"] is not None and s["cloud_fraction"] is not None:
            ends.append({"name": name, "x": x(s["cloud_fraction"]), "y": round(_y(s["pass_rate"]), 1), "color": color,
                         "label": f"{name}: {pct(s['pass_rate'])}, {pct(s['cloud_fraction'])} cloud"})
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "marks": marks, "line": line, "ends": ends, "ticks_y": _ticks_y(),
            "ticks_x": [{"x": x(f), "label": f"{int(100 * f)}%"} for f in (0, .25, .5, .75, 1)]}
