"""summary.json: per-strategy pass rates with CIs, paired differences, costs, tokens, latency,
per-tier recovery, the failure-mode catalog and the modeE cost model — all from the records.

Dollars are computed here, from a price table (the run's pinned one, or another to re-price).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from taskset.atomic import write_atomic
from taskset.record import Difficulty

from harness.config import Tier
from harness.modes import INFRASTRUCTURE, FailureMode
from harness.records import ATTEMPTS_FILE, read_attempts
from harness.run import run_settings, run_tiers
from harness.stats import bootstrap_ci, median, paired_ci
from harness.strategies import (ALWAYS_FRONTIER, CARRY, MODE_E, ORACLE_ROUTING, Result, cells_from, live_result,
                                ladder, strategy_result)

SUMMARY_FILE = "summary.json"
INFRA_RULE = ("Infrastructure failures (api-error, timeout, env-failed) count as failed attempts for every "
              "strategy: a ladder that depends on an unreliable endpoint pays for it. They are listed apart "
              "here so that a run dominated by them is rerun rather than read as model failure.")


def summarize(out: str | Path, prices: Sequence[Tier] | None = None) -> dict[str, Any]:
    """The run's statistics; ``prices`` re-prices the run (default: the table pinned in run.json)."""
    out = Path(out)
    settings = run_settings(out)
    tiers = run_tiers(out)
    table = {t.name: t for t in (prices or tiers)}
    records = read_attempts(out / ATTEMPTS_FILE)
    cells = cells_from(records)
    keys = sorted({(r.task, r.seed) for r in records})
    difficulty = _difficulties(settings.get("taskset", ""))
    cap = settings.get("max_attempts", 8)
    names = [s for s in settings.get("strategies", []) if s != MODE_E]
    names = [MODE_E, *names, ORACLE_ROUTING] if MODE_E in settings.get("strategies", []) else [*names, ORACLE_ROUTING]
    results: dict[str, dict[tuple[str, int], Result]] = {}
    for name in names:
        results[name] = {k: strategy_result(name, cells, *k, tiers, table, cap, difficulty.get(k[0], Difficulty.UNKNOWN))
                         for k in keys}
    live = [r for r in records if r.strategy == CARRY]
    if live:
        results[CARRY] = {k: live_result([r for r in live if (r.task, r.seed) == k], table) for k in keys}
    strategies = {name: _strategy(res) for name, res in results.items()}
    return {
        "run": {k: settings.get(k) for k in ("taskset", "seeds", "max_attempts", "carry_over", "started_at")},
        "tasks": len({k[0] for k in keys}),
        "attempts": len(records),
        "prices": {t.name: {"input": t.price_input, "output": t.price_output, "per_hour": t.cost_per_hour}
                   for t in table.values()},
        "strategies": strategies,
        "differences": _differences(results),
        "tiers": _tiers(tiers, cells, keys, table, cap, results.get(MODE_E, {})),
        "failure_modes": _catalog(records),
        "infrastructure_rule": INFRA_RULE,
        "cost_model": _cost_model(tiers, cells, keys, table, cap, strategies),
    }


def write_summary(out: str | Path, prices: Sequence[Tier] | None = None) -> dict[str, Any]:
    """Compute the summary and write ``summary.json`` atomically."""
    data = summarize(out, prices)
    # insertion order is meaningful (modeE first, tiers bottom-up): do not sort keys
    write_atomic(Path(out) / SUMMARY_FILE, json.dumps(data, indent=2) + "\n")
    return data


def _difficulties(taskset_dir: str) -> dict[str, Difficulty]:
    import taskset

    try:
        return {t.instance_id: t.calibration.difficulty for t in taskset.load(taskset_dir)}
    except Exception:  # the task set may have moved since the run; difficulty is then unknown
        return {}


def per_task(results: Mapping[tuple[str, int], Result]) -> dict[str, float]:
    """Task -> share of its (complete) seeds resolved."""
    by_task: dict[str, list[float]] = {}
    for (task, _), result in results.items():
        if result.complete:
            by_task.setdefault(task, []).append(float(result.resolved))
    return {task: sum(v) / len(v) for task, v in by_task.items()}


