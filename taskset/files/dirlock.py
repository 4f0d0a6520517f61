"""One writer per output directory: a task set, a run directory, a calibration.

Two ``mine`` into one ``--out`` would validate everything twice; two ``harness run`` into one
run directory would pay for every attempt twice. The writer holds an exclusive lock on
``DIR/.loopctl.lock`` for as long as it writes; a second writer is refused at once with
``DirectoryBusy`` naming the holder. The lock is the kernel's (``flock`` through filelock), so
it dies with its process: a killed writer never leaves a directory locked.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from taskset.errors import DirectoryBusy

LOCK_FILE = ".loopctl.lock"
OWNER_FILE = ".loopctl.owner"
"""Who holds the lock (pid, host, command, since): written after the lock is taken, for the message."""


@contextlib.contextmanager
def exclusive(directory: str | Path, doing: str = "") -> Iterator[Path]:
    """Hold ``directory``'s writer lock for the ``with`` block (creating the directory).

    Raises DirectoryBusy when another process holds it; ``doing`` ("mine", "harness run")
    is recorded so that process's refusal can say what holds the directory.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / LOCK_FILE), timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise DirectoryBusy(str(root), _owner(root)) from None
    try:
        _write_owner(root, doing)
        yield root
    finally:
        with contextlib.suppress(OSError):
            (root / OWNER_FILE).unlink()
        lock.release()


def _write_owner(root: Path, doing: str) -> None:
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": doing or " ".join(Path(sys.argv[0]).name.split()[:1] + sys.argv[1:2]),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with contextlib.suppress(OSError):
        (root / OWNER_FILE).write_text(json.dumps(owner) + "\n", encoding="utf-8")


def _owner(root: Path) -> str:
    try:
        data = json.loads((root / OWNER_FILE).read_text(encoding="utf-8"))
        return f"{data['command']} (pid {data['pid']} on {data['host']}, since {data['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
