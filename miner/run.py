"""Orchestration: walk, pick candidates, validate them (``--jobs`` processes), record, summarise.

One repository (``--repo``) or several (``--repos FILE``) into one task set: each repository is
mirrored and walked once, its candidates picked as if it were mined alone (its own funnel), then
the candidates of all of them share one pool; a fix commit two of them share is validated once.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from miner.candidates import Candidate, Detail, classify, details, list_commits
from miner.errors import BadRevision, MinerError
from miner.ledger import Ledger
from miner.rejections import Reason, Rejection, trim
from miner.source import Source, open_source
from miner.summary import Summary
from miner.testconfig import conventions_by_commit
from miner.validate import Repo, Timing, ValidateConfig, validate
from taskset.env import pythons
from taskset.errors import InfraCause, InfrastructureError, RepositoryError
from taskset.files import dirlock
from taskset.files.atomic import remove_stale_temporaries
from taskset.files.cache import cache_dir
from taskset.jobs.pool import Backend, runner
from taskset.jobs.progress import SILENT, Progress
from taskset.workspace.mirrors import mirror, run_git
from taskset.workspace.testfiles import DEFAULT, TestFileConventions


@dataclass(frozen=True)
class MineConfig:
    """One ``mine`` invocation."""

    repo: str = ""
    """A URL, a local repository path or a git bundle (or, instead, ``repos``)."""
    repos: tuple[str, ...] = ()
    """Several repositories (URLs, paths, bundles) to mine into one task set (``--repos FILE``)."""
    out: Path | None = None
    """The task set directory (created only once the input has been checked); default
    ``./<name>-tasks`` from the repository's name, which no folder of this project can be
    (several repositories need it given)."""
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
    """Validate at most this many new candidates per repository, highest message score first."""
    jobs: int | None = None
    """Candidates validated at once (None: one on the local pool, as many as the Ray cluster has CPUs)."""
    backend: Backend = Backend.LOCAL
    """Where candidates are validated: this machine's process pool, or a Ray cluster (``--backend ray``)."""
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
    """Mine ``config.repo`` (or each of ``config.repos``) into ``config.out``; returns the funnel.

    With several repositories the summary is their total and ``summary.repositories`` holds one
    funnel each. Raises MinerError/TasksetError on bad input, before anything is written.
    ``summary.infrastructure`` is set when the machine stopped the run (nothing was recorded for
    the candidates it hit; the next run validates them).
    """
    started = time.monotonic()
    locations = _locations(config)
    check_inputs(config, Path(config.out) if config.out is not None else None)
    sources = _open_sources(config, locations, progress)
    out = Path(config.out) if config.out is not None else default_out(sources[0].name)
    check_inputs(config, out)
    run_each = runner(config.backend)  # Ray connects here, before the output directory is touched
    try:
        lock = dirlock.exclusive(out, doing="mine")
        lock.__enter__()
    except OSError as exc:
        raise MinerError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    try:
        for folder in (out, out / "tasks"):
            remove_stale_temporaries(folder)
        return _mine(config, sources, out, progress, started, run_each)
    finally:
        lock.__exit__(None, None, None)


def _locations(config: MineConfig) -> tuple[str, ...]:
    """The repositories to mine; MinerError for a combination of options that cannot work."""
    if config.repo and config.repos:
        raise MinerError("give --repo or --repos, not both")
    locations = (config.repo,) if config.repo else tuple(config.repos)
    if not locations:
        raise MinerError("nothing to mine: give --repo URL|PATH|BUNDLE or --repos FILE")
    if len(locations) > 1:
        for option, value in (("--commit", config.commits), ("--name", config.name)):
            if value:
                raise MinerError(f"{option} names what is in one repository: not with several (--repos)")
        if config.out is None:
            raise MinerError("--out: several repositories are mined into one task set; name its directory")
    return locations


def _open_sources(config: MineConfig, locations: Sequence[str], progress: Progress) -> list[Source]:
    """Each repository mirrored (cloned once, fetched later) and its range resolved; duplicates dropped."""
    sources: list[Source] = []
    for location in locations:
        try:
            source = open_source(location, branch=config.branch, since=config.since, until=config.until,
                                 commits=config.commits, conventions=config.validate.conventions, name=config.name,
                                 project_conventions=config.project_conventions)
        except BadRevision as exc:
            if len(locations) == 1:
                raise
            raise MinerError(f"{location}: {exc}") from None
        same = next((s for s in sources if s.git_dir == source.git_dir), None)
        if same is not None:
            progress.note(f"{location}: the same repository as {same.location}; mined once")
            continue
        sources.append(source)
    return sources


@dataclass
class _Walk:
    """One repository's walk: its candidates to validate now, and its own funnel."""

    repo: Repo
    fresh: list[Candidate]
    info: dict[str, Detail]
    shas: list[str]
    """Every walked commit (for counting the funnel's tasks and rejections)."""
    summary: Summary


