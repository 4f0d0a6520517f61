"""The driver's own work, which no backend spreads out: per repository, and per finished unit.

    python benchmarks/bench_driver.py [--repos FILE | REPO ...] [--records N] [--repeats R]

* per repository (``mine`` walks every repository in the driver before validating): mirroring it
  into an empty cache (a clone from a local path here: no network), listing and classifying its
  commits, each commit's test conventions, and reading the candidates' details (PyDriller);
  seconds per repository, per 1,000 commits and per candidate.
* per unit: what the driver does when a unit's result arrives: a task file written atomically
  with its index (``Ledger.add_task``) and a rejection line appended (fsync'd); median ms.

Figures for docs/scale.md. Not a timed test.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from miner.candidates import Candidate, classify, details, list_commits  # noqa: E402
from miner.ledger import Ledger  # noqa: E402
from miner.rejections import Reason, Rejection  # noqa: E402
from miner.source import open_source, read_repo_list  # noqa: E402
from miner.testconfig import conventions_by_commit  # noqa: E402
from taskset.workspace.testfiles import DEFAULT  # noqa: E402


def walk(location: str) -> dict:
    """Time the driver's phases for one repository, into the (empty) cache LOOPCTL_CACHE names."""
    started = time.perf_counter()
    source = open_source(location)
    mirrored = time.perf_counter()
    commits = list_commits(source.git_dir, source.revisions)
    per_commit = conventions_by_commit(source.git_dir, [c.sha for c in commits], DEFAULT,
                                       source.name.split("/")[-1])
    found = [v for v in (classify(c, per_commit.get(c.sha, DEFAULT)) for c in commits) if isinstance(v, Candidate)]
    walked = time.perf_counter()
    details(source.git_dir, found)
    read = time.perf_counter()
    return {"repo": source.name, "commits": len(commits), "candidates": len(found), "mirror": mirrored - started,
            "walk": walked - mirrored, "details": read - walked}


def records(n: int, repeats: int) -> tuple[float, float]:
    """Median ms to record a task, and a rejection, through the ledger (fsync'd)."""
    from factories import make_task  # the tests' task builder: a realistic record

    task_ms, reject_ms = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-driver-") as tmp:
            ledger = Ledger(tmp)
            base = make_task()
            times = []
            for i in range(n):
                task = dataclasses.replace(base, instance_id=f"octo__lib-{i:012x}", fix_commit=f"{i:040x}")
                started = time.perf_counter()
                ledger.add_task(task)
                times.append(time.perf_counter() - started)
            task_ms.append(1000 * statistics.median(times))
            times = []
            for i in range(n):
                rejection = Rejection(f"{n + i:040x}", Reason.NO_FAIL_TO_PASS, "nothing failed", "subject", 1.0)
                started = time.perf_counter()
                ledger.add_rejections([rejection])
                times.append(time.perf_counter() - started)
            reject_ms.append(1000 * statistics.median(times))
    return statistics.median(task_ms), statistics.median(reject_ms)


def main() -> None:
    """Run the measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="*", help="repositories (URLs, paths, bundles) to walk")
    parser.add_argument("--repos", dest="repos_file", type=Path, help="a --repos file to walk instead")
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    locations = list(read_repo_list(args.repos_file)) if args.repos_file else list(args.repos)
    rows = []
    for location in locations:
        with tempfile.TemporaryDirectory(prefix="bench-driver-cache-") as cache:
            os.environ["LOOPCTL_CACHE"] = cache
            rows.append(walk(location))
    if rows:
        print(f"{'repository':<34} {'commits':>7} {'cand.':>6} {'mirror s':>9} {'walk s':>7} {'details s':>9}")
        for row in rows:
            print(f"{row['repo']:<34} {row['commits']:>7} {row['candidates']:>6} {row['mirror']:>9.2f} "
                  f"{row['walk']:>7.2f} {row['details']:>9.2f}")
        commits = sum(r["commits"] for r in rows)
        candidates = sum(r["candidates"] for r in rows)
        total = [r["mirror"] + r["walk"] + r["details"] for r in rows]
        print(f"per repository: median {statistics.median(total):.2f} s (mirror + walk + details), "
              f"total {sum(total):.1f} s for {len(rows)}")
        print(f"walk: {1000 * sum(r['walk'] for r in rows) / commits:.2f} ms per commit; details: "
              f"{1000 * sum(r['details'] for r in rows) / max(candidates, 1):.1f} ms per candidate")
    task_ms, reject_ms = records(args.records, args.repeats)
    print(f"recording a result: task {task_ms:.2f} ms, rejection {reject_ms:.2f} ms (median, fsync'd)")


if __name__ == "__main__":
    main()