def _strategy(results: Mapping[tuple[str, int], Result]) -> dict[str, Any]:
    done = [r for r in results.values() if r.complete]
    tasks = per_task(results)
    rate = sum(tasks.values()) / len(tasks) if tasks else 0.0
    costs = [r.cost for r in done]
    attempts = [a for r in done for a in r.attempts]
    answered = [a for a in attempts if a.latency > 0]
    billed = [a.billed_cost for a in attempts if a.billed_cost is not None]
    n = len(done) or 1
    return {
        "pass_rate": rate,
        "ci95": list(bootstrap_ci(list(tasks.values()))),
        "tasks": len(tasks),
        "runs": len(done),
        "incomplete_runs": len(results) - len(done),
        "resolved_runs": sum(r.resolved for r in done),
        "cost_per_task": None if any(c is None for c in costs) else sum(costs) / n,
        "billed_cost": sum(billed) if billed else None,
        "cloud_fraction": sum(r.paid for r in done) / n,
        "attempts_per_task": len(attempts) / n,
        "tokens_per_task": {kind: sum(getattr(a, f"{kind}_tokens") for a in attempts) / n
                            for kind in ("prompt", "completion", "reasoning")},
        "latency_median": median([a.latency for a in answered]),
        "ttft_median": median([a.ttft for a in answered if a.ttft is not None]),
        "tokens_per_second": median([a.completion_tokens / a.latency for a in answered if a.completion_tokens]),
    }


def _differences(results: Mapping[str, Mapping[tuple[str, int], Result]]) -> list[dict[str, Any]]:
    if MODE_E not in results:
        return []
    base = per_task(results[MODE_E])
    out = []
    for name, res in results.items():
        if name == MODE_E:
            continue
        diff, ci = paired_ci(base, per_task(res))
        out.append({"a": MODE_E, "b": name, "pass_rate_diff": diff, "ci95": list(ci)})
    return out


def _tiers(tiers, cells, keys, table, cap, mode_e: Mapping[tuple[str, int], Result]) -> dict[str, Any]:
    out = {}
    for tier in tiers:
        alone = {k: ladder(cells, *k, [tier], table, cap) for k in keys if (k[0], k[1], tier.name) in cells}
        stats = _strategy(alone) if alone else {}
        recovered = sum(1 for r in mode_e.values() if r.complete and r.solved_by == tier.name)
        out[tier.name] = {"runs": len(alone), "pass_rate": stats.get("pass_rate"), "ci95": stats.get("ci95"),
                          "cost_per_task": stats.get("cost_per_task"), "latency_median": stats.get("latency_median"),
                          "ttft_median": stats.get("ttft_median"), "tokens_per_second": stats.get("tokens_per_second"),
                          "recovered": recovered, "priced": tier.priced, "paid": tier.paid}
    return out


def _catalog(records) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        counts.setdefault(record.failure_mode.value, {}).setdefault(record.tier, 0)
        counts[record.failure_mode.value][record.tier] += 1
    total = len(records) or 1
    return {mode.value: {"count": sum(counts.get(mode.value, {}).values()), "by_tier": counts.get(mode.value, {}),
                         "share": sum(counts.get(mode.value, {}).values()) / total,
                         "infrastructure": mode in INFRASTRUCTURE}
            for mode in FailureMode}


def _cost_model(tiers, cells, keys, table, cap, strategies) -> dict[str, Any]:
    """Projected modeE cost per task as a function of the first tier's pass rate p: c1 + (1 - p) * rest."""
    if not tiers or not keys:
        return {}
    first = [ladder(cells, *k, tiers[:1], table, cap) for k in keys]
    rest = [ladder(cells, *k, tiers[1:], table, cap - tiers[0].attempts) for k in keys]
    failed = [r for f, r in zip(first, rest) if not f.resolved and r.attempts] or [r for r in rest if r.attempts]
    c1 = _mean_cost(first)
    c_rest = _mean_cost(failed) if failed else 0.0
    frontier = strategies.get(ALWAYS_FRONTIER, {}).get("cost_per_task")
    p = sum(f.resolved for f in first) / len(first)
    model: dict[str, Any] = {"first_tier_pass_rate": p, "first_tier_cost": c1, "rest_cost_when_first_fails": c_rest,
                             "always_frontier_cost": frontier, "curve": [], "break_even_pass_rate": None}
    if c1 is None or c_rest is None:
        return model
    model["curve"] = [[i / 10, c1 + (1 - i / 10) * c_rest] for i in range(11)]
    if frontier is not None and c_rest > 0:
        model["break_even_pass_rate"] = min(1.0, max(0.0, 1 - (frontier - c1) / c_rest))
    return model


def _mean_cost(results: Sequence[Result]) -> float | None:
    costs = [r.cost for r in results]
    if any(c is None for c in costs):
        return None
    return sum(costs) / len(costs) if costs else 0.0


def load_summary(out: str | Path) -> dict[str, Any]:
    """Read a run directory's summary.json."""
    from harness.errors import RunDirError

    path = Path(out) / SUMMARY_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(str(out), f"no readable {SUMMARY_FILE} ({exc})") from None
