"""Crash-safe file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """An OSError inside names ``path`` when it names no file itself (a write on a full disk names none)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or not exc.strerror:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, fsync it, then rename it over ``path``.

    The file gets the mode a plain ``open()`` would give it (0666 less the umask), not the
    0600 of the temp file it started as.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with naming(path), os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def append_line(path: str | Path, line: str) -> None:
    """Append one line (a JSONL record) and fsync, so a record that was written survives a kill."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def drop_torn_tail(path: str | Path) -> None:
    """Cut a last line that has no newline (a kill or a full disk mid-append) so appends start clean.

    A torn record is never repaired into a line of its own: it would stay invalid JSON forever.
    """
    path = Path(path)
    if not path.is_file():
        return
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        keep = _last_newline_end(handle, size)
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())


def remove_stale_temporaries(directory: str | Path) -> int:
    """Delete the ``.NAME.*.tmp`` files ``write_atomic`` left behind when a kill hit it; returns the count.

    Call it only while holding the directory's writer lock: another writer's temp file is live.
    """
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def _last_newline_end(handle, size: int, block: int = 1 << 16) -> int:
    """The offset just past the last newline before ``size`` (0 when there is none), read backwards."""
    end = size
    while end > 0:
        start = max(0, end - block)
        handle.seek(start)
        chunk = handle.read(end - start)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


@functools.cache
def _umask() -> int:
    # os.umask can only be read by setting it; do that once per process, not on every write,
    # so a thread creating a file meanwhile is exposed to the swap at most once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
