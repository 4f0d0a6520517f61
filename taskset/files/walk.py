"""Walking a tree the code under test may have shaped: no recursion, whatever its depth.

``os.walk`` (and ``shutil.rmtree``) recurse once per folder level on this Python; a run that
builds a chain of 5,000 folders would turn every later walk into a RecursionError. This walker
keeps its own stack, never follows symlinks, and skips what it cannot read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator


def walk(top: str | os.PathLike) -> Iterator[tuple[str, list[str], list[str]]]:
    """Top-down ``(folder, subfolders, other entries)`` like ``os.walk(top)``.

    Symlinks (to folders too) are listed among the other entries, never entered; the caller may
    prune ``subfolders`` in place. Folders that cannot be read are skipped.
    """
    stack = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        dirs: list[str] = []
        files: list[str] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry.name)
        yield folder, dirs, files
        stack.extend(os.path.join(folder, name) for name in reversed(dirs))
