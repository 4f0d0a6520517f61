"""Orchestration: walk, pick candidates, validate them (``--jobs`` processes), record, summarise.

The parent process alone writes the output directory, one finished candidate at a time, holding
its writer lock for the whole run (a second ``mine`` into it is refused), so an interrupted run
keeps everything it finished and the next run skips it. Every input is checked before anything is
written. When the machine fails (``InfrastructureError``: an interpreter, the disk, the package
index) nothing is recorded for the candidate: the pool stops (finished candidates are kept) and
the summary says what is left for the next run.
"""

from __future__ import annotations

import functools
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from taskset import dirlock, pythons
from taskset.atomic import remove_stale_temporaries
from taskset.errors import InfrastructureError
from taskset.paths import cache_dir
from taskset.pool import run_each
from taskset.progress import SILENT, Progress
from taskset.testfiles import DEFAULT, TestFileConventions

from miner.candidates import Candidate, Detail, classify, details, list_commits
from miner.errors import MinerError
from miner.ledger import Ledger
from miner.rejections import Reason, Rejection, trim
from miner.source import open_source
from miner.summary import Summary
from miner.testconfig import conventions_by_commit
from miner.validate import Repo, Timing, ValidateConfig, validate


@dataclass(frozen=True)
class MineConfig:
    """One ``mine`` invocation."""

    repo: str
    """A URL, a local repository path or a git bundle."""
    out: Path | None = None
    """The task set directory (created only once the input has been checked); default
    ``./<name>-tasks`` from the repository's name, which no folder of this project can be."""
    branch: str | None = None
    since: str | None = None
    """A date or revision; inclusive."""
    until: str | None = None
    """A date or revision; inclusive."""
    commits: tuple[str, ...] = ()
    """Exact commits to mine (then since/until are ignored)."""
    merges: bool = False
    """Also consider merge commits, diffed against their first parent."""
    max_candidates: int | None = None
    """Validate at most this many new candidates, highest message score first."""
    jobs: int = 1
    name: str | None = None
    """``owner/name`` to record (default: from the URL; ``local/<dir>`` for paths)."""
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    project_conventions: bool = True
    """Extend the test conventions by each commit's own pytest config (off when the user replaced them)."""


@dataclass(frozen=True)
class Postponed:
    """A candidate the machine failed to validate: nothing is recorded, the next run retries it."""

    sha: str
    message: str
    cause: str


class _MachineFailed(Exception):
    """Raised in the driver to stop the pool at the first ``Postponed`` (internal)."""


def check_inputs(config: MineConfig, out: Path | None = None) -> None:
    """Everything about ``config`` that can be checked before work starts; MinerError (one line) if not.

    ``out`` (the output directory, once known) is checked when given.
    """
    cache = cache_dir()
    if cache.exists() and not cache.is_dir():
        raise MinerError(f"cache {cache} (LOOPCTL_CACHE): exists and is not a directory")
    _check_writable(cache, "cache (LOOPCTL_CACHE)")
    python = config.validate.python
    if python != pythons.AUTO:
        try:
            pythons.interpreter(python)
        except InfrastructureError as exc:
            raise MinerError(f"--python {python}: {exc}") from None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise MinerError(f"--out {out}: exists and is not a directory")
        _check_writable(out, "--out")


