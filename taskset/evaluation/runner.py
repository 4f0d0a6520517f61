"""Run a task's tests with its own interpreter, confined, and read the outcome from two witnesses.

    the environment's interpreter, probed (a damaged one is an InfrastructureError)
      -> a private scratch folder: HOME, TMPDIR, the report folder, the selection, the boot spec
      -> pytest started by our boot script (nothing in the workspace can shadow how it starts),
         its configuration passed explicitly, plugins from the environment only
      -> inside the sandbox (taskset.evaluation.sandbox): test files read-only, no network, own PID space
      -> outcomes from the JUnit report AND the live channel, cross-checked with each other,
         the exit code, the canaries and the test files' hashes (taskset.evaluation.tamper)

A report that disagrees with its other witnesses sets ``TestRun.tampered``; pytest leaving no
usable report is a TestRunError; a timeout is ``timed_out=True`` with unrun tests ``missing``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taskset.env import probe as envprobe
from taskset.errors import EvidenceFlood, InfraCause, InfrastructureError, TestRunError
from taskset.evaluation import programs, protect, sandbox
from taskset.evaluation.home import furnish
from taskset.evaluation.identity import lent
from taskset.evaluation.junit import Outcome, TestResult, parse_junit, trim
from taskset.evaluation.limits import DEFAULT_LIMITS, EvidenceBudget, RunLimits
from taskset.evaluation.process import run_with_channel
from taskset.evaluation.safeio import read_bounded
from taskset.evaluation.tamper import Evidence, findings
from taskset.evaluation.witness import is_canary, parse_channel
from taskset.evaluation.written import added_line_numbers
from taskset.files import tempdirs
from taskset.workspace.files import clear_bytecode
from taskset.workspace.pytestconfig import EMPTY_INI, find_config

PLUGIN_DIR = Path(__file__).resolve().parent / "_pytest_plugin"
"""Holds only our plugin and boot script: the one directory of ours the task's Python sees."""
BOOT = PLUGIN_DIR / "loopctl_boot.py"

OUTPUT_LIMIT = 20_000
"""Characters of console output kept (head and tail)."""

PASSED_ENV = ("USER", "LOGNAME", "TERM")
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
    sandbox: str = ""
    """How the run was confined: ``bwrap``, ``unshare`` or ``none`` ("" when nothing ran)."""
    tampered: tuple[str, ...] = ()
    """Disagreements between the run's witnesses (empty when they agree): never a pass."""
    programs: tuple[str, ...] = ()
    """Programs from the machine, not the environment, that the tests started (``taskset.evaluation.programs``)."""


@dataclass(frozen=True)
class _Request:
    """One run's inputs, as run_tests normalised them."""

    root: Path
    tests: list[str]
    files: list[str]
    """The distinct test files to hand pytest."""
    absent: set[str]
    """Requested ids whose file does not exist (``missing`` without asking pytest)."""
    pythonpath: tuple[str, ...]
    timeout: float
    suspects: frozenset[str]
    limits: RunLimits
    test_paths: tuple[str, ...]
    """The test patch's paths, when the workspace knows them (made read-only too)."""


@dataclass(frozen=True)
class _Scratch:
    """The run's private folder (outside the workspace): what the sandbox shows of it, and how."""

    base: Path

    @property
    def inputs(self) -> Path:  # read-only inside: spec, selection, fallback config
        return self.base / "in"

    @property
    def report(self) -> Path:  # writable inside: pytest's JUnit report
        return self.base / "report"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def tmp(self) -> Path:
        return self.base / "tmp"

    def create(self) -> None:
        for folder in (self.inputs, self.report, self.home, self.tmp):
            folder.mkdir(mode=0o700)
        furnish(self.home)


def run_tests(
    env,
    workspace,
    tests: Sequence[str],
    *,
    pythonpath: Sequence[str] = (".",),
    timeout: float = 300.0,
    suspects: Iterable[str] = (),
    limits: RunLimits = DEFAULT_LIMITS,
) -> TestRun:
    """Run ``tests`` (node ids and/or file paths) in ``workspace`` with ``env.python``, confined.

    ``workspace`` is a path or a Workspace. ``suspects`` are the relative paths a candidate
    wrote: code from them may not reshape pytest's reporting. Raises TestRunError when pytest
    leaves no usable report, InfrastructureError when the environment or the machine fails.
    """
    root = Path(getattr(workspace, "path", workspace)).resolve()
    try:
        clear_bytecode(root)
    except OSError as exc:
        raise TestRunError(f"cannot clear bytecode in the workspace: {exc}") from None
    files, absent = _split_files(root, tests)
    if not files:
        return TestRun(results={t: TestResult(t, Outcome.MISSING) for t in tests}, exit_code=None)
    facts = envprobe.probe(env.python)
    kind = sandbox.selected()
    try:
        base = tempdirs.make("run")
    except OSError as exc:
        raise InfrastructureError(f"cannot create a scratch folder: {exc}", cause=InfraCause.DISK) from None
    request = _Request(root, list(tests), files, absent, tuple(pythonpath), timeout, frozenset(suspects), limits,
                       tuple(getattr(workspace, "test_paths", ())))
    try:
        return _run(env, facts, kind, request, _Scratch(base))
    except OSError as exc:
        raise InfrastructureError(f"test run failed on the machine's side: {exc}", cause=InfraCause.DISK) from None
    finally:
        tempdirs.remove(base)


