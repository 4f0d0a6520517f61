"""Scale: the same mining work on the local pool and on Ray (1 and 2 workers); Ray's cost per unit.

    python benchmarks/bench_scale.py [--repeats R] [--units N] [--json FILE]

Needs the ray extra (``pip install -e '.[ray]'``). Figures for docs/scale.md:

* mining: the shipped sample (10 candidates, 6 tasks) mined into a fresh directory with a warm
  environment cache, by four engines, interleaved R times: the local pool with ``--jobs 1`` and
  ``--jobs 2``, and Ray with 1 and with 2 workers (a local Ray instance started with
  ``num_cpus=1`` or ``2``; its start-up is timed apart, as a cluster is started once for many
  runs). Per engine, the median wall time, candidates per minute, and tasks per core-hour
  (tasks / (wall x CPUs used) x 3600); ratios against the local pool at the same CPU count.
* cost per unit: N no-op units through each engine's ``run_each`` (the local pool with two
  spawned workers, Ray with 2 workers): median seconds per unit over R rounds, and Ray's extra.
* Ray's own start: seconds for ``ray.init`` of a local instance.

Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_mine import build_sample  # noqa: E402  -- benchmarks/ is sys.path[0] when run as a script

from miner.run import MineConfig, mine  # noqa: E402
from taskset.jobs import pool, raypool  # noqa: E402
from taskset.jobs.pool import Backend  # noqa: E402

ENGINES = (("local --jobs 1", Backend.LOCAL, 1), ("local --jobs 2", Backend.LOCAL, 2),
           ("ray, 1 worker", Backend.RAY, 1), ("ray, 2 workers", Backend.RAY, 2))


def start_ray(cpus: int) -> float:
    """Start a local Ray instance with ``cpus`` workers' worth of CPUs; seconds it took."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="error")
    return time.perf_counter() - started


def stop_ray() -> None:
    import ray

    ray.shutdown()


def noop(item: int) -> int:
    """A unit that does nothing: what is left is the engine's own cost."""
    return item


def per_unit(run_each, units: int) -> float:
    """Seconds per no-op unit through ``run_each`` (two at a time)."""
    seen: list[int] = []
    started = time.perf_counter()
    run_each(noop, range(units), lambda item, result: seen.append(result), jobs=2)
    assert sorted(seen) == list(range(units))
    return (time.perf_counter() - started) / units


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    os.environ.setdefault("LOOPCTL_CACHE", str(Path(tempfile.gettempdir()) / "loopctl-bench-cache"))
    walls: dict[str, list[float]] = {name: [] for name, _, _ in ENGINES}
    done: dict[str, tuple[int, int]] = {}
    starts: list[float] = []
    unit_local: list[float] = []
    unit_ray: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        tmpdir = Path(tmp)
        sample = build_sample(tmpdir / "sample")
        mine(MineConfig(repo=str(sample), out=tmpdir / "warmup", jobs=2))  # warm the environment cache
        for round_ in range(args.repeats):
            for name, backend, cpus in ENGINES:
                if backend is Backend.RAY:
                    starts.append(start_ray(cpus))
                try:
                    summary = mine(MineConfig(repo=str(sample), out=tmpdir / f"{round_}-{cpus}-{backend.value}",
                                              jobs=cpus, backend=backend))
                finally:
                    if backend is Backend.RAY:
                        stop_ray()
                walls[name].append(summary.wall_seconds)
                done[name] = (summary.validated, summary.tasks)
                print(f"round {round_ + 1} {name}: {summary.wall_seconds:.1f} s "
                      f"({summary.validated} candidates, {summary.tasks} tasks)", flush=True)
            unit_local.append(per_unit(pool.run_each, args.units))
            start_ray(2)
            try:
                per_unit(raypool.run_each, 20)  # workers started and the function shipped, as in a long run
                unit_ray.append(per_unit(raypool.run_each, args.units))
            finally:
                stop_ray()
    print()
    print(f"{'engine':<16} {'median wall':>11} {'cand/min':>9} {'tasks/core-h':>13}  runs")
    figures = {}
    for name, _, cpus in ENGINES:
        wall = statistics.median(walls[name])
        candidates, tasks = done[name]
        figures[name] = {"wall": wall, "runs": walls[name], "cpus": cpus, "candidates": candidates, "tasks": tasks,
                         "candidates_per_minute": candidates / wall * 60,
                         "tasks_per_core_hour": tasks / (wall * cpus) * 3600}
        f = figures[name]
        print(f"{name:<16} {wall:>9.1f} s {f['candidates_per_minute']:>9.1f} {f['tasks_per_core_hour']:>13.0f}  "
              + ", ".join(f"{w:.1f}" for w in walls[name]))
    for cpus in (1, 2):
        local = figures[f"local --jobs {cpus}"]["wall"]
        ray = figures[f"ray, {cpus} worker{'s' if cpus > 1 else ''}"]["wall"]
        print(f"{cpus} CPU(s): ray / local wall = {ray / local:.2f}")
    ray1, ray2 = figures["ray, 1 worker"]["wall"], figures["ray, 2 workers"]["wall"]
    print(f"ray 2 workers vs 1: speed-up {ray1 / ray2:.2f}x")
    local_unit, ray_unit = statistics.median(unit_local), statistics.median(unit_ray)
    print(f"no-op unit: local pool {local_unit * 1000:.2f} ms, ray {ray_unit * 1000:.2f} ms "
          f"(ray's extra {1000 * (ray_unit - local_unit):+.2f} ms per unit; {args.units} units, "
          f"{args.repeats} rounds)")
    print(f"ray.init of a local instance: median {statistics.median(starts):.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"engines": figures, "unit_local": unit_local, "unit_ray": unit_ray,
                                         "ray_start": starts}, indent=2))


if __name__ == "__main__":
    main()
