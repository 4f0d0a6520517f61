"""Hand verification of one bug fix, independent of loopctl's own code: how recall_fixes.json was made.

    python benchmarks/verify_fix.py GITDIR SHA [--python 3.11] [--deps "freezegun pyyaml"]
                                    [--no-install] [--keep] [--timeout 900]

Plain tools only: ``git archive`` of the parent, the fix's test-side changes applied with
``git apply``, a ``uv venv`` of the asked interpreter (pyenv's ``versions/`` are searched), pytest
and the given test dependencies installed as of the fix's date (at least the interpreter's era,
the day pytest 3.5 or the interpreter's first working pytest appeared), the project installed
editable (``--no-install``: from the tree via PYTHONPATH). The touched test modules run (when the
fix touches only shared test code, the folders holding it) before and after the source changes;
outcomes come from a ten-line pytest plugin of this script. FAIL_TO_PASS = failed or errored
before, passed after; ``confirmed`` when those tests, selected on their own, fail before and pass
after again. A pytest run cut by ``--timeout`` is named in ``cut`` (and on stderr): the tests it did
not reach have no outcome, so a fix among them is missing from f2p, not refuted.

Prints one JSON object: sha, python, date, modules, f2p, confirmed, fail_both, pass_to_fail, cut.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ERA = {"3.6": "2018-03-22", "3.7": "2018-06-27", "3.8": "2019-10-14", "3.9": "2020-10-05", "3.10": "2021-10-04",
       "3.11": "2022-10-25", "3.12": "2023-10-24", "3.13": "2024-10-07"}
"""The earliest resolution date per interpreter: its release, or the day its first working pytest appeared."""
CUTOFFS = ("atomicwrites=2022-07-09", "setuptools=2019-02-06", "wheel=2019-02-06")
"""Packages whose usable releases appeared after old resolution dates (see taskset/env/install.py)."""
TESTS = r"(^|/)tests?/|(^|/)tests?\.py$|(^|/)test_[^/]*\.py$|_test\.py$|(^|/)conftest\.py$"

PLUGIN = """
import json, os
def _write(record):
    with open(os.environ["VERIFY_OUT"], "a") as handle:
        handle.write(json.dumps(record) + "\\n")
def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _write({"id": report.nodeid, "when": report.when, "outcome": report.outcome})
def pytest_collectreport(report):
    if report.outcome == "failed":
        _write({"id": report.nodeid, "when": "collect", "outcome": "failed"})
