"""When the caller is root, a user namespace where the tests can stop being root.

A namespace made by bwrap or unshare on their own maps one id only, root, so the tests' uid would
be the host's 0 whatever it is called inside. This one maps the host's 0 and ``SANDBOX_UID`` (only
the host's root, from outside the namespace, may write such a map). The sandbox tool enters it as
its root with ``nsenter``, sets the sandbox up (the host's files it binds are opened as root),
and switches to ``SANDBOX_UID`` with ``setpriv`` before the tests start: from then on the kernel
sees the host's ``nobody``.

One namespace serves every run of a process (entering costs an ``nsenter`` exec; making one, a
few milliseconds). It is held by a process that sleeps on a pipe only we hold the write end of:
when our process ends, however it ends, the pipe closes and the holder goes.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
import time

from taskset.errors import InfraCause, InfrastructureError
from taskset.evaluation.identity import SANDBOX_UID

READY_SECONDS = 10.0
"""How long the holder may take to make its namespace."""

_holders: dict[int, tuple[subprocess.Popen, int]] = {}
"""Per process id (a forked worker makes its own): the holder, and the write end of its pipe."""
_lock = threading.Lock()


def enter() -> list[str]:
    """The command prefix that runs what follows as root of this process's namespace.

    Raises InfrastructureError when the namespace cannot be made (user namespaces disabled).
    """
    with _lock:
        held = _holders.get(os.getpid())
        if held is None or held[0].poll() is not None:
            if held is not None:
                os.close(held[1])
            held = _holders[os.getpid()] = _start()
    return ["nsenter", f"--user=/proc/{held[0].pid}/ns/user", "--"]


def _start() -> tuple[subprocess.Popen, int]:
    read_end, write_end = os.pipe()  # not inheritable: no child of ours but the holder keeps it open
    try:
        holder = subprocess.Popen(["unshare", "--user", "--", "/bin/sh", "-c", "read _ || :"], stdin=read_end,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        os.close(write_end)
        raise InfrastructureError(f"cannot make a user namespace: {exc}", cause=InfraCause.SANDBOX) from None
    finally:
        os.close(read_end)
    try:
        _map(holder)
    except BaseException:
        os.close(write_end)
        holder.kill()
        holder.wait()
        raise
    finally:
        if holder.stderr is not None:
            holder.stderr.close()  # read only to say why it failed
    if not _holders:
        atexit.register(_release)
    return holder, write_end


def _release() -> None:
    """At exit: close the holders' pipes (they end on their own) and reap them."""
    for owner, (holder, write_end) in _holders.items():
        try:
            os.close(write_end)
            if owner == os.getpid():  # a forked worker's copy of its parent's holder is not its child
                holder.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            holder.kill()
    _holders.clear()


def _map(holder: subprocess.Popen) -> None:
    """Write the holder's maps once it is in its own namespace."""
    ours = os.readlink("/proc/self/ns/user")
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if holder.poll() is not None:
            why = holder.stderr.read().decode("utf-8", "replace").strip() if holder.stderr else ""
            raise InfrastructureError(f"cannot make a user namespace: {why or holder.returncode}",
                                      cause=InfraCause.SANDBOX)
        try:
            if os.readlink(f"/proc/{holder.pid}/ns/user") != ours:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise InfrastructureError("a user namespace took too long to make", cause=InfraCause.SANDBOX)
        time.sleep(0.001)
    mapping = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n".encode()
    for name in ("uid_map", "gid_map"):
        try:
            fd = os.open(f"/proc/{holder.pid}/{name}", os.O_WRONLY)
            try:
                os.write(fd, mapping)  # one write: a map is accepted once, whole
            finally:
                os.close(fd)
        except OSError as exc:
            raise InfrastructureError(f"cannot map uid {SANDBOX_UID} in a user namespace: {exc}",
                                      cause=InfraCause.SANDBOX) from None
