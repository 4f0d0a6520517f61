"""The split of a fix into its gold ``patch`` (non-test source) and its ``test_patch`` (test side).

A path is test-side when ``taskset.workspace.testfiles`` says so (tests/ folders, test_*.py, conftest.py,
data files under test folders). Of the rest, docs, changelogs, CI and packaging config belong to
neither side: the gold patch is the fix a model must write, nothing else. Classified by a
(kind, pattern) table, first match wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from miner.errors import GitCommandError
from taskset.workspace.mirrors import run_git
from taskset.workspace.testfiles import DEFAULT, TestFileConventions, is_test_path

IGNORED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("docs", re.compile(r"^(?:docs?|documentation)/|\.(?:rst|md|txt|adoc)$", re.I)),
    ("changelog", re.compile(r"(?:^|/)(?:change(?:s|log)|history|news|authors|contributors)[^/]*$", re.I)),
    ("ci", re.compile(r"^(?:\.github|\.circleci|\.gitlab|\.ci|ci)/"
                      r"|^(?:\.travis\.yml|\.gitlab-ci\.yml|appveyor\.yml|azure-pipelines\.yml"
                      r"|\.pre-commit-config\.yaml)$")),
    ("config", re.compile(r"^(?:setup\.py|setup\.cfg|pyproject\.toml|tox\.ini|noxfile\.py|MANIFEST\.in|Makefile"
                          r"|\.coveragerc|\.gitignore|\.gitattributes|\.editorconfig|\.flake8|mypy\.ini|pytest\.ini"
                          r"|requirements[^/]*|.*\.lock)$", re.I)),
)


def ignored_kind(path: str) -> str:
    """The IGNORED kind that ``path`` falls under, or "" for a source path."""
    return next((kind for kind, pattern in IGNORED if pattern.search(path)), "")


@dataclass(frozen=True)
class Sides:
    """A commit's changed paths, by side."""

    source: tuple[str, ...]
    """Non-test paths that are not docs/changelog/CI/config: the gold patch's paths."""
    tests: tuple[str, ...]
    """Every test-side path: modules, conftest, fixtures, data files (deletions too)."""
    ignored: tuple[str, ...]

    @property
    def source_py(self) -> tuple[str, ...]:
        """Python source files among the gold paths."""
        return tuple(p for p in self.source if p.endswith(".py"))

    @property
    def test_py(self) -> tuple[str, ...]:
        """Python files among the test-side paths."""
        return tuple(p for p in self.tests if p.endswith(".py"))


def sides(paths: Iterable[str], conventions: TestFileConventions = DEFAULT) -> Sides:
    """Sort changed paths into source, test and ignored sides."""
    source, tests, ignored = [], [], []
    for path in dict.fromkeys(paths):
        if is_test_path(path, conventions):
            tests.append(path)
        elif ignored_kind(path):
            ignored.append(path)
        else:
            source.append(path)
    return Sides(tuple(source), tuple(tests), tuple(ignored))


def diff(git_dir: Path, parent: str, commit: str, paths: Iterable[str]) -> str:
    """A full-index, binary-safe diff of ``paths`` from ``parent`` to ``commit`` ("" for none)."""
    paths = list(paths)
    if not paths:
        return ""
    args = ["--git-dir", str(git_dir), "diff", "--binary", "--full-index", "--no-renames",
            "--no-color", "--no-ext-diff", parent, commit, "--", *paths]
    done = run_git(args, env={"GIT_LITERAL_PATHSPECS": "1"})
    if done.returncode != 0:
        raise GitCommandError("git diff", done.stderr.decode("utf-8", errors="replace"))
    return done.stdout.decode("utf-8", errors="surrogateescape")


def added_lines(patch: str) -> list[str]:
    """The lines a diff adds (without the leading ``+``), headers excluded."""
    return [line[1:] for line in patch.splitlines() if line.startswith("+") and not line.startswith("+++")]


def changed_lines(patch: str) -> list[str]:
    """The lines a diff adds or removes (without the marker), headers excluded."""
    return [
        line[1:]
        for line in patch.splitlines()
        if line[:1] in "+-" and line and not line.startswith(("+++", "---"))
    ]


def added_files(patch: str) -> list[str]:
    """Paths the diff creates (``new file mode``)."""
    files, current = [], ""
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            current = line.split(" b/", 1)[-1]
        elif line.startswith("new file mode") and current:
            files.append(current)
    return files
