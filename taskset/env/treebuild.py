"""What a project's build produces that its tree lacks, built for one tree and cached per tree.

An environment holds dependencies only (``taskset.env.project``), so a module the build writes
(a ``_version.py`` from setuptools-scm) or compiles (a C extension) must come from the tree under
test, never from whichever tree built the shared environment. When an environment's build
produced such files, each tree it serves gets its own build, kept in
``cache_dir()/builds/<key>/`` (key: the environment's fingerprint and the tree's identity:
its git tree plus its uncommitted changes, i.e. the base commit and the test patch), with
``loopctl-built.json`` written last; ``place`` copies the files into that tree where absent, and
over an untracked copy built for another state of the tree (before the gold patch changed a C source).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from filelock import FileLock, Timeout

from taskset.env import project as ownfiles
from taskset.env.install import Installer, Plan
from taskset.errors import EnvironmentBuildError
from taskset.files.atomic import write_atomic
from taskset.files.cache import cache_dir
from taskset.files.walk import walk

BUILT_MARKER = "loopctl-built.json"
"""Written last into a per-tree build folder: the files it lists are complete."""
BUILD_TIMEOUT = 900.0


def tree_identity(source: Path) -> str:
    """A digest of the tree's content: git's tree id of HEAD plus the uncommitted changes to tracked
    files (a workspace's test patch); outside git, every file's path and bytes."""
    source = Path(source)
    toplevel = _git(source, "rev-parse", "--show-toplevel")
    # a folder inside another repository has no tree of its own
    own = toplevel is not None and Path(os.fsdecode(toplevel)).resolve() == source.resolve()
    head = _git(source, "rev-parse", "HEAD^{tree}") if own else None
    if head is not None:
        changes = _git(source, "diff", "HEAD", "--binary") or b""
        return hashlib.sha256(head + b"\0" + changes).hexdigest()
    digest = hashlib.sha256()
    for top, dirs, files in walk(source):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = os.path.join(top, name)
            digest.update(os.path.relpath(path, source).encode("utf-8", "surrogateescape") + b"\0")
            try:
                digest.update(Path(path).read_bytes())
            except OSError:
                continue
    return digest.hexdigest()


def key_for(fingerprint: str, identity: str) -> str:
    """The per-tree cache key: the environment that builds and the tree that is built."""
    return hashlib.sha256(f"{fingerprint}\0{identity}".encode()).hexdigest()[:32]


def store(key: str, files: dict[str, Path]) -> Path:
    """Keep ``files`` (repository-relative path -> a copy) as the build of ``key``; returns its folder."""
    final = cache_dir() / "builds" / key
    tmp = final.parent / f".{key}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, path in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, tmp / rel)
    tmp.mkdir(parents=True, exist_ok=True)
    write_atomic(tmp / BUILT_MARKER, json.dumps({"files": sorted(files)}, indent=2) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    return final


def built_for(env, source: Path, timeout: float = BUILD_TIMEOUT) -> dict[str, Path]:
    """The files ``env``'s project build produces for the tree at ``source`` (cached per tree).

    Raises EnvironmentBuildError when this tree does not build.
    """
    recipe = env.tree_build
    if not recipe:
        return {}
    key = key_for(env.fingerprint, tree_identity(source))
    final = cache_dir() / "builds" / key
    ready = _load(final)
    if ready is not None:
        return ready
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(final.parent / f"{key}.lock"), timeout=timeout):
            ready = _load(final)
            if ready is not None:
                return ready
            return _build(env, recipe, Path(source).resolve(), key, timeout)
    except Timeout:
        raise EnvironmentBuildError(f"timed out waiting for another build of {final}", step="tree-build") from None


def place(files: dict[str, Path], tree: Path) -> list[str]:
    """Copy the built files into ``tree`` where their folder exists; returns what was written.

    A file already there is replaced when git does not track it and its bytes differ: it is the
    build of another state of this tree (the extension compiled before the gold patch changed its
    C source, the ``_version.py`` of the base commit), which would otherwise shadow the code under
    test. A tracked file is the tree's own and stays; outside git only absent files are written.
    """
    tracked = ownfiles.tracked_files(Path(tree))
    written = []
    for rel, path in sorted(files.items()):
        target = Path(tree) / rel
        if not target.parent.is_dir():
            continue
        if target.exists() or target.is_symlink():
            if tracked is None or rel in tracked or _same_bytes(target, path):
                continue
            target.unlink()
        shutil.copy2(path, target)
        written.append(rel)
    return written


COMPILED_SOURCES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".pyx", ".pxd", ".pxi", ".rs", ".f", ".f90")
"""Suffixes of the sources a build compiles into an extension module."""


def drop_stale(tree: Path, touched: list[str] | tuple[str, ...]) -> list[str]:
    """After a patch to ``tree`` that touched a compiled source, remove the extension modules git does
    not track (the ones ``place`` put there); returns the removed paths.

    They were compiled from the sources before the patch and would shadow its change (a C
    ``escape`` still returning the buggy type after the fix to both ``_speedups.c`` and
    ``_native.py``). A patched tree is never built outside the sandbox (its build runs its code),
    so the tree runs as a checkout does without a build: a project with a pure-Python fallback
    imports it; one without fails to import, which the miner then rejects.
    """
    if not any(path.endswith(COMPILED_SOURCES) for path in touched):
        return []
    tracked = ownfiles.tracked_files(Path(tree))
    if tracked is None:
        return []
    dropped = []
    for top, dirs, files in walk(Path(tree)):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(top) / name
            rel = path.relative_to(tree).as_posix()
            if name.endswith(ownfiles.EXTENSION_SUFFIXES) and rel not in tracked:
                path.unlink()
                dropped.append(rel)
    return sorted(dropped)


def _same_bytes(one: Path, other: Path) -> bool:
    try:
        return one.is_file() and not one.is_symlink() and one.read_bytes() == other.read_bytes()
    except OSError:
        return False


def _build(env, recipe: dict, source: Path, key: str, timeout: float) -> dict[str, Path]:
    """Build the project from a copy of ``source`` (its build may write into the tree) into a folder."""
    scratch = cache_dir() / "builds" / f".{key}.{os.getpid()}.work"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        tree, target = scratch / "tree", scratch / "target"
        shutil.copytree(source, tree, symlinks=True)
        installer = Installer(Path(env.python), Path(env.path), scratch / "build.log", time.monotonic() + timeout)
        plan = Plan(project=True, project_name=str(recipe.get("name", "")),
                    exclude_newer=str(recipe.get("exclude_newer", "")), version=str(recipe.get("version", "")))
        installer.build_tree(plan, tree, str(recipe.get("rung", "normal")), target)
        info = ownfiles.find_dist(target, tree, plan.project_name)
        files = ownfiles.built_files(target, info, tree) if info is not None else {}
        store(key, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _load(cache_dir() / "builds" / key) or {}


def _load(final: Path) -> dict[str, Path] | None:
    try:
        listed = json.loads((final / BUILT_MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    files = {str(rel): final / str(rel) for rel in listed}
    if not all(path.is_file() for path in files.values()):
        return None
    return files


def _git(source: Path, *args: str) -> bytes | None:
    done = subprocess.run(["git", "-C", str(source), *args], capture_output=True)
    return done.stdout.strip() if done.returncode == 0 else None
