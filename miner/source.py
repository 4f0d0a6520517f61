"""Where to mine: ``--repo`` to a bare mirror, and the options to the commits to walk.

``--since``/``--until`` take a date or a revision and are inclusive (like PyDriller's from/to);
``--commit`` names exact commits; ``--branch`` picks the tip (default: the mirror's HEAD).
Everything is checked here, before the output directory exists, so bad input leaves nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from miner.errors import BadRevision, MinerError, NoTestsError
from miner.testconfig import conventions_by_commit
from taskset.errors import RepositoryError
from taskset.workspace.mirrors import is_url, mirror, repo_name, resolve_revision, run_git
from taskset.workspace.testfiles import DEFAULT, TestFileConventions, is_test_path

_NAME = re.compile(r"[A-Za-z0-9._-]+/[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Source:
    """A repository ready to walk: its mirror, its name, and the ``git log`` arguments of the range."""

    location: str
    """What the user passed to ``--repo``."""
    url: str
    """Where the repository is cloned from (URLs as given, local paths absolute): a task's ``repo_source``;
    its ``repo_url`` is ``taskset.workspace.provenance.public_url`` of this (never a local path)."""
    name: str
    """``owner/name``."""
    git_dir: Path
    """The bare mirror in the cache."""
    tip: str
    """The sha the walk starts from."""
    revisions: tuple[str, ...]
    """``git log`` arguments selecting the commits to walk."""


def open_source(
    location: str,
    *,
    branch: str | None = None,
    since: str | None = None,
    until: str | None = None,
    commits: Sequence[str] = (),
    conventions: TestFileConventions = DEFAULT,
    name: str | None = None,
    project_conventions: bool = True,
) -> Source:
    """Mirror ``location`` and resolve the range; raises MinerError/RepositoryError on bad input.

    With ``project_conventions``, the tip's own pytest config extends ``conventions`` for the
    check that the repository has tests at all.
    """
    git_dir = mirror(location)
    tip = _resolve(git_dir, "--branch", branch) if branch else _head(location, git_dir)
    if commits:
        shas = [_resolve(git_dir, "--commit", sha) for sha in commits]
        revisions: list[str] = ["--no-walk=unsorted", *dict.fromkeys(shas)]
    else:
        revisions = _range(git_dir, tip, since, until)
    if project_conventions:
        conventions = conventions_by_commit(git_dir, [tip], conventions, repo_name(location).split("/")[-1])[tip]
    if not _has_tests(git_dir, tip, conventions):
        raise NoTestsError(location, tip)
    url = location if is_url(location) else str(Path(location).expanduser().absolute())
    if name is not None and not _NAME.fullmatch(name):
        raise MinerError(f"--name {name!r}: expected owner/name")
    return Source(location, url, name or repo_name(location), git_dir, tip, tuple(revisions))


def read_repo_list(path: str | Path) -> tuple[str, ...]:
    """The repositories a ``--repos`` file names: one URL, path or bundle per line.

    Blank lines and ``#`` comments are skipped; a relative path is relative to the file's own
    folder (so a list travels with the repositories beside it). MinerError (one line) when the
    file cannot be read or names nothing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MinerError(f"--repos {path}: cannot be read ({why})") from None
    found: list[str] = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if not is_url(entry):  # one spelling per folder: `lists/../alpha` and `alpha/` are one repository
            entry = os.path.normpath(path.parent.absolute() / Path(entry).expanduser())
        found.append(entry)
    if not found:
        raise MinerError(f"--repos {path}: names no repository (one URL, path or bundle per line)")
    return tuple(found)


def _head(location: str, git_dir: Path) -> str:
    try:
        return resolve_revision(git_dir, "HEAD")
    except RepositoryError:
        raise RepositoryError(location, "HEAD names no commit (empty repository?)") from None


def _resolve(git_dir: Path, option: str, rev: str) -> str:
    try:
        return resolve_revision(git_dir, rev)
    except RepositoryError:
        raise BadRevision(option, rev, "unknown branch or revision") from None


def _range(git_dir: Path, tip: str, since: str | None, until: str | None) -> list[str]:
    """``git log`` arguments for tip, bounded by since/until (each a revision or a date)."""
    if since and until:
        start, end = _moment(git_dir, "--since", since, False), _moment(git_dir, "--until", until, True)
        if start > end:
            raise BadRevision("--since", since, f"is after --until {until!r}: nothing to walk")
    args = [tip]
    if until:
        sha = _try_revision(git_dir, until)
        if sha:
            args = [sha]
        else:
            args.append("--until=" + _date("--until", until, end_of_day=True))
    if since:
        sha = _try_revision(git_dir, since)
        if sha:
            args.append(f"^{sha}^@")  # parents excluded, the commit itself kept: inclusive
        else:
            args.append("--since=" + _date("--since", since, end_of_day=False))
    return args


def _moment(git_dir: Path, option: str, value: str, end_of_day: bool) -> dt.datetime:
    """When a bound lies: a revision's committer date, or the date itself (UTC, for comparing)."""
    sha = _try_revision(git_dir, value)
    if sha:
        done = run_git(["--git-dir", str(git_dir), "log", "-1", "--format=%cI", sha])
        stamp = dt.datetime.fromisoformat(done.stdout.decode("ascii", errors="replace").strip())
    else:
        stamp = dt.datetime.fromisoformat(_date(option, value, end_of_day))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp


def _try_revision(git_dir: Path, value: str) -> str | None:
    try:
        return resolve_revision(git_dir, value)
    except RepositoryError:
        return None


def _date(option: str, value: str, end_of_day: bool) -> str:
    """An ISO date or datetime; a bare date covers its whole day (inclusive bounds)."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            clock = dt.time(23, 59, 59) if end_of_day else dt.time(0, 0, 0)
            return dt.datetime.combine(day, clock).isoformat()
        return dt.datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRevision(option, value, "neither a revision in the repository nor an ISO date") from None


def _has_tests(git_dir: Path, tip: str, conventions: TestFileConventions) -> bool:
    done = run_git(["--git-dir", str(git_dir), "ls-tree", "-r", "-z", "--name-only", tip])
    paths = done.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return any(p.endswith(".py") and is_test_path(p, conventions) for p in paths)