def _walk(config: MineConfig, source: Source, out: Path, ledger: Ledger, taken: set[str],
          progress: Progress) -> _Walk:
    """Walk one repository, record its non-candidates, pick its candidates (not ``taken`` by another)."""
    conventions = config.validate.conventions
    progress.phase(f"walking history of {source.name}")
    commits = list_commits(source.git_dir, source.revisions, merges=config.merges)
    project = source.name.split("/")[-1]
    per_commit = (conventions_by_commit(source.git_dir, [c.sha for c in commits], conventions, project)
                  if config.project_conventions else {})
    verdicts = [classify(commit, per_commit.get(commit.sha, conventions)) for commit in commits]
    ledger.add_rejections(v for v in verdicts if isinstance(v, Rejection))
    candidates = [v for v in verdicts if isinstance(v, Candidate)]
    fresh = sorted((c for c in candidates if c.sha not in ledger.known and c.sha not in taken), key=lambda c: -c.score)
    deferred = fresh[config.max_candidates:] if config.max_candidates is not None else []
    fresh = fresh[: config.max_candidates] if config.max_candidates is not None else fresh
    taken.update(c.sha for c in fresh)
    summary = Summary(repo=source.name, out=str(out), commits_walked=len(commits),
                      candidates=len(candidates), skipped=len(candidates) - len(fresh) - len(deferred),
                      deferred=len(deferred))
    progress.phase(f"reading candidates of {source.name}")
    info = details(source.git_dir, fresh)
    shas = [v.sha if isinstance(v, Candidate) else v.fix_commit for v in verdicts]
    return _Walk(Repo(source.git_dir, source.name, source.url), fresh, info, shas, summary)


def _mine(config: MineConfig, sources: Sequence[Source], out: Path, progress: Progress, started: float,
          run_each) -> Summary:
    ledger = Ledger(out)
    taken: set[str] = set()
    walks = [_walk(config, source, out, ledger, taken, progress) for source in sources]
    funnel = {walk.repo.git_dir: walk.summary for walk in walks}
    units = sorted(((walk.repo, c, walk.info[c.sha]) for walk in walks for c in walk.fresh), key=lambda u: -u[1].score)
    progress.phase("validating candidates", total=len(units))
    failed = ""

    def record(unit: tuple, result: tuple) -> None:
        nonlocal failed
        outcome, timing = result
        if isinstance(outcome, Postponed):
            first = not failed
            failed = failed or outcome.message
            if first:  # the machine is failing: stop the pool (what finished is still handed over)
                raise _MachineFailed(outcome.message)
            return
        _record(ledger, outcome, timing, funnel[unit[0].git_dir])
        progress.advance(_label(outcome))

    try:
        run_each(functools.partial(_work, config.validate), units, record, jobs=config.jobs)
    except _MachineFailed:
        pass
    for walk in walks:
        walk.summary.postponed = len(walk.fresh) - walk.summary.validated
        walk.summary.infrastructure = failed
        walk.summary.count_range(ledger.known, walk.shas)
    summary = walks[0].summary if len(walks) == 1 else _total(walks, out, ledger)
    summary.wall_seconds = time.monotonic() - started
    return summary


def _total(walks: Sequence[_Walk], out: Path, ledger: Ledger) -> Summary:
    """The funnels of several repositories added up (a commit two of them share counted once)."""
    parts = [walk.summary for walk in walks]
    total = Summary(repo=f"{len(parts)} repositories", out=str(out), infrastructure=parts[0].infrastructure,
                    repositories=parts)
    for name in ("commits_walked", "candidates", "skipped", "deferred", "validated", "postponed",
                 "validation_seconds", "pytest_seconds"):
        setattr(total, name, sum(getattr(part, name) for part in parts))
    total.count_range(ledger.known, dict.fromkeys(sha for walk in walks for sha in walk.shas))
    return total


def default_out(name: str) -> Path:
    """``./<repository name>-tasks``: the default task set directory of ``mine``."""
    return Path(f"{name.rsplit('/', 1)[-1]}-tasks")


def conventions(directories: Sequence[str] = (), globs: Sequence[str] = ()) -> TestFileConventions:
    """Test-file conventions with the given directories and/or globs replacing the defaults."""
    return TestFileConventions(
        directories=tuple(directories) or DEFAULT.directories,
        file_globs=tuple(globs) or DEFAULT.file_globs,
    )


def _work(config: ValidateConfig, unit: tuple[Repo, Candidate, Detail]) -> tuple:
    """One unit of work (also the unit ``--backend ray`` submits): never raises.

    An ``InfrastructureError`` comes back as ``Postponed`` (exceptions with extra fields do not
    cross a process boundary intact).
    """
    repo, candidate, info = unit
    try:
        return validate(_on_this_machine(repo, candidate.sha), candidate, info, config)
    except InfrastructureError as exc:
        return Postponed(candidate.sha, str(exc), exc.cause.value), Timing()
    except Exception as exc:  # noqa: BLE001 -- one odd commit must not end a long run; it is recorded
        detail = f"{type(exc).__name__}: {exc}\n{trim(traceback.format_exc(), 1500)}"
        rejection = Rejection(candidate.sha, Reason.MINER_ERROR, trim(detail), candidate.subject, candidate.score)
        return rejection, Timing()


def _on_this_machine(repo: Repo, sha: str) -> Repo:
    """``repo`` with a mirror on the machine running the unit that holds ``sha``.

    The driver's mirror when the unit runs beside it; on another Ray node, that node's own mirror
    in its own cache (cloned once, fetched when it predates the commit).
    """
    if _has_commit(repo.git_dir, sha):
        return repo
    try:
        git_dir = mirror(repo.url, update=False)
        if not _has_commit(git_dir, sha):
            git_dir = mirror(repo.url)
    except RepositoryError as exc:  # the driver could read it: this machine cannot reach it
        raise InfrastructureError(f"{repo.url}: cannot be mirrored on this machine ({exc})",
                                  cause=InfraCause.NETWORK) from None
    return Repo(git_dir, repo.name, repo.url)


def _has_commit(git_dir: Path, sha: str) -> bool:
    if not git_dir.is_dir():
        return False
    return run_git(["--git-dir", str(git_dir), "cat-file", "-e", f"{sha}^{{commit}}"]).returncode == 0


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