def _run(env, facts: envprobe.EnvFacts, kind: sandbox.SandboxKind, request: _Request, scratch: _Scratch) -> TestRun:
    root, tests, files = request.root, request.tests, request.files
    pythonpath, limits = request.pythonpath, request.limits
    scratch.create()
    select = scratch.inputs / "select.txt"
    select.write_text("\n".join(t for t in tests if t not in request.absent) + "\n", encoding="utf-8")
    config = find_config(root, files, facts.pytest_version)
    if config is None:
        config = scratch.inputs / "pytest.ini"
        config.write_text(EMPTY_INI, encoding="utf-8")
    listing = protect.workspace_files(root)
    guarded = protect.protected_files(root, listing=listing)
    before = protect.hashes(root, guarded)
    frozen = protect.read_only_files(root, files, config, request.test_paths)
    spec = scratch.inputs / "spec.json"
    junit = scratch.report / "junit.xml"

    nonce = secrets.token_hex(16)

    audit = {"root": str(root), "suspects": sorted(str(root / rel) for rel in request.suspects),
             "libraries": list(_trusted_roots(env, facts)), "written": added_line_numbers(root, request.suspects)}

    def command_for(channel_fd: int, nonce_fd: int) -> list[str]:
        args = _pytest_args(root, files, select, junit, config, channel_fd)
        boot = _boot_spec(root, pythonpath, args, limits, channel_fd) | {"nonce_fd": nonce_fd, "audit": audit}
        spec.write_text(json.dumps(boot), encoding="utf-8")
        command = [str(env.python), "-s", "-B", str(BOOT), str(spec)]
        return sandbox.wrap(kind, _mounts(env, facts, root, scratch, frozen), command, scratch.base)

    budget = EvidenceBudget.for_request(tests)
    # the tests' own uid must write these (and read their inputs); ours again once the run is over
    run_env = scrubbed_env(env, root, pythonpath, scratch.home, scratch.tmp)
    with lent((root, scratch.inputs, scratch.report, scratch.home, scratch.tmp), kind is not sandbox.SandboxKind.NONE):
        finished = run_with_channel(command_for, root, run_env,
                                    request.timeout, scratch.base / "output.log", nonce.encode(), budget.channel_bytes)
    output = trim(finished.output.decode("utf-8", errors="replace"), OUTPUT_LIMIT)
    try:  # evidence past the run's budget is tampering at once: the rest is never read
        if finished.channel_overflow:
            raise EvidenceFlood(f"the live channel carried more than {budget.channel_bytes} bytes, more than "
                                "this run could say")
        xml = read_bounded(junit, budget.report_bytes, whole=True)
        witness = parse_channel(finished.channel, nonce, budget.tests)
        if witness.flooded:
            raise EvidenceFlood(f"the live channel named more than {budget.tests} tests, far more than were asked for")
        if not witness.booted and not finished.timed_out:
            last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
            raise InfrastructureError(
                f"the {kind.value} sandbox or the environment's interpreter did not start "
                f"(exit {finished.exit_code}): {last[:300]}",
                cause=InfraCause.SANDBOX, output=output,
            )
        if finished.timed_out:
            results = _partial_results(xml, tests, budget.report_cases)
            return TestRun(results, None, True, finished.duration, output, xml is not None, kind.value)
        junit_results = _parse(xml, tests, budget.report_cases)
    except EvidenceFlood as exc:
        missing = {t: TestResult(t, Outcome.MISSING) for t in tests}
        return TestRun(missing, finished.exit_code, finished.timed_out, finished.duration, output, False, kind.value,
                       (str(exc),))
    tamper = findings(Evidence(
        witness=witness, junit=junit_results, exit_code=finished.exit_code, root=str(root), before=before,
        after=protect.hashes(root, guarded), suspects=request.suspects, known=frozenset(listing),
        trusted=_trusted_roots(env, facts),
    ))
    if tamper:
        results = _without_canaries(junit_results or {}) or {t: TestResult(t, Outcome.MISSING) for t in tests}
        return TestRun(results, finished.exit_code, False, finished.duration, output, xml is not None, kind.value,
                       tuple(tamper))
    results = _checked(junit_results, finished.exit_code, output)
    used = programs.outside_environment(witness.programs, run_env["PATH"], Path(env.python), facts.base_prefix,
                                        (root, scratch.base))
    return TestRun(results, finished.exit_code, False, finished.duration, output, True, kind.value, programs=used)


