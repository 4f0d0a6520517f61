"""Each commit's own test conventions: the built-in ones, extended by its pytest configuration.

A project that says ``python_files = tests_*.py`` or ``testpaths = spec`` at some commit has its
tests there at that commit; a root ``test.py`` or ``tests.py`` that defines tests at a commit is
test code there (``testfiles.ROOT_TEST_MODULES``). Reading these files for each of thousands of
commits would cost a subprocess each; instead one ``git cat-file --batch-check`` names the config blobs of every
commit at once, and each distinct set of blobs is read and parsed once. A config that runs
``--doctest-modules`` over its ``testpaths`` asks one more batch which of those entries are packages
(hold an ``__init__.py``) at each commit: those are the project's code, not tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from miner.errors import GitCommandError
from taskset.workspace.mirrors import run_git
from taskset.workspace.testfiles import (
    PYTEST_CONFIG_FILES,
    ROOT_TEST_MODULES,
    PytestNaming,
    TestFileConventions,
    pytest_naming,
    testpath_entries,
    with_naming,
    with_root_modules,
)


def conventions_by_commit(
    git_dir: Path, shas: Iterable[str], base: TestFileConventions, project: str = ""
) -> dict[str, TestFileConventions]:
    """For every commit in ``shas``: ``base`` extended by the pytest naming its config files set
    and by the root test modules it has."""
    shas = list(dict.fromkeys(shas))
    if not shas:
        return {}
    names = PYTEST_CONFIG_FILES + ROOT_TEST_MODULES
    queries = [f"{sha}:{name}" for sha in shas for name in names]
    oids = _batch_check(git_dir, queries)
    blobs = _read_blobs(git_dir, {oid for oid in oids if oid})
    width = len(names)
    keys = [tuple(oids[i * width : (i + 1) * width]) for i in range(len(shas))]
    parsed: dict[tuple[str, ...], tuple[dict[str, str | None], PytestNaming]] = {}
    for key in dict.fromkeys(keys):
        texts = {name: blobs.get(oid) if oid else None for name, oid in zip(names, key, strict=True)}
        parsed[key] = (texts, pytest_naming(texts))
    packages = _packages(git_dir, {sha: parsed[key][1] for sha, key in zip(shas, keys, strict=True)})
    found: dict[tuple[tuple[str, ...], tuple[str, ...]], TestFileConventions] = {}
    result: dict[str, TestFileConventions] = {}
    for sha, key in zip(shas, keys, strict=True):
        texts, naming = parsed[key]
        full = (key, packages.get(sha, ()))
        if full not in found:
            found[full] = with_root_modules(with_naming(base, naming, project, full[1]), texts)
        result[sha] = found[full]
    return result


def _packages(git_dir: Path, namings: dict[str, PytestNaming]) -> dict[str, tuple[str, ...]]:
    """For each commit whose config doctests its ``testpaths``: the entries that hold an ``__init__.py`` there."""
    asked = [(sha, entry) for sha, naming in namings.items() if naming.doctest_modules
             for entry in testpath_entries(naming) if entry != "."]  # the root is a source root anyway
    if not asked:
        return {}
    oids = _batch_check(git_dir, [f"{sha}:{entry}/__init__.py" for sha, entry in asked])
    packages: dict[str, tuple[str, ...]] = {}
    for (sha, entry), oid in zip(asked, oids, strict=True):
        if oid:
            packages[sha] = packages.get(sha, ()) + (entry,)
    return packages


def _batch_check(git_dir: Path, queries: list[str]) -> list[str]:
    """The blob id each ``rev:path`` names ("" when missing or not a blob), in order."""
    done = run_git(["--git-dir", str(git_dir), "cat-file", "--batch-check=%(objectname) %(objecttype)"],
                   input=("\n".join(queries) + "\n").encode())
    if done.returncode != 0:
        raise GitCommandError("git cat-file --batch-check", done.stderr.decode("utf-8", errors="replace"))
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    if len(lines) != len(queries):
        raise GitCommandError("git cat-file --batch-check", f"expected {len(queries)} lines, got {len(lines)}")
    return [line.split()[0] if line.endswith(" blob") else "" for line in lines]


def _read_blobs(git_dir: Path, oids: set[str]) -> dict[str, str]:
    """The text of each blob (decoded leniently), through one ``git cat-file --batch``."""
    if not oids:
        return {}
    order = sorted(oids)
    done = run_git(["--git-dir", str(git_dir), "cat-file", "--batch"], input=("\n".join(order) + "\n").encode())
    if done.returncode != 0:
        raise GitCommandError("git cat-file --batch", done.stderr.decode("utf-8", errors="replace"))
    out, texts, pos = done.stdout, {}, 0
    for oid in order:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        if len(header) != 3:
            raise GitCommandError("git cat-file --batch", f"unexpected header {out[pos:end]!r}")
        size = int(header[2])
        texts[oid] = out[end + 1 : end + 1 + size].decode("utf-8", errors="replace")
        pos = end + 1 + size + 1  # the content is followed by a newline
    return texts