"""


def sh(*args, cwd=None, input=None, check=True, env=None, timeout=None):
    """Run a command; exit with its stderr when ``check`` and it fails; a timeout counts as a failure."""
    try:
        done = subprocess.run(args, cwd=cwd, input=input, capture_output=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(args, -9, exc.stdout or b"", exc.stderr or b"")
    if check and done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{done.stderr.decode(errors='replace')[-3000:]}")
    return done


TIMEOUT = "TIMEOUT::"
"""The key a run cut by the timeout carries (its value: the seconds it was given)."""


def run_pytest(venv: Path, tree: Path, targets: list[str], source_path: list[str], timeout: int) -> dict[str, str]:
    """node id -> PASSED/FAILED/ERROR/SKIPPED; a module that cannot be collected is ``COLLECT::<path>``;
    a run cut by ``timeout`` seconds has a ``TIMEOUT::`` key (the tests after the cut are absent)."""
    plug = Path(tempfile.mkdtemp(prefix="verify-plugin-"))
    (plug / "verifyplug.py").write_text(PLUGIN)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv}/bin:" + env["PATH"]
    env["PYTHONPATH"] = os.pathsep.join([str(plug), *source_path])
    env["VERIFY_OUT"] = str(plug / "out.jsonl")
    done = sh(f"{venv}/bin/python", "-m", "pytest", "-p", "no:cacheprovider", "-p", "verifyplug", "-q", "--color=no",
              "--continue-on-collection-errors", *targets, cwd=tree, check=False, env=env, timeout=timeout)
    results: dict[str, str] = {}
    if done.returncode == -9:
        # a whole module of a big suite can outlast the timeout: what it did not reach is unknown, say so
        print(f"pytest cut after {timeout}s on {' '.join(targets)[:200]}: later tests have no outcome",
              file=sys.stderr)
        results[TIMEOUT] = str(timeout)
    lines = (plug / "out.jsonl").read_text().splitlines() if (plug / "out.jsonl").exists() else []
    if not lines:
        # pytest stopped before any test (a usage error such as an addopts plugin that is not installed):
        # say why, or the fix would look like one whose tests pass on both sides.
        said = (done.stdout + done.stderr).decode(errors="replace")[-1500:]
        print(f"pytest ran no test (exit {done.returncode}):", said, file=sys.stderr)
    for line in lines:
        record = json.loads(line)
        if record["when"] == "collect":
            results["COLLECT::" + record["id"]] = "ERROR"
            continue
        outcome = {"passed": "PASSED", "failed": "FAILED" if record["when"] == "call" else "ERROR",
                   "skipped": "SKIPPED"}[record["outcome"]]
        if results.get(record["id"]) not in ("FAILED", "ERROR"):
            results[record["id"]] = outcome
    shutil.rmtree(plug, ignore_errors=True)
    return results


def failed(results: dict[str, str], test: str) -> bool:
    """Failed or errored, or hidden by a collection error of its module."""
    if results.get(test) in ("FAILED", "ERROR"):
        return True
    return test not in results and any(k.startswith("COLLECT::") and test.startswith(k[9:]) for k in results)


def main() -> None:
    """Verify one fix and print the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gitdir")
    parser.add_argument("sha")
    parser.add_argument("--python", default="3.11", help="an interpreter minor (searched in pyenv) or a path")
    parser.add_argument("--deps", default="", help="test dependencies besides pytest, space-separated")
    parser.add_argument("--no-install", action="store_true", help="run the project from its tree (PYTHONPATH)")
    parser.add_argument("--keep", action="store_true", help="keep the tree and venv")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one pytest run may take")
    args = parser.parse_args()
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    git = ["git", "--git-dir", args.gitdir]
    sha = sh(*git, "rev-parse", args.sha).stdout.decode().strip()
    parent = sh(*git, "rev-parse", sha + "^").stdout.decode().strip()
    date = max(sh(*git, "log", "-1", "--format=%cI", sha).stdout.decode()[:10], ERA.get(args.python, ""))
    names = [n for n in sh(*git, "diff", "--name-only", "--no-renames", parent, sha).stdout.decode().splitlines() if n]
    tests = [n for n in names if re.search(TESTS, n)]
    source = [n for n in names if n not in tests]
    tmp = Path(tempfile.mkdtemp(prefix="verify-"))
    tree = tmp / "tree"
    tree.mkdir()
    sh("tar", "-x", "-C", str(tree), input=sh(*git, "archive", parent).stdout)
    test_patch = sh(*git, "diff", "--binary", "--no-renames", parent, sha, "--", *tests).stdout
    source_patch = sh(*git, "diff", "--binary", "--no-renames", parent, sha, "--", *source).stdout
    if test_patch:
        sh("git", "apply", "--whitespace=nowarn", "-", cwd=tree, input=test_patch)
    venv = tmp / "venv"
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{args.python}.*/bin/python{args.python}")))
    sh(uv, "venv", "-q", "-p", found[-1] if found else args.python, str(venv))
    install = [uv, "pip", "install", "-q", "--python", f"{venv}/bin/python", "--exclude-newer", date + "T23:59:59Z"]
    install += [arg for cutoff in CUTOFFS if cutoff.split("=")[1] > date for arg in ("--exclude-newer-package", cutoff)]
    install += ["pytest", *args.deps.split()]
    source_path: list[str] = []
    if args.no_install:
        source_path = [str(p) for p in (tree / "src", tree) if p.is_dir()]
    else:
        install += ["-e", str(tree)]
    sh(*install, env={**os.environ, "SETUPTOOLS_SCM_PRETEND_VERSION": "99.0"})
    modules = [t for t in tests if t.endswith(".py") and (tree / t).is_file()
               and Path(t).name not in ("conftest.py", "__init__.py")]
    targets = modules or sorted({str(Path(t).parent) for t in tests if (tree / t).exists()})
    before = run_pytest(venv, tree, targets, source_path, args.timeout)
    if source_patch:
        sh("git", "apply", "--whitespace=nowarn", "-", cwd=tree, input=source_patch)
    after = run_pytest(venv, tree, targets, source_path, args.timeout)
    f2p = sorted(t for t, outcome in after.items() if outcome == "PASSED" and failed(before, t))
    confirmed = None
    if f2p:
        again = run_pytest(venv, tree, f2p, source_path, args.timeout)
        sh("git", "apply", "-R", "--whitespace=nowarn", "-", cwd=tree, input=source_patch)
        buggy = run_pytest(venv, tree, f2p, source_path, args.timeout)
        confirmed = all(again.get(t) == "PASSED" for t in f2p) and all(failed(buggy, t) for t in f2p)
    print(json.dumps({
        "sha": sha, "python": args.python, "date": date, "modules": targets, "f2p": f2p, "confirmed": confirmed,
        "fail_both": sorted(t for t, o in after.items() if o in ("FAILED", "ERROR") and failed(before, t)),
        "pass_to_fail": sorted(t for t, o in after.items() if o in ("FAILED", "ERROR") and before.get(t) == "PASSED"),
        "cut": [name for name, run in (("before", before), ("after", after)) if TIMEOUT in run],
    }))
    if args.keep:
        print("kept", tmp, file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
