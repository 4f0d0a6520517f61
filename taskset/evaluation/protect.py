"""The files a test run must not be able to change: test modules and pytest configuration.

Every Python test file and configuration file is hashed before and after the run, and the plugin
reports each module's hash as pytest collects it, so a file rewritten during the run and put back
afterwards still shows. The files that define the run itself -- the requested test modules, the
conftest and ``__init__`` files above them, the configuration -- are also bind-mounted read-only
inside the sandbox (each bind costs about a millisecond and bubblewrap takes at most a few
thousand, so not every test file of a large project can be one).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from taskset.files.walk import walk
from taskset.workspace.pytestconfig import CONFIG_NAMES
from taskset.workspace.testfiles import is_test_path

HASH_CAP = 64 * 1024 * 1024
"""A protected file larger than this is hashed by its size alone (test modules are never this big)."""


def workspace_files(root: Path) -> list[str]:
    """Relative paths of every file under ``root`` (``.git`` and ``__pycache__`` skipped; links not followed)."""
    root = Path(root)
    found: list[str] = []
    for top, dirs, files in walk(root):
        if top == str(root) and ".git" in dirs:
            dirs.remove(".git")
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel_top = os.path.relpath(top, root)
        found += [name if rel_top == "." else f"{rel_top}/{name}" for name in files]
    return found


def protected_files(root: Path, extra: Iterable[str] = (), listing: Iterable[str] | None = None) -> list[str]:
    """Relative paths of every Python test file and pytest configuration file under ``root``, plus ``extra``.

    Only regular files count (a symlink is not followed); ``.git`` is skipped. ``listing`` is
    :func:`workspace_files` when the caller already has it.
    """
    root = Path(root)
    found: dict[str, None] = {}
    for rel in workspace_files(root) if listing is None else listing:
        name = rel.rsplit("/", 1)[-1]
        if (name.endswith(".py") and is_test_path(rel)) or name in CONFIG_NAMES:
            found[rel] = None
    for rel in extra:
        found.setdefault(rel, None)
    return [rel for rel in found if os.path.isfile(root / rel) and not os.path.islink(root / rel)]


READ_ONLY_LIMIT = 256
"""Files bound read-only in one run at most (the requested modules come first)."""


def read_only_files(root: Path, test_files: Iterable[str], config: Path | None, extra: Iterable[str] = ()) -> list[str]:
    """Relative paths to make read-only for a run of ``test_files``: each module and the test modules
    beside it, the ``conftest.py`` and ``__init__.py`` in every folder from it up to ``root``, the
    configuration file and ``extra``."""
    root = Path(root)
    chosen: dict[str, None] = {}
    for rel in test_files:
        chosen[rel] = None
    for rel in test_files:  # helpers beside a test module (tests/utils.py) shape what it asserts
        folder = root / rel.rsplit("/", 1)[0] if "/" in rel else root
        for sibling in sorted(folder.glob("*.py")):
            sibling_rel = sibling.relative_to(root).as_posix()
            if is_test_path(sibling_rel):
                chosen.setdefault(sibling_rel, None)
    for rel in test_files:
        parts = rel.split("/")[:-1]
        for depth in range(len(parts), -1, -1):
            prefix = "/".join(parts[:depth])
            for name in ("conftest.py", "__init__.py"):
                chosen[f"{prefix}/{name}" if prefix else name] = None
    if config is not None:
        try:
            chosen[Path(config).resolve().relative_to(root.resolve()).as_posix()] = None
        except ValueError:
            pass  # our own empty configuration, outside the workspace
    for rel in extra:
        chosen.setdefault(rel, None)
    found = [rel for rel in chosen if (root / rel).is_file() and not (root / rel).is_symlink()]
    return found[:READ_ONLY_LIMIT]


def hashes(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """sha256 of each file ("" for one that is missing or not a regular file)."""
    return {rel: file_hash(Path(root) / rel) for rel in paths}


def file_hash(path: Path) -> str:
    """sha256 of a regular file's bytes, without following a symlink; "" when there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return ""
        if info.st_size > HASH_CAP:
            return f"size:{info.st_size}"
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    finally:
        os.close(fd)
