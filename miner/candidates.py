"""Candidate detection: git's own listing picks the commits, PyDriller details only those.

One ``git log --name-status -z`` over the range lists every commit with its changed paths
(thousands per second); a commit is a candidate when it changes both non-test Python source
and Python test files. Reading every diff through PyDriller would be ~200x slower, so
PyDriller reads only the candidates (message, dates, line counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from miner import signals
from miner.errors import GitCommandError
from miner.rejections import Reason, Rejection
from miner.split import Sides, sides
from taskset.workspace.mirrors import run_git
from taskset.workspace.testfiles import DEFAULT, TestFileConventions

_FORMAT = "%x01%H %P%x00%cI%x00%s%x00"


@dataclass(frozen=True)
class Commit:
    """One commit as git lists it: ids, date, subject and changed paths (first-parent for merges)."""

    sha: str
    parents: tuple[str, ...]
    date: str
    subject: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """A commit that changes source and tests: worth validating."""

    sha: str
    parent: str
    date: str
    subject: str
    score: float
    sides: Sides
    conventions: TestFileConventions | None = None
    """The test conventions of this commit (its pytest config included); None: the run's own."""


def list_commits(git_dir: Path, revisions: Sequence[str], merges: bool = False) -> list[Commit]:
    """Commits named by ``revisions`` (``git log`` arguments), newest first, with changed paths."""
    merge_args = ["--diff-merges=first-parent"] if merges else ["--no-merges"]
    args = ["--git-dir", str(git_dir), "log", "-z", "--name-only", "--no-renames",
            "--format=" + _FORMAT, *merge_args, *revisions, "--"]
    done = run_git(args)
    if done.returncode != 0:
        raise GitCommandError("git log", done.stderr.decode("utf-8", errors="replace"))
    return parse_log(done.stdout)


def parse_log(output: bytes) -> list[Commit]:
    """Parse ``git log -z --name-only --format=<_FORMAT>`` output."""
    commits = []
    for record in output.split(b"\x01")[1:]:
        head, date, subject, *rest = record.split(b"\x00")
        sha, *parents = head.decode("ascii").split()
        paths = tuple(p.decode("utf-8", errors="surrogateescape").lstrip("\n") for p in rest)
        commits.append(Commit(
            sha, tuple(parents), date.decode("ascii"),
            subject.decode("utf-8", errors="replace"), tuple(p for p in paths if p),
        ))
    return commits


def classify(commit: Commit, conventions: TestFileConventions = DEFAULT) -> Candidate | Rejection:
    """A Candidate when ``commit`` changes non-test Python source and Python tests, else why not."""
    split = sides(commit.paths, conventions)
    score = signals.score(commit.subject)
    if not commit.parents:
        return Rejection(commit.sha, Reason.NOT_A_CANDIDATE, "root commit: no parent to be the buggy side",
                         commit.subject, score)
    source, tests = split.source_py, split.test_py
    if source and tests:
        return Candidate(commit.sha, commit.parents[0], commit.date, commit.subject, score, split, conventions)
    if not source and not tests:
        reason = Reason.NOT_A_CANDIDATE
    else:
        reason = Reason.NO_SOURCE_CHANGE if tests else Reason.NO_TEST_CHANGE
    detail = f"changes: {', '.join(commit.paths[:8])}" + (" ..." if len(commit.paths) > 8 else "")
    return Rejection(commit.sha, reason, detail, commit.subject, score)


@dataclass(frozen=True)
class Detail:
    """What PyDriller tells about a candidate beyond git's listing."""

    message: str
    created_at: str
    lines_added: int
    lines_removed: int
    files_changed: int


def details(git_dir: Path, candidates: Sequence[Candidate]) -> dict[str, Detail]:
    """Read the candidates' messages, dates and line counts through one PyDriller ``Git``.

    Done in the parent process only: opening a ``Git`` writes the repository's config, and two
    workers doing so at once collide on its lock.
    """
    if not candidates:
        return {}
    from pydriller import Git  # imported late: importing PyDriller costs ~0.3 s

    git = Git(str(git_dir))
    try:
        return {c.sha: _detail(git, git_dir, c) for c in candidates}
    finally:
        git.clear()


def _detail(git, git_dir: Path, candidate: Candidate) -> Detail:
    commit = git.get_commit(candidate.sha)
    if len(commit.parents) > 1:  # PyDriller lists no files for merges; use the first-parent stat
        added, removed, count = _numstat(git_dir, candidate.parent, candidate.sha)
    else:
        files = commit.modified_files  # re-diffs on every access: read once
        added = sum(f.added_lines for f in files)
        removed = sum(f.deleted_lines for f in files)
        count = len(files)
    return Detail(commit.msg, commit.committer_date.isoformat(), added, removed, count)


def _numstat(git_dir: Path, parent: str, sha: str) -> tuple[int, int, int]:
    done = run_git(["--git-dir", str(git_dir), "diff", "--numstat", "--no-renames", parent, sha])
    added = removed = count = 0
    for line in done.stdout.decode("utf-8", errors="replace").splitlines():
        plus, minus, _ = line.split("\t", 2)
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
        count += 1
    return added, removed, count
