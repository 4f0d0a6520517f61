"""Where an export goes: the destination checked before any work, a staging folder beside it, the swap.

Every export is written beside its destination and renamed into place: a full disk or a kill
leaves the previous export as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taskset.errors import ExportError
from taskset.files import dirlock
from taskset.files.atomic import _umask
from taskset.record import Task


@dataclass
class ExportResult:
    """What an export wrote, and which tasks it left out and why."""

    path: Path
    written: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(instance_id, reason)`` for tasks the format cannot carry (SWE-bench cannot grade them, say)."""


def check_destination(path: Path, directory: bool, marker: str = "") -> None:
    """Refuse, before any work, a destination that cannot be written or must not be replaced."""
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ExportError(f"{parent}: no such directory (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{parent}: not writable")
    if directory:
        if path.exists() and not path.is_dir():
            raise ExportError(f"{path}: exists and is not a directory")
        if path.is_dir() and any(path.iterdir()) and not (path / marker).is_file():
            raise ExportError(f"{path}: not empty and not a task repository (no {marker}); refusing to replace it")
    elif path.is_dir():
        raise ExportError(f"{path}: is a directory; give a file name such as {path / 'tasks.jsonl'}")


def staging_dir(path: Path) -> Path:
    """A fresh folder beside ``path`` (same file system, so the final rename is atomic)."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.absolute().parent))
    except OSError as exc:
        raise ExportError(f"{path.parent}: cannot be written ({reason(exc)})") from None


def swap_in(staging: Path, path: Path) -> None:
    """Rename the finished export into place; the previous one is moved aside first, then removed."""
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it 0700
    if not path.exists():
        os.rename(staging, path)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", suffix=".tmp", dir=path.absolute().parent))
    os.rename(path, aside / "previous")
    try:
        os.rename(staging, path)
    except OSError:
        os.rename(aside / "previous", path)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def write_directory(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` fills a staging folder beside ``path``, which then replaces ``path``; on any failure
    (ExportError for the machine's) the previous export stays as it was and the staging folder goes."""
    staging = staging_dir(path)
    try:
        write(staging)
        swap_in(staging, path)
    except OSError as exc:
        raise ExportError(f"{path}: cannot be written ({reason(exc)}); any previous export is unchanged") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def reason(exc: OSError) -> str:
    """An OSError's words without its errno number and path (the message names the path itself)."""
    return exc.strerror or str(exc)


def store_tasks(tasks: Sequence[Task], taskset_dir: str | Path) -> int:
    """Add every task to the task set at ``taskset_dir`` (created), under its lock: an import's last step."""
    from taskset.store import TaskSet

    target = Path(taskset_dir)
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target}: exists and is not a directory")
    if not target.parent.is_dir():
        raise ExportError(f"{target.parent}: no such directory")
    try:
        with dirlock.exclusive(target, doing="export --import"):
            store = TaskSet.open(target, create=True)
            for task in tasks:
                store.add(task)
    except OSError as exc:
        raise ExportError(f"{target}: cannot be written ({reason(exc)})") from None
    return len(tasks)