def scrubbed_env(env, root: Path, pythonpath: Sequence[str] = (".",), home: Path | None = None,
                 tmp: Path | None = None) -> dict[str, str]:
    """The environment a test process gets: an allowlist of the caller's, pinned values, private HOME/TMPDIR.

    ``PYTHONPATH`` is not among them: the boot script sets it for the tests' own child processes
    once pytest has started, so it can never shadow how pytest starts.
    """
    bin_dir = str(Path(env.python).parent)
    caller = os.environ
    result = {name: caller[name] for name in PASSED_ENV if name in caller and not _secret(name)}
    result["PATH"] = os.pathsep.join(p for p in (bin_dir, caller.get("PATH", "")) if p)
    result.update(PINNED_ENV)
    result["VIRTUAL_ENV"] = str(Path(env.python).parent.parent)
    if home is not None:
        result["HOME"] = str(home)
    if tmp is not None:
        result["TMPDIR"] = str(tmp)
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


NO_CACHE = ("-p", "no:cacheprovider", "-p", "no:stepwise")
"""pytest without its cache (nothing of one run may reach the next). stepwise goes too: pytest
3.10's writes to the cache at session end and died without it, so an honest run lost its closing
record and read as tampered (cachetools on Python 3.7)."""


def _pytest_args(root: Path, files: list[str], select: Path, junit: Path, config: Path, channel_fd: int) -> list[str]:
    return [
        "-p", "loopctl_pytest_plugin",
        f"--loopctl-select={select}",
        f"--loopctl-channel={channel_fd}",
        "--loopctl-canaries",
        f"--junitxml={junit}",
        "-o", "junit_family=xunit1",
        "--continue-on-collection-errors",
        *NO_CACHE,
        f"--rootdir={root}",
        f"--confcutdir={root}",
        "-c", str(config),
        "-rA",
        *files,
    ]


def _boot_spec(root: Path, pythonpath: Sequence[str], args: list[str], limits: RunLimits, channel_fd: int) -> dict:
    roots = list(dict.fromkeys(str(root / entry) if entry not in ("", ".") else str(root) for entry in pythonpath))
    return {"sys_path": list(dict.fromkeys([str(root), *roots])), "pythonpath": roots, "args": args,
            "limits": limits.rlimits(), "channel": channel_fd}


def environment_paths(env, facts: envprobe.EnvFacts, *extra: Path) -> tuple[Path, ...]:
    """What a confined process is shown read-only of the task's environment: the venv, the base
    interpreter's prefix and binary (plus ``extra``), outermost folders only."""
    visible = [facts.base_prefix, Path(env.python).parent.parent, facts.executable, *extra]
    return _outermost(p.resolve() for p in visible if p.exists())


def _mounts(env, facts: envprobe.EnvFacts, root: Path, scratch: _Scratch, frozen: list[str]) -> sandbox.Mounts:
    read_only = environment_paths(env, facts, PLUGIN_DIR, scratch.inputs)
    return sandbox.Mounts(
        read_only=read_only,
        writable=(root, scratch.report, scratch.home, scratch.tmp),
        # .git too: a filter or hook written there would run in our next (unconfined) git command
        protected=tuple(root / rel for rel in frozen) + ((root / ".git",) if (root / ".git").is_dir() else ()),
        cwd=root,
    )


def _trusted_roots(env, facts: envprobe.EnvFacts) -> tuple[str, ...]:
    """Where code of an honest run comes from besides the workspace: the environment, the
    interpreter's prefix (both as named and resolved), our plugin."""
    venv = Path(env.python).parent.parent
    roots = [venv, facts.prefix, facts.base_prefix, PLUGIN_DIR]
    return tuple(dict.fromkeys(str(p) for root in roots for p in (root, root.resolve())))


def _outermost(paths: Iterable[Path]) -> tuple[Path, ...]:
    """The paths, less those inside another one (binding a folder shows what is below it)."""
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return tuple(kept)


def _parse(xml: bytes | None, tests: list[str], limit: int | None = None) -> dict[str, TestResult] | None:
    if xml is None:
        return None
    return parse_junit(xml, tests, limit)


def _without_canaries(results: Mapping[str, TestResult]) -> dict[str, TestResult]:
    return {nodeid: r for nodeid, r in results.items() if not is_canary(nodeid)}


def _checked(results: dict[str, TestResult] | None, exit_code: int | None, output: str) -> dict[str, TestResult]:
    """The report's results, after the checks an honest report passes."""
    if results is None:
        raise TestRunError(f"pytest exited with {exit_code} and wrote no JUnit report", output)
    if INTERNAL_ERROR in results:
        raise TestRunError(f"pytest hit an internal error (exit {exit_code})", output)
    results = _without_canaries(results)
    reported = any(r.outcome is not Outcome.MISSING for r in results.values())
    if exit_code not in (0, 1, EXIT_NO_TESTS):
        if not reported:
            raise TestRunError(f"pytest exited with {exit_code} and reported no tests", output)
    return results


def _partial_results(xml: bytes | None, tests: list[str], limit: int) -> dict[str, TestResult]:
    """A killed run rarely leaves a report; if one is there, readable and within ``limit``, keep what it says."""
    results: dict[str, TestResult] = {}
    if xml:
        try:
            results = _without_canaries(parse_junit(xml, tests, limit))
        except TestRunError:
            results = {}
    return {t: results.get(t) or TestResult(t, Outcome.MISSING) for t in tests} | results
