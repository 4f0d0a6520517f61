"""The files a test run must not be able to change: test modules and pytest configuration.

Inside the sandbox they are bind-mounted read-only for the run; either way their hashes are
taken before and after, and the plugin reports each module's hash as pytest collects it, so a
file rewritten during the run and put back afterwards still shows.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Iterable

from taskset.pytestconfig import CONFIG_NAMES
from taskset.testfiles import is_test_path

HASH_CAP = 64 * 1024 * 1024
"""A protected file larger than this is hashed by its size alone (test modules are never this big)."""


def protected_files(root: Path, extra: Iterable[str] = ()) -> list[str]:
    """Relative paths of every Python test file and pytest configuration file under ``root``, plus ``extra``.

    Only regular files count (a symlink is not followed); ``.git`` is skipped.
    """
    root = Path(root)
    found: dict[str, None] = {}
    for top, dirs, files in os.walk(root):
        if top == str(root) and ".git" in dirs:
            dirs.remove(".git")
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel_top = os.path.relpath(top, root)
        for name in files:
            rel = name if rel_top == "." else f"{rel_top}/{name}"
            if (name.endswith(".py") and is_test_path(rel)) or name in CONFIG_NAMES:
                found[rel] = None
    for rel in extra:
        found.setdefault(rel, None)
    return [rel for rel in found if os.path.isfile(root / rel) and not os.path.islink(root / rel)]


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
