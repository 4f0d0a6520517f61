"""Retrieval recall of each context setting: how many of the gold patch's files the prompt would show.

    python benchmarks/bench_context.py TASKSET [TASKSET ...] [--tier local] [--budgets 4000,12000,24000]

For every task of every task set, every setting (oracle, traceback, bm25) chooses its files at each
budget of ``context_tokens`` (the tier's window still caps it), exactly as ``harness run`` would; a
task's recall is the share of the files its gold patch touches that were chosen. Printed per task
set and setting: mean recall over all tasks, over single-file fixes, and the share of tasks with
every gold file shown. No model is asked. Not a timed test: prints the table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.config import ContextSetting, load_config  # noqa: E402
from harness.loop.context import gold_files, recall, sources_for  # noqa: E402
from taskset import load  # noqa: E402


def measure(taskset: Path, tier_name: str, budgets: list[int]) -> list[tuple]:
    """(setting, budget, tasks, mean recall, single-file tasks, their recall, all-gold share, mean rank) rows.

    The rank is where a gold file stands in the setting's order (1 = the first file shown), over the
    gold files that were shown: two settings with the same recall differ in what they show first.
    """
    tasks = list(load(taskset))
    base = load_config().select([tier_name])[0]
    rows = []
    for setting in ContextSetting:
        for budget in budgets if setting is not ContextSetting.ORACLE else budgets[:1]:
            tier = dataclasses.replace(base, context=setting, context_tokens=budget)
            scores, single, complete, ranks = [], [], 0, []
            for task in tasks:
                gold = gold_files(task)
                shown = list(sources_for(task, tier))
                value = recall(shown, gold)
                if value is None:
                    continue
                ranks += [shown.index(p) + 1 for p in gold if p in shown]
                scores.append(value)
                complete += value == 1.0
                if len(gold) == 1:
                    single.append(value)
            rows.append((setting.value, budget if setting is not ContextSetting.ORACLE else "-", len(scores),
                         _mean(scores), len(single), _mean(single), complete / len(scores) if scores else None,
                         _mean([float(r) for r in ranks])))
    return rows


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def main() -> None:
    """Print one table per task set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasksets", nargs="+", type=Path)
    parser.add_argument("--tier", default="local", help="The tier whose window caps the budget (default: local).")
    parser.add_argument("--budgets", default="4000,12000,24000", help="context_tokens values to measure.")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    for taskset in args.tasksets:
        print(f"\n{taskset} (tier {args.tier})")
        print(f"{'setting':<10} {'tokens':>6} {'tasks':>5} {'recall':>6} {'1-file':>6} {'recall':>6} {'all gold':>8} "
              f"{'rank':>5}")
        for setting, budget, n, mean, n1, mean1, full, rank in measure(taskset, args.tier, budgets):
            shown = "-" if rank is None else f"{rank:.1f}"
            print(f"{setting:<10} {budget!s:>6} {n:>5} {_pct(mean):>6} {n1:>6} {_pct(mean1):>6} {_pct(full):>8} "
                  f"{shown:>5}")


if __name__ == "__main__":
    main()
