"""Orchestration: walk, pick candidates, validate them (``--jobs`` processes), record, summarise.

The parent process alone writes the output directory, one finished candidate at a time, so an
interrupted run keeps everything it finished and the next run skips it.
"""

from __future__ import annotations

import functools
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from taskset.pool import run_each
from taskset.progress import SILENT, Progress
from taskset.testfiles import DEFAULT, TestFileConventions

from miner.candidates import Candidate, Detail, classify, details, list_commits
from miner.ledger import Ledger
from miner.rejections import Reason, Rejection, trim
from miner.source import open_source
from miner.summary import Summary
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


def mine(config: MineConfig, progress: Progress = SILENT) -> Summary:
    """Mine ``config.repo`` into ``config.out``; returns the funnel. Raises MinerError/TasksetError on bad input."""
    started = time.monotonic()
    conventions = config.validate.conventions
    source = open_source(config.repo, branch=config.branch, since=config.since, until=config.until,
                         commits=config.commits, conventions=conventions, name=config.name)  # fmt: skip
    out = config.out if config.out is not None else default_out(source.name)
    progress.phase("walking history")
    commits = list_commits(source.git_dir, source.revisions, merges=config.merges)
    verdicts = [classify(commit, conventions) for commit in commits]
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
        _record(ledger, outcome, timing, summary)
        progress.advance(_label(outcome))

    work = functools.partial(_work, Repo(source.git_dir, source.name, source.url), config.validate)
    units = [(candidate, info[candidate.sha]) for candidate in fresh]
    run_each(work, units, record, jobs=config.jobs)
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
    """One unit of work (also the unit a distributed engine would run): never raises."""
    candidate, info = unit
    try:
        return validate(repo, candidate, info, config)
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
