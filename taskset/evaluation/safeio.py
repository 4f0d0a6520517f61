"""Reading what a test run left behind, when the code under test may have tampered with it.

A report path may have been swapped for a FIFO (an ``open`` that blocks forever), a symlink to
``/dev/zero`` or a secret, or a sparse file of many gigabytes. Files are opened without following
links and without blocking, must be regular files, and are read as head and tail under a cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from taskset.errors import EvidenceFlood, TestRunError

READ_CAP = 8 * 1024 * 1024
"""Bytes kept of one file at most (head and tail)."""


def read_bounded(path: str | Path, cap: int = READ_CAP, whole: bool = False) -> bytes | None:
    """The content of a regular file at ``path`` (head and tail when larger than ``cap``), or None if absent.

    With ``whole``, a file larger than ``cap`` is not read at all: EvidenceFlood. Raises
    TestRunError when ``path`` is not a regular file (a link, a FIFO, a device, a folder).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TestRunError(f"{Path(path).name}: cannot be read safely ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TestRunError(f"{Path(path).name}: not a regular file")
        if whole and info.st_size > cap:
            raise EvidenceFlood(f"{Path(path).name} holds {info.st_size} bytes, more than this run could write "
                                f"({cap})")
        return read_fd_bounded(fd, info.st_size, cap)
    finally:
        os.close(fd)


def read_fd_bounded(fd: int, size: int | None = None, cap: int = READ_CAP) -> bytes:
    """Read an open file descriptor from its start: all of it, or head and tail when over ``cap``."""
    if size is None:
        size = os.fstat(fd).st_size
    if size <= cap:
        return os.pread(fd, size, 0) if size else b""
    half = cap // 2
    head = os.pread(fd, half, 0)
    tail = os.pread(fd, half, size - half)
    marker = f"\n[... {size - 2 * half} bytes cut ...]\n".encode()
    return head + marker + tail


def size_is_within(path: str | Path, cap: int) -> bool:
    """True when ``path`` is a regular file of at most ``cap`` bytes (links not followed)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= cap
