"""Files in a workspace as bytes: snapshots, writes that never follow a link, removal, bytecode.

The one place that writes or deletes inside a work tree on the workspace's behalf.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from taskset.errors import EditRefused
from taskset.files.walk import walk

BYTECODE_SUFFIXES = (".pyc", ".pyo")

SYMLINK = -1
Snapshot = tuple[bytes, int] | None  # (content, mode) of a file, (target, SYMLINK) of a link, None if absent


def clear_bytecode(root: Path) -> int:
    """Delete every ``__pycache__`` dir and ``*.pyc``/``*.pyo`` file under ``root`` outside ``.git``.

    The one bytecode walk: the runner uses it for plain directories too.
    """
    root = Path(root)
    removed = 0
    for top, dirs, files in walk(root):
        if Path(top) == root and ".git" in dirs:
            dirs.remove(".git")
        for name in [d for d in dirs if d == "__pycache__"]:
            dirs.remove(name)
            remove_tree(Path(top) / name)
            removed += 1
        for name in files:
            if name.endswith(BYTECODE_SUFFIXES):
                (Path(top) / name).unlink(missing_ok=True)
                removed += 1
    return removed


def snapshot_of(path: Path) -> Snapshot:
    """A file's content and mode, a link's target, or None when nothing is there."""
    if path.is_symlink():
        return os.fsencode(os.readlink(path)), SYMLINK
    if path.is_file():
        return path.read_bytes(), path.stat().st_mode & 0o777
    return None


def encode_edit(path: str, content: object) -> bytes | None:
    """An edit's content as bytes (None stays None: a deletion); other types are a caller's bug."""
    if content is None or isinstance(content, bytes):
        return content
    if isinstance(content, str):
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError:
            raise EditRefused(path, "the content is not valid text (a lone surrogate)",
                              kind=EditRefused.UNSAFE) from None
    raise TypeError(f"edit to {path!r}: content must be str, bytes or None, not {type(content).__name__}")


def replace_file(target: Path, data: bytes | None) -> None:
    """Write (keeping an existing file's mode) or delete one file; a symlink is replaced, not followed."""
    if data is None:
        if target.is_symlink() or target.exists():
            target.unlink()
        return
    mode = target.stat().st_mode & 0o777 if target.is_file() and not target.is_symlink() else 0o644
    write_file(target, data, mode)


def write_file(target: Path, data: bytes, mode: int) -> None:
    """Write ``data`` with ``mode`` (or a symlink for SYMLINK), replacing a link rather than following it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()  # replace the link itself; never write through it
    if mode == SYMLINK:
        os.symlink(os.fsdecode(data), target)
        return
    with open(target, "wb") as handle:
        handle.write(data)
    os.chmod(target, mode)


def remove_tree(path: Path) -> None:
    """Delete a folder, read-only ones included; a symlink is unlinked, never followed."""
    def retry(func, name, _exc):
        os.chmod(os.path.dirname(name), stat.S_IRWXU)
        func(name)

    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=retry)
