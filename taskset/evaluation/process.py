"""Run one test command: its own session, a live channel, a deadline, and nothing left behind.

The console goes to a file the parent opened (not a pipe: a grandchild holding a pipe open must
not make a finished run look hung) and is read back through the parent's own descriptor, so a
FIFO or a huge sparse file swapped in at its path changes nothing. The channel is a pipe whose
write end the child inherits; the parent drains it while waiting, so a chatty run never blocks,
and stops the run as soon as it says more than the caller's cap (a flood is not worth reading).
At the end the whole process group is killed (inside a sandbox the PID namespace goes with it).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from taskset.errors import InfraCause, InfrastructureError, TestRunError
from taskset.evaluation.limits import CHANNEL_CAP
from taskset.evaluation.safeio import read_fd_bounded

OUTPUT_CAP = 4 * 1024 * 1024
"""Bytes of console output read back (head and tail)."""
POLL_SECONDS = 0.2
TERM_GRACE = 5.0
"""Seconds a run past its deadline has between SIGTERM and SIGKILL (the reaper's cleanup)."""


@dataclass(frozen=True)
class Finished:
    """How a command ended and what it said."""

    exit_code: int | None
    """None when it was killed at the deadline."""
    timed_out: bool
    output: bytes
    channel: bytes
    channel_overflow: bool
    """The channel said more than its cap: the run was stopped there, the rest never read."""
    duration: float


def run_with_channel(
    command_for: Callable[[int, int], Sequence[str]], cwd: Path, environ: Mapping[str, str], timeout: float,
    log_path: Path, secret: bytes = b"", channel_cap: int = CHANNEL_CAP,
) -> Finished:
    """Run ``command_for(channel_fd, secret_fd)``: the channel's write end and a pipe holding ``secret``,
    as the child will see them (the child reads the secret once and closes it).

    Raises TestRunError when the command cannot start, InfrastructureError when the machine
    fails us (no descriptors, no room for the log).
    """
    try:
        read_end, write_end = os.pipe()
        secret_read, secret_write = os.pipe()
    except OSError as exc:
        raise InfrastructureError(f"cannot create the result channel: {exc}", cause=InfraCause.OTHER) from None
    try:
        os.write(secret_write, secret)  # far below a pipe's buffer: never blocks
    finally:
        os.close(secret_write)
    os.set_blocking(read_end, False)
    try:
        log_fd = os.open(log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        raise InfrastructureError(f"cannot create the run's log: {exc}", cause=InfraCause.DISK) from None
    started = time.monotonic()
    try:
        proc = _spawn(list(command_for(write_end, secret_read)), cwd, environ, log_fd, (write_end, secret_read))
        os.close(write_end)
        os.close(secret_read)
        write_end = secret_read = -1
        channel, overflow, timed_out = _wait(proc, read_end, started + timeout, channel_cap)
        exit_code = None if timed_out else proc.returncode
        duration = time.monotonic() - started
        output = read_fd_bounded(log_fd, cap=OUTPUT_CAP)
    finally:
        for fd in (read_end, write_end, secret_read, log_fd):
            if fd >= 0:
                os.close(fd)
    return Finished(exit_code, timed_out, output, bytes(channel), overflow, duration)


def _spawn(command: list[str], cwd: Path, environ: Mapping[str, str], log_fd: int,
           inherited: tuple[int, ...]) -> subprocess.Popen:
    # pass_fds keeps these open at their own numbers in the child, and nothing else beyond
    # stdin/stdout/stderr: no other descriptor of the caller's reaches the tests.
    try:
        return subprocess.Popen(
            command, cwd=cwd, env=dict(environ), stdin=subprocess.DEVNULL, stdout=log_fd,
            stderr=subprocess.STDOUT, start_new_session=True, pass_fds=inherited,
        )
    except OSError as exc:
        raise TestRunError(f"cannot start {command[0]}: {exc.strerror or exc}") from None


def _wait(proc: subprocess.Popen, read_end: int, deadline: float, cap: int) -> tuple[bytearray, bool, bool]:
    """Drain the channel until the process exits, the deadline passes or the channel passes ``cap``;
    then kill its group."""
    channel = bytearray()
    overflow = False
    timed_out = False
    try:
        while proc.poll() is None and not overflow:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_end], [], [], min(POLL_SECONDS, remaining))
            if ready:
                overflow = _drain(read_end, channel, cap)
    finally:
        _kill_group(proc)
    if not overflow:
        overflow = _drain(read_end, channel, cap)  # what was written before the end (never waits)
    return channel, overflow, timed_out


def _drain(fd: int, into: bytearray, cap: int) -> bool:
    """Read what is available now without blocking; True (and nothing more read) once past ``cap``."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # BlockingIOError included: nothing more for now
            return False
        if not chunk:
            return False
        if len(into) + len(chunk) > cap:
            return True
        into.extend(chunk)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill everything the run started (its session's process group), then reap the leader.

    A leader still running (the deadline passed) first gets SIGTERM and a moment to act on it:
    the reaper of an unconfined run then kills the processes that left the group.
    """
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=TERM_GRACE)
        except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
