"""Mining speed: candidate detection (commits/s), seconds per validated candidate, overhead ratio.

    python benchmarks/bench_mine.py [--repo PATH] [--commits N] [--repeats R] [--jobs J]

* detection: ``git log`` listing + classification over a generated repository of N commits
  (``git fast-import``, a third of them candidates) or over ``--repo``; median of R repeats.
* validation: the shipped sample mined into a fresh directory R times with a warm environment
  cache; seconds per validated candidate and overhead = validation wall time / pytest time in it.
* repeated run: mining the same range again into the same directory (nothing left to validate).
* jobs: wall time of one cold-output run with ``--jobs 1`` and with ``--jobs J``.

Not a timed test: prints figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from miner.candidates import Candidate, classify, list_commits  # noqa: E402
from miner.run import MineConfig, mine  # noqa: E402


def generate(dest: Path, commits: int) -> Path:
    """A repository of ``commits`` commits; every third changes source and tests together."""
    subprocess.run(["git", "init", "-q", "--bare", str(dest)], check=True)
    lines = []
    for i in range(commits):
        files = [f"pkg/mod{i % 50}.py"] if i % 3 else [f"pkg/mod{i % 50}.py", f"tests/test_mod{i % 50}.py"]
        # successive commits on one branch chain by themselves: no ``from`` needed
        lines.append(f"commit refs/heads/main\ncommitter B <b@x> {1_700_000_000 + i} +0000\ndata 9\nfix #{i:04d}\n")
        for path in files:
            body = f"X = {i}\n"
            lines.append(f"M 100644 inline {path}\ndata {len(body)}\n{body}")
        lines.append("\n")
    subprocess.run(["git", "--git-dir", str(dest), "fast-import", "--quiet"], input="".join(lines).encode(), check=True)
    subprocess.run(["git", "--git-dir", str(dest), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    return dest


def detection(git_dir: Path, repeats: int) -> tuple[int, int, float]:
    """(commits, candidates, median seconds) of listing + classifying the whole history."""
    times, found, commits = [], 0, []
    for _ in range(repeats):
        started = time.perf_counter()
        commits = list_commits(git_dir, ["HEAD"])
        found = sum(isinstance(classify(c), Candidate) for c in commits)
        times.append(time.perf_counter() - started)
    return len(commits), found, statistics.median(times)


def build_sample(dest: Path) -> Path:
    """Build the shipped sample repository at ``dest``."""
    spec = importlib.util.spec_from_file_location("sample_builder", ROOT / "sample" / "build_sample_repo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_builder"] = module
    spec.loader.exec_module(module)
    module.build(dest)
    return dest


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, help="measure detection on this repository instead")
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("LOOPCTL_CACHE", str(Path(tempfile.gettempdir()) / "loopctl-bench-cache"))
    with tempfile.TemporaryDirectory(prefix="bench-mine-") as tmp:
        tmpdir = Path(tmp)
        git_dir = args.repo or generate(tmpdir / "generated.git", args.commits)
        n, found, seconds = detection(git_dir, args.repeats)
        print(f"detection: {n} commits, {found} candidates, median {seconds:.3f} s -> {n / seconds:,.0f} commits/s")
        sample = build_sample(tmpdir / "sample")
        mine(MineConfig(repo=str(sample), out=tmpdir / "warmup"))  # warm the environment cache
        per, ratios, walls = [], [], []
        for i in range(args.repeats):
            summary = mine(MineConfig(repo=str(sample), out=tmpdir / f"run{i}"))
            per.append(summary.validation_seconds / summary.validated)
            ratios.append(summary.overhead)
            walls.append(summary.wall_seconds)
        print(f"validation: {summary.validated} candidates/run, median {statistics.median(per):.2f} s per candidate, "
              f"median run {statistics.median(walls):.1f} s")
        print(f"overhead ratio (validation wall / pytest time): median {statistics.median(ratios):.2f} "
              f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})")
        again = [mine(MineConfig(repo=str(sample), out=tmpdir / "run0")).wall_seconds for _ in range(args.repeats)]
        print(f"repeated run over a mined range: median {statistics.median(again):.2f} s")
        one = mine(MineConfig(repo=str(sample), out=tmpdir / "jobs1", jobs=1)).wall_seconds
        many = mine(MineConfig(repo=str(sample), out=tmpdir / "jobsN", jobs=args.jobs)).wall_seconds
        print(f"jobs: --jobs 1 {one:.1f} s, --jobs {args.jobs} {many:.1f} s, speed-up {one / many:.2f}x")


if __name__ == "__main__":
    main()
