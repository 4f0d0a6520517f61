"""What the sandbox costs: ``evaluate()`` on the sample's tasks, confined and unconfined (target: at most +10%).

Mines the shipped sample (or takes a mined task set), warms every environment, then evaluates
the gold patch of every task ``--rounds`` times per sandbox kind, the kinds interleaved within
each round so machine load falls on all of them alike. Prints the median seconds per evaluation
for each kind and each kind's ratio to ``none``.

    .venv/bin/python benchmarks/bench_evaluate.py [--taskset DIR] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import taskset  # noqa: E402
from taskset.evaluation import sandbox  # noqa: E402
from taskset.evaluation.sandbox import SandboxKind, SandboxWarning  # noqa: E402
from taskset.evaluation.verdict import evaluate  # noqa: E402

TARGET = 1.10
ROOT = Path(__file__).resolve().parents[1]


def mined_sample(out: Path) -> Path:
    """The sample task set, mined with the installed ``mine`` (reused when already there)."""
    if not (out / "index.json").is_file():
        mine = Path(sys.executable).parent / "mine"
        subprocess.run([str(mine), "--repo", str(ROOT / "sample" / "calclib.bundle"), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
    return out


def time_one(task, kind: SandboxKind) -> float:
    os.environ[sandbox.CHOICE_ENV] = kind.value
    started = time.perf_counter()
    verdict = evaluate(task, patch=task.patch)
    elapsed = time.perf_counter() - started
    if not verdict.resolved or verdict.sandbox != kind.value:
        raise SystemExit(f"{task.instance_id}: gold not resolved under {kind.value}: {verdict.message}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taskset", type=Path, help="a mined task set (default: mine the sample)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", SandboxWarning)
    kinds = [SandboxKind.NONE] + [k for k in (SandboxKind.BWRAP, SandboxKind.UNSHARE) if sandbox._works(k)]
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as tmp:
        root = args.taskset or mined_sample(Path(tmp) / "sample")
        tasks = list(taskset.load(root))
        for task in tasks:  # warm: environments built, mirrors cloned, interpreters probed
            time_one(task, SandboxKind.NONE)
        times: dict[SandboxKind, list[float]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for task in tasks:
                for kind in kinds:
                    times[kind].append(time_one(task, kind))
    base = statistics.median(times[SandboxKind.NONE])
    load = os.getloadavg()[0]
    print(f"evaluate() of the gold patch, {len(tasks)} tasks x {args.rounds} rounds, load average {load:.2f}")
    print(f"{'sandbox':<10} {'median s':>9} {'ratio':>7}")
    for kind in kinds:
        median = statistics.median(times[kind])
        print(f"{kind.value:<10} {median:>9.3f} {median / base:>7.3f}")
    worst = max(statistics.median(times[k]) / base for k in kinds)
    print(f"target: ratio <= {TARGET:.2f} -> {'met' if worst <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
