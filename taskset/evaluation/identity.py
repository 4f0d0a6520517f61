"""Who the tests are inside a sandbox, what of the host's /etc they see, and what they may own.

The tests never run as root. Started by root, the sandbox switches them to ``SANDBOX_UID`` on the
host (``nobody``): the kernel then refuses them ``/proc/sys``, root-only files and every
capability, whatever the namespace shows. The folders they must write (the workspace, the private
HOME, TMPDIR and report folder) are lent to that uid for the run and given back afterwards, so
the files they leave behind belong to the caller again (our git refuses a tree another user owns,
and a set-uid bit does not survive the change of owner). Started by any other user, the sandbox
maps that user to ``SANDBOX_UID`` inside and nothing needs lending.

Files under /etc that the host does not let every user read are masked besides (an empty file or
folder in their place): by bwrap always, by the unshare fallback when the caller is not root
(supplementary groups survive into a user namespace; root's tests have none, and the kernel
refuses ``nobody`` such files anyway).
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from taskset.errors import InfraCause, InfrastructureError

SANDBOX_UID = 65534
"""The tests' uid and gid inside every sandbox (``nobody``), and on the host when root starts it."""

ETC = "/etc"


def from_root() -> bool:
    """True when the sandbox must take root away itself (this process is the host's root)."""
    return os.geteuid() == 0


def hidden_in_etc(etc: str = ETC) -> tuple[list[str], list[str]]:
    """(files, folders) under ``etc`` that not every user may read: masked inside the sandbox.

    A folder every user may not list and enter is masked whole and not looked into. The walk is
    made once per process; what has gone since is left out (a mount needs its target).
    """
    files, folders = _hidden(etc)
    return [p for p in files if os.path.lexists(p)], [p for p in folders if os.path.lexists(p)]


@functools.cache
def _hidden(etc: str) -> tuple[list[str], list[str]]:
    # /etc holds a thousand entries or so (about 20 ms to walk); it does not change between runs
    files: list[str] = []
    folders: list[str] = []
    if os.path.islink(etc) or not os.path.isdir(etc):
        return files, folders
    stack = [etc]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if mode & (stat.S_IROTH | stat.S_IXOTH) != stat.S_IROTH | stat.S_IXOTH:
                    folders.append(entry.path)
                else:
                    stack.append(entry.path)
            elif stat.S_ISREG(mode) and not mode & stat.S_IROTH:
                files.append(entry.path)
    return sorted(files), sorted(folders)


@contextlib.contextmanager
def lent(paths: Iterable[Path], confined: bool = True) -> Iterator[None]:
    """Own ``paths`` (whole trees, links not followed) as ``SANDBOX_UID`` for the block, then take them back.

    Does nothing unless ``confined`` and this process is root. Raises InfrastructureError when
    the owner cannot be changed (the tests could not write, or our git could not read, the tree).
    """
    folders = [str(p) for p in paths]
    if not (confined and from_root() and folders):
        yield
        return
    _chown(folders, SANDBOX_UID, SANDBOX_UID)
    try:
        yield
    finally:
        _chown(folders, os.geteuid(), os.getegid())


def _chown(folders: list[str], uid: int, gid: int) -> None:
    # chown(1) walks any depth; -h -P: a link is changed itself, its target (/etc/passwd) never
    try:
        done = subprocess.run(["chown", "-R", "-h", "-P", f"{uid}:{gid}", "--", *folders],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InfrastructureError(f"cannot hand the run's folders to uid {uid}: {exc}",
                                  cause=InfraCause.SANDBOX) from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InfrastructureError(f"cannot hand the run's folders to uid {uid}: {why[-1] if why else done.returncode}",
                                  cause=InfraCause.SANDBOX)
