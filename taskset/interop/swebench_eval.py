"""The eval script of a SWE-bench 5 row: what runs in the task's container to grade a patch.

The harness applies the candidate patch in ``/testbed``, then runs this script. It recreates the
task's environment from its frozen pins (the image installed the project), restores the test
files to ``base_commit`` (a candidate cannot edit them), applies the test patch, and runs pytest
with ``-rA`` between the markers
SWE-bench's grading slices the log by. The test command is the line right before the end
marker: swebench records its exit status there to cross-check the log.
"""

from __future__ import annotations

import shlex

from taskset.evaluation.runner import NO_CACHE, PINNED_ENV
from taskset.record import Task
from taskset.workspace.diffpaths import patch_paths

WORKDIR = "/testbed"
"""Where SWE-bench images keep the repository."""
START_MARKER = ">>>>> Start Test Output"
END_MARKER = ">>>>> End Test Output"
PINS_FILE = "/tmp/loopctl-requirements.txt"
TEST_OPTIONS = ("-rA", *NO_CACHE, "--continue-on-collection-errors")
"""``-rA`` prints one ``STATUS node-id`` line per test, which is what the pytest log parser reads."""


def test_files(task: Task) -> list[str]:
    """The test modules to run: the files of every FAIL_TO_PASS and PASS_TO_PASS id, first seen first."""
    return list(dict.fromkeys(test.split("::", 1)[0] for test in task.tests))


def test_command(task: Task, python: str = "python") -> str:
    """The pytest command line (whole modules, as the evaluator runs them; grading picks the ids)."""
    return shlex.join([python, "-m", "pytest", *TEST_OPTIONS, *test_files(task)])


def test_environment(task: Task, root: str = WORKDIR) -> dict[str, str]:
    """The variables the evaluator pins for a test run, with the task's ``PYTHONPATH`` under ``root``."""
    entries = [root if entry in (".", "") else f"{root}/{entry.strip('/')}" for entry in task.environment.pythonpath]
    return {**PINNED_ENV, "PYTHONPATH": ":".join(entries)}


def eval_script(task: Task) -> str:
    """The whole ``eval.sh`` (``#!/bin/bash`` + ``set -uxo pipefail`` first, as swebench expects)."""
    base = task.base_commit
    lines = ["#!/bin/bash", "set -uxo pipefail", f"cd {WORKDIR}",
             f"git config --global --add safe.directory {WORKDIR}"]
    lines += install_lines(task)
    paths = patch_paths(task.test_patch) if task.test_patch.strip() else []
    if paths:
        end = _delimiter(task.test_patch, "EOF_LOOPCTL_TEST_PATCH")
        lines += _restore_tests(base, paths)
        lines += [f"git apply --verbose - <<'{end}'", task.test_patch.rstrip("\n"), end]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(test_environment(task).items())]
    lines += [f": '{START_MARKER}'", test_command(task), f": '{END_MARKER}'"]
    if paths:
        lines += _restore_tests(base, paths)
    return "\n".join(lines) + "\n"


def install_lines(task: Task) -> list[str]:
    """Reinstall the frozen pins as the task was validated (already there: no network needed).

    The project itself is not reinstalled: as in loopctl's evaluator, the tests import it from
    the tree through ``PYTHONPATH``, so a candidate's change is what runs.
    """
    pins = task.environment.requirements
    if not pins:
        return []
    body = "\n".join(pins)
    end = _delimiter(body, "EOF_LOOPCTL_PINS")
    return [f"cat > {PINS_FILE} <<'{end}'", body, end, f"python -m pip install --quiet --no-deps -r {PINS_FILE}"]


def _restore_tests(base: str, paths: list[str]) -> list[str]:
    """Every test-patch path back to ``base_commit`` (absent there: removed), whatever the patch did."""
    quoted = " ".join(shlex.quote(path) for path in paths)
    return [
        f"for path in {quoted}; do",
        f'  if git cat-file -e "{base}:$path" 2>/dev/null; then git checkout -q {base} -- "$path"; '
        'else rm -f -- "$path"; fi',
        "done",
    ]


def _delimiter(body: str, stem: str) -> str:
    """A here-document delimiter that no line of ``body`` equals."""
    lines = set(body.splitlines())
    delimiter, n = stem, 0
    while delimiter in lines:
        n += 1
        delimiter = f"{stem}_{n}"
    return delimiter
