"""Runs inside a Harbor task's container, called by the ``tests/test.sh`` loopctl wrote.

It is copied into every exported task as ``tests/loopctl/plugin/loopctl_harbor.py`` and runs
with the task's own interpreter (any Python from 3.6 on), so it imports nothing but the standard
library, and pytest only as a plugin. Three jobs, in the order test.sh calls them:

``restore ROOT MANIFEST``
    The evaluator's rule: before a verdict the test files and pytest's configuration go back to
    the fix commit's version (content, mode, absence), whatever the agent did to them; a pytest
    configuration file the agent added is removed; bytecode is cleared.
``-p loopctl_harbor`` (as a pytest plugin)
    Every test's outcome by its exact node id (``setup``, ``call`` and ``teardown`` together),
    written as JSON to ``$LOOPCTL_HARBOR_RESULTS`` when the session ends.
``grade OUT_DIR FAIL_TO_PASS ID... PASS_TO_PASS ID...``
    ``OUT_DIR/reward.txt``: 1 only when every listed id passed (skipped, missing or errored is
    not a pass), else 0; ``OUT_DIR/tests.json``: the outcome of every listed id.
"""

import json
import os
import shutil
import stat
import sys

RESULTS_ENV = "LOOPCTL_HARBOR_RESULTS"
RESULTS_FILE = "outcomes.json"
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
"""The worst phase decides: a test whose teardown errored did not pass."""

_outcomes = {}  # type: dict


# --- restore ------------------------------------------------------------------------------------


def restore(root, manifest_path):
    """Put the fix commit's test files and pytest configuration back under ``root``."""
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    files_dir = os.path.join(os.path.dirname(manifest_path), "files")
    kept = set(manifest["files"])
    names = set(manifest["config_names"])
    for top, dirs, files in os.walk(root):
        if top == root and ".git" in dirs:
            dirs.remove(".git")
        for name in list(dirs):
            if name == "__pycache__":
                dirs.remove(name)
                _remove(os.path.join(top, name))
        for name in files:
            rel = os.path.relpath(os.path.join(top, name), root).replace(os.sep, "/")
            if name.endswith((".pyc", ".pyo")) or (name in names and rel not in kept):
                _remove(os.path.join(top, name))
    for rel, entry in sorted(manifest["files"].items()):
        target = os.path.join(root, *rel.split("/"))
        _clear_way(root, rel)
        _remove(target)
        if entry is None:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if "link" in entry:
            os.symlink(entry["link"], target)
        else:
            shutil.copyfile(os.path.join(files_dir, *rel.split("/")), target)
            os.chmod(target, entry["mode"])


def _clear_way(root, rel):
    """A file or link standing where a parent folder of ``rel`` belongs is removed."""
    path = root
    for part in rel.split("/")[:-1]:
        path = os.path.join(path, part)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)


def _remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, onerror=_writable_and_retry)


def _writable_and_retry(function, path, _info):
    os.chmod(os.path.dirname(path), stat.S_IRWXU)
    function(path)


# --- pytest plugin ------------------------------------------------------------------------------


def pytest_runtest_logreport(report):
    """Fold each phase's report into the test's outcome (the worst phase wins)."""
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcome = "skipped"
    elif report.when == "call":
        outcome = "passed"
    else:
        return
    previous = _outcomes.get(report.nodeid)
    if previous is None or RANK[outcome] > RANK[previous]:
        _outcomes[report.nodeid] = outcome


def pytest_sessionfinish(session):
    """Write the outcomes where test.sh asked for them."""
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(_outcomes, handle, indent=1, sort_keys=True)


# --- grade --------------------------------------------------------------------------------------


def grade(out_dir, lists):
    """reward.txt and tests.json from the recorded outcomes; returns the reward."""
    try:
        with open(os.path.join(out_dir, RESULTS_FILE), encoding="utf-8") as handle:
            seen = json.load(handle)
    except (OSError, ValueError):
        seen = {}  # pytest never finished: every test is missing
    detail = {name: {test: seen.get(test, "missing") for test in tests} for name, tests in lists.items()}
    wanted = [outcome for outcomes in detail.values() for outcome in outcomes.values()]
    reward = 1 if wanted and all(outcome == "passed" for outcome in wanted) else 0
    with open(os.path.join(out_dir, "tests.json"), "w", encoding="utf-8") as handle:
        json.dump(dict(detail, resolved=bool(reward)), handle, indent=1, ensure_ascii=False)
    with open(os.path.join(out_dir, "reward.txt"), "w", encoding="utf-8") as handle:
        handle.write(f"{reward}\n")
    return reward


def _lists(args):
    lists, current = {}, None
    for arg in args:
        if arg in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            current = lists.setdefault(arg, [])
        elif current is None:
            raise SystemExit("grade: a test id before FAIL_TO_PASS")
        else:
            current.append(arg)
    return lists


def main(argv):
    """``restore ROOT MANIFEST`` or ``grade OUT_DIR FAIL_TO_PASS ID... PASS_TO_PASS ID...``."""
    if argv[:1] == ["restore"] and len(argv) == 3:
        restore(argv[1], argv[2])
        return 0
    if argv[:1] == ["grade"] and len(argv) >= 2:
        reward = grade(argv[1], _lists(argv[2:]))
        print(f"loopctl: reward {reward}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
