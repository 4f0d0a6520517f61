"""Run a task's tests with its own interpreter: scrubbed environment, pinned clock/hash/locale,
a timeout that kills the whole process group, and outcomes read from JUnit XML.

The exit code is a second signal, never ignored: no report, or an empty report with a failing
exit, is a TestRunError rather than "nothing failed".
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from taskset.errors import TestRunError
from taskset.junit import Outcome, TestResult, parse_junit, trim
from taskset.workspace import clear_bytecode

PLUGIN_DIR = Path(__file__).resolve().parent / "_pytest_plugin"
"""Holds only ``loopctl_pytest_plugin.py``: the one directory of ours the task's Python sees."""

OUTPUT_LIMIT = 20_000
"""Characters of console output kept (head and tail)."""

PASSED_ENV = ("HOME", "USER", "LOGNAME", "TMPDIR", "TERM")
"""Caller variables a test run may see besides PATH; everything else is dropped."""

SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")

PINNED_ENV = {
    "TZ": "UTC",
    "PYTHONHASHSEED": "0",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}

# pytest exit codes (stable since pytest 5; 4.6 used the same numbers).
EXIT_TESTS_FAILED = 1
EXIT_NO_TESTS = 5
INTERNAL_ERROR = "pytest::internal"
"""The pseudo-test pytest's JUnit writer files an internal error under."""


@dataclass(frozen=True)
class TestRun:
    """One pytest run: per-test results and the evidence they were read from."""

    __test__ = False  # not a pytest test class

    results: dict[str, TestResult] = field(default_factory=dict)
    """Every requested id (``missing`` if never run) plus every test the report names."""
    exit_code: int | None = None
    """pytest's exit code; None when the run was killed at the timeout."""
    timed_out: bool = False
    duration: float = 0.0
    """Wall-clock seconds."""
    output: str = ""
    """The console output (stdout and stderr interleaved), decoded and trimmed."""
    junit_found: bool = False


def run_tests(
    env,
    workspace,
    tests: Sequence[str],
    *,
    pythonpath: Sequence[str] = (".",),
    timeout: float = 300.0,
) -> TestRun:
    """Run ``tests`` (node ids and/or file paths) in ``workspace`` with ``env.python``.

    ``workspace`` is a path or a Workspace. Raises TestRunError when pytest leaves no usable
    report; a timeout is not an error but ``timed_out=True`` with unrun tests ``missing``.
    """
    root = Path(getattr(workspace, "path", workspace)).resolve()
    clear_bytecode(root)
    files, absent = _split_files(root, tests)
    if not files:
        return TestRun(results={t: TestResult(t, Outcome.MISSING) for t in tests}, exit_code=None)
    with tempfile.TemporaryDirectory(prefix="loopctl-run-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "select.txt").write_text("\n".join(t for t in tests if t not in absent) + "\n")
        command = _command(Path(env.python), root, files, tmpdir)
        started = time.monotonic()
        exit_code, timed_out, raw = _execute(command, root, scrubbed_env(env, root, pythonpath), timeout, tmpdir)
        duration = time.monotonic() - started
        junit = tmpdir / "junit.xml"
        xml = junit.read_bytes() if junit.is_file() else None
    output = trim(raw.decode("utf-8", errors="replace"), OUTPUT_LIMIT)
    results = _results(xml, list(tests), exit_code, timed_out, output)
    return TestRun(results, exit_code, timed_out, duration, output, xml is not None)


def scrubbed_env(env, root: Path, pythonpath: Sequence[str] = (".",)) -> dict[str, str]:
    """The environment a test process gets: an allowlist of the caller's, plus pinned values."""
    bin_dir = str(Path(env.python).parent)
    caller = os.environ
    result = {name: caller[name] for name in PASSED_ENV if name in caller and not _secret(name)}
    result["PATH"] = os.pathsep.join(p for p in (bin_dir, caller.get("PATH", "")) if p)
    result.update(PINNED_ENV)
    entries = [str(PLUGIN_DIR)] + [str(root / entry) for entry in pythonpath]
    result["PYTHONPATH"] = os.pathsep.join(entries)
    result["VIRTUAL_ENV"] = str(Path(env.python).parent.parent)
    return result


def _secret(name: str) -> bool:
    return name.upper().endswith(SECRET_SUFFIXES)


def _split_files(root: Path, tests: Sequence[str]) -> tuple[list[str], set[str]]:
    """The distinct files to pass to pytest, in first-seen order, and the ids whose file is absent."""
    files: list[str] = []
    absent: set[str] = set()
    for test in tests:
        path = test.split("::", 1)[0]
        if not (root / path).exists():
            absent.add(test)
        elif path not in files:
            files.append(path)
    return files, absent


def _command(python: Path, root: Path, files: list[str], tmpdir: Path) -> list[str]:
    return [
        str(python), "-m", "pytest",
        "-p", "loopctl_pytest_plugin",
        f"--loopctl-select={tmpdir / 'select.txt'}",
        f"--junitxml={tmpdir / 'junit.xml'}",
        "-o", "junit_family=xunit1",
        "--continue-on-collection-errors",
        "-p", "no:cacheprovider",
        f"--rootdir={root}",
        "-rA",
        *files,
    ]  # fmt: skip


def _execute(command: list[str], cwd: Path, environ: Mapping[str, str], timeout: float, tmpdir: Path):
    """Run ``command`` in its own session; returns (exit code or None, timed out, output bytes)."""
    # Output goes to a file, not a pipe: a grandchild that keeps the pipe open must not make
    # a finished run look like it hung.
    log_path = tmpdir / "output.log"
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(
                command, cwd=cwd, env=dict(environ), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            raise TestRunError(f"cannot start {command[0]}: {exc}") from None
        try:
            exit_code, timed_out = proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            exit_code, timed_out = None, True
        finally:
            _kill_group(proc)
    return exit_code, timed_out, log_path.read_bytes()


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill everything the run started (its session's process group), then reap the leader."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _results(xml: bytes | None, tests: list[str], exit_code, timed_out: bool, output: str) -> dict[str, TestResult]:
    """Read the report and cross-check it with the exit code."""
    if timed_out:
        results = _parse_partial(xml, tests)
        return {t: results.get(t) or TestResult(t, Outcome.MISSING) for t in tests} | results
    if xml is None:
        raise TestRunError(f"pytest exited with {exit_code} and wrote no JUnit report", output)
    results = parse_junit(xml, tests)
    if INTERNAL_ERROR in results:
        raise TestRunError(f"pytest hit an internal error (exit {exit_code})", output)
    reported = any(r.outcome is not Outcome.MISSING for r in results.values())
    if exit_code == EXIT_NO_TESTS and not reported:
        return results
    if not reported and exit_code != 0:
        raise TestRunError(f"pytest exited with {exit_code} and reported no tests", output)
    bad = [r for r in results.values() if r.outcome in (Outcome.FAILED, Outcome.ERROR)]
    if exit_code == 0 and bad:
        raise TestRunError(f"pytest exited 0 but its report has {len(bad)} failing tests", output)
    return results


def _parse_partial(xml: bytes | None, tests: list[str]) -> dict[str, TestResult]:
    """A killed run rarely leaves a report; if one is there and readable, keep what it says."""
    if not xml:
        return {}
    try:
        return parse_junit(xml, tests)
    except TestRunError:
        return {}