def _check_writable(path: Path, what: str) -> None:
    """``path`` (or, if it does not exist yet, its nearest existing parent) accepts new files."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise MinerError(f"{what} {path}: {probe} is not a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".loopctl-probe-"):
            pass
    except OSError as exc:
        raise MinerError(f"{what} {path}: cannot write in {probe} ({exc.strerror or exc})") from None


def mine(config: MineConfig, progress: Progress = SILENT) -> Summary:
    """Mine ``config.repo`` into ``config.out``; returns the funnel. Raises MinerError/TasksetError on bad input.

    ``summary.infrastructure`` is set when the machine stopped the run (nothing was recorded for
    the candidates it hit; the next run validates them).
    """
    started = time.monotonic()
    conventions = config.validate.conventions
    check_inputs(config, Path(config.out) if config.out is not None else None)
    source = open_source(config.repo, branch=config.branch, since=config.since, until=config.until,
                         commits=config.commits, conventions=conventions, name=config.name,
                         project_conventions=config.project_conventions)  # fmt: skip
    out = Path(config.out) if config.out is not None else default_out(source.name)
    check_inputs(config, out)
    try:
        lock = dirlock.exclusive(out, doing="mine")
        lock.__enter__()
    except OSError as exc:
        raise MinerError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    try:
        for folder in (out, out / "tasks"):
            remove_stale_temporaries(folder)
        return _mine(config, source, out, conventions, progress, started)
    finally:
        lock.__exit__(None, None, None)


def _mine(config: MineConfig, source, out: Path, conventions: TestFileConventions, progress: Progress,
          started: float) -> Summary:  # fmt: skip
    progress.phase("walking history")
    commits = list_commits(source.git_dir, source.revisions, merges=config.merges)
    project = source.name.split("/")[-1]
    per_commit = (conventions_by_commit(source.git_dir, [c.sha for c in commits], conventions, project)
                  if config.project_conventions else {})  # fmt: skip
    verdicts = [classify(commit, per_commit.get(commit.sha, conventions)) for commit in commits]
    ledger = Ledger(out)
    ledger.add_rejections(v for v in verdicts if isinstance(v, Rejection))
    candidates = [v for v in verdicts if isinstance(v, Candidate)]
    fresh = sorted((c for c in candidates if c.sha not in ledger.known), key=lambda c: -c.score)
    deferred = fresh[config.max_candidates:] if config.max_candidates is not None else []
    fresh = fresh[: config.max_candidates] if config.max_candidates is not None else fresh
    summary = Summary(repo=source.name, out=str(out), commits_walked=len(commits),
                      candidates=len(candidates), skipped=len(candidates) - len(fresh) - len(deferred),
                      deferred=len(deferred))  # fmt: skip
    progress.phase("reading candidates")
    info = details(source.git_dir, fresh)
    progress.phase("validating candidates", total=len(fresh))

    def record(_, result: tuple) -> None:
        outcome, timing = result
        if isinstance(outcome, Postponed):
            first = not summary.infrastructure
            summary.infrastructure = summary.infrastructure or outcome.message
            if first:  # the machine is failing: stop the pool (what finished is still handed over)
                raise _MachineFailed(outcome.message)
            return
        _record(ledger, outcome, timing, summary)
        progress.advance(_label(outcome))

    work = functools.partial(_work, Repo(source.git_dir, source.name, source.url), config.validate)
    units = [(candidate, info[candidate.sha]) for candidate in fresh]
    try:
        run_each(work, units, record, jobs=config.jobs)
    except _MachineFailed:
        pass
    summary.postponed = len(fresh) - summary.validated
    summary.count_range(ledger.known, [v.sha if isinstance(v, Candidate) else v.fix_commit for v in verdicts])
    summary.wall_seconds = time.monotonic() - started
    return summary


def default_out(name: str) -> Path:
    """``./<repository name>-tasks``: the default task set directory of ``mine``."""
    return Path(f"{name.rsplit('/', 1)[-1]}-tasks")


def conventions(directories: Sequence[str] = (), globs: Sequence[str] = ()) -> TestFileConventions:
    """Test-file conventions with the given directories and/or globs replacing the defaults."""
    return TestFileConventions(
        directories=tuple(directories) or DEFAULT.directories,
        file_globs=tuple(globs) or DEFAULT.file_globs,
    )


def _work(repo: Repo, config: ValidateConfig, unit: tuple[Candidate, Detail]) -> tuple:
    """One unit of work (also the unit a distributed engine would run): never raises.

    An ``InfrastructureError`` comes back as ``Postponed`` (exceptions with extra fields do not
    cross a process boundary intact).
    """
    candidate, info = unit
    try:
        return validate(repo, candidate, info, config)
    except InfrastructureError as exc:
        return Postponed(candidate.sha, str(exc), exc.cause.value), Timing()
    except Exception as exc:  # noqa: BLE001 -- one odd commit must not end a long run; it is recorded
        detail = f"{type(exc).__name__}: {exc}\n{trim(traceback.format_exc(), 1500)}"
        rejection = Rejection(candidate.sha, Reason.MINER_ERROR, trim(detail), candidate.subject, candidate.score)
        return rejection, Timing()


def _record(ledger: Ledger, outcome, timing: Timing, summary: Summary) -> None:
    if isinstance(outcome, Rejection):
        ledger.add_rejections([outcome])
    else:
        ledger.add_task(outcome)
    summary.validated += 1
    summary.validation_seconds += timing.wall
    summary.pytest_seconds += timing.pytest


def _label(outcome) -> str:
    return outcome.reason.value if isinstance(outcome, Rejection) else "task"
