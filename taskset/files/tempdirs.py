"""Temporary folders named after their owner, so a killed run's leftovers can be told apart and reclaimed.

``loopctl-<kind>-<pid>-<random>``: a folder whose owning process is gone belongs to nobody; the
next run in the same temp folder removes it. Folders of live processes are never touched.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

KINDS = ("ws", "run")
_NAME = re.compile(rf"^loopctl-(?:{'|'.join(KINDS)})-(\d+)-")


def make(kind: str, root: Path | None = None) -> Path:
    """A new private folder ``loopctl-<kind>-<pid>-XXXX`` in ``root`` (default: the temp folder)."""
    reclaim(str(root) if root is not None else tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix=f"loopctl-{kind}-{os.getpid()}-", dir=root)).resolve()


@functools.cache
def reclaim(folder: str) -> int:
    """Remove the loopctl temp folders in ``folder`` whose owning process is gone (once per process)."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _NAME.match(entry.name)
        try:
            if not match or not entry.is_dir(follow_symlinks=False) or _alive(int(match.group(1))):
                continue
        except (OSError, ValueError):
            continue
        remove(Path(entry.path))
        removed += 1
    return removed


def remove(path: Path) -> None:
    """Delete a folder whatever was left in it (read-only dirs, a chain thousands of folders deep);
    never raises: what cannot be removed now is reclaimed by a later run."""
    def retry(func, name, _exc):
        try:
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            func(name)
        except OSError:
            pass

    try:
        if path.is_symlink():
            path.unlink()
            return
        shutil.rmtree(path, onerror=retry)
    except (OSError, RecursionError):
        pass
    if os.path.lexists(path):
        # shutil.rmtree recurses per level; rm walks any depth (and chmod lets it into locked folders)
        for command in (["chmod", "-R", "u+rwx", "--", str(path)], ["rm", "-rf", "--", str(path)]):
            try:
                subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=600)
            except (OSError, subprocess.SubprocessError):
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
