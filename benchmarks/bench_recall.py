"""Recall on hand-verified bug fixes of projects the miner was not tuned on.

    python benchmarks/bench_recall.py SNAPSHOT [SNAPSHOT ...] [--half tune|holdout|fresh] [--jobs N]
                                      [--only owner/name] [--keep DIR]

Each SNAPSHOT is a local copy of a repository, given as ``owner/name=PATH`` or as a path whose
folder says ``owner+name`` (what ``/work/.mirror/owner+name/repo`` looks like); nothing is
fetched. ``benchmarks/recall_fixes.json`` lists, per project, fix commits whose FAIL_TO_PASS
tests were verified by hand (``benchmarks/verify_fix.py``: plain git, a venv, pytest; the tests
fail before the fix and pass after it, together and when selected alone). Each project's fixes
are mined with ``--commit`` (the interpreter they were verified with: the host's, or
``--python auto`` where the verification needed an older one). A fix is recovered when the miner
makes a task of it whose FAIL_TO_PASS holds every verified test; tests the task has beyond the
verified ones are listed (they would be fail-to-pass claims nobody checked).

Each project also lists ``negatives``: real commits of it that change both source and test files
but whose touched tests do not fail before the change and pass after it (verified the same way:
``verify_fix.py`` found no FAIL_TO_PASS test; the picking rule is in the data's ``about``). They
are mined in the same ``--commit`` run as the project's fixes (grouped by the same interpreter
choice), and the output reports, per project and per half, how many of them became tasks and
which: every one that did is a fail-to-pass claim the miner should not have made.

Every project belongs to one part, ``tune``, ``holdout`` or ``fresh`` (the rules are in the data's
``about``): ``--half`` mines only that part's projects, so a held-out part can stay unmined until
the work it measures is done. A project without verified fixes is skipped (mining no ``--commit``
would mine its whole history).

Not a timed test: prints the table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from miner import MineConfig, ValidateConfig, mine, read_rejections  # noqa: E402
from taskset import load  # noqa: E402

DATA = Path(__file__).with_name("recall_fixes.json")
HALVES = ("tune", "holdout", "fresh")
"""tune: the miner was tuned on it; holdout: measured once after issue 23's first round; fresh: projects
collected after that measurement, measured once after the second round (the data's ``about``)."""


def snapshots(args: list[str]) -> dict[str, Path]:
    """``owner/name`` -> local repository path, from the command line."""
    found = {}
    for arg in args:
        if "=" in arg:
            name, path = arg.split("=", 1)
        else:
            path = arg
            match = re.search(r"([^/+]+)\+([^/]+)", arg)
            if not match:
                sys.exit(f"{arg}: say owner/name=PATH (the folder name does not say owner+name)")
            name = f"{match.group(1)}/{match.group(2)}"
        if not Path(path).exists():
            sys.exit(f"{path}: no such snapshot")
        found[name] = Path(path)
    return found


def run_project(name: str, path: Path, project: dict, jobs: int, out_root: Path) -> tuple[list[dict], list[dict]]:
    """Mine the project's verified fixes and negatives together.

    Returns one row per fix (recovered or not, and why) and one per negative (whether it became a
    task, and otherwise why it was rejected).
    """
    rows: list[dict] = []
    negative_rows: list[dict] = []
    groups: dict[str, tuple[list[dict], list[dict]]] = {}
    for fix in project["fixes"]:
        groups.setdefault(fix.get("mine_python", "host"), ([], []))[0].append(fix)
    for negative in project.get("negatives", []):
        groups.setdefault(negative.get("mine_python", "host"), ([], []))[1].append(negative)
    for python, (fixes, negatives) in groups.items():
        out = out_root / f"{name.replace('/', '__')}-{python}"
        validate = ValidateConfig() if python == "host" else ValidateConfig(python=python)
        commits = tuple(f["commit"] for f in fixes) + tuple(n["commit"] for n in negatives)
        config = MineConfig(repo=str(path), name=name, out=out, commits=commits, jobs=jobs, validate=validate)
        summary = mine(config)
        if summary.infrastructure:
            sys.exit(f"{name}: the machine failed: {summary.infrastructure}")
        # every fix of the group rejected: the miner wrote no task set, only its rejections
        tasks = {task.fix_commit: task for task in load(out)} if (out / "tasks").is_dir() else {}
        rejected = {r.fix_commit: r for r in read_rejections(out / "rejections.jsonl")}
        for fix in fixes:
            sha = _full(fix["commit"], list(tasks) + list(rejected))
            task, why = tasks.get(sha), rejected.get(sha)
            expected = set(fix["fail_to_pass"])
            got = set(task.FAIL_TO_PASS) if task else set()
            rows.append({
                "commit": fix["commit"][:10],
                "recovered": bool(task) and expected <= got,
                "missing": sorted(expected - got) if task else [],
                "extra": sorted(got - expected),
                "why": f"{why.reason.value}: {why.detail.splitlines()[0] if why.detail else ''}" if why else "",
                "python": task.environment.python if task else "",
            })
        for negative in negatives:
            sha = _full(negative["commit"], list(tasks) + list(rejected))
            task, why = tasks.get(sha), rejected.get(sha)
            negative_rows.append({
                "commit": negative["commit"][:10],
                "task": bool(task),
                "fail_to_pass": sorted(task.FAIL_TO_PASS) if task else [],
                "why": why.reason.value if why else "",
            })
    return rows, negative_rows


def _full(short: str, shas: list[str]) -> str:
    return next((sha for sha in shas if sha.startswith(short)), short)


def main() -> None:
    """Mine every project's verified fixes and negatives; print recall and negatives made tasks per project."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshots", nargs="+", help="owner/name=PATH, or a path whose folder is owner+name")
    parser.add_argument("--half", choices=HALVES, help="only this part's projects (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", action="append", default=[], help="only this owner/name (repeatable)")
    parser.add_argument("--keep", type=Path, help="keep the mined task sets here")
    args = parser.parse_args()
    data = json.loads(DATA.read_text(encoding="utf-8"))
    paths = snapshots(args.snapshots)
    out_root = args.keep or Path(tempfile.mkdtemp(prefix="bench-recall-"))
    counts: dict[str, list[int]] = {}
    negative_counts: dict[str, list[int]] = {}
    negative_tasks: dict[str, list[str]] = {}
    half = args.half or "all parts"
    print(f"half: {half}")
    print(f"{'project':<32} {'style':<48} {'recall':>9}  missed")
    for name, project in data["projects"].items():
        if (args.only and name not in args.only) or name not in paths or not project["fixes"]:
            continue
        if args.half and project["half"] != args.half:
            continue
        started = time.monotonic()
        rows, negatives = run_project(name, paths[name], project, args.jobs, out_root)
        found = sum(row["recovered"] for row in rows)
        tally = counts.setdefault(project["half"], [0, 0])
        tally[0], tally[1] = tally[0] + found, tally[1] + len(rows)
        missed = "; ".join(f"{r['commit']} {r['why'] or 'missing ' + ', '.join(r['missing'])}" for r in rows
                           if not r["recovered"])
        label = name if args.half else f"{name} ({project['half']})"
        print(f"{label:<32} {project['style'][:48]:<48} {found:>3}/{len(rows):<3} {missed}  "
              f"({time.monotonic() - started:.0f} s)")
        for row in rows:
            if row["extra"]:
                print(f"    {row['commit']}: FAIL_TO_PASS beyond the verified tests: {', '.join(row['extra'][:5])}")
        became = [row for row in negatives if row["task"]]
        tally = negative_counts.setdefault(project["half"], [0, 0])
        tally[0], tally[1] = tally[0] + len(became), tally[1] + len(negatives)
        negative_tasks.setdefault(project["half"], []).extend(f"{name} {row['commit']}" for row in became)
        if negatives:
            kept_out = ", ".join(f"{row['commit']} {row['why'] or 'no task'}" for row in negatives if not row["task"])
            print(f"    negatives that became tasks: {len(became)}/{len(negatives)}"
                  + "".join(f"; {row['commit']} (FAIL_TO_PASS {', '.join(row['fail_to_pass'][:3])})" for row in became)
                  + (f"  (rejected: {kept_out})" if kept_out else ""))
    for which, (hit, total) in sorted(counts.items()):
        print(f"{'overall, ' + which:<32} {'':<48} {hit:>3}/{total:<3} = {100 * hit / total:.0f}%")
    for which, (became_tasks, total) in sorted(negative_counts.items()):
        listed = f": {', '.join(negative_tasks[which])}" if negative_tasks[which] else ""
        print(f"{'overall, ' + which:<32} negatives that became tasks: {became_tasks}/{total}{listed}")
    print(f"task sets in {out_root}")


if __name__ == "__main__":
    main()
