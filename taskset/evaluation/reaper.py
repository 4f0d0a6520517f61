"""Without a sandbox, make sure nothing a test run started outlives it.

    python -I reaper.py COMMAND...

Runs COMMAND as a child after making this process a child subreaper (Linux's
``PR_SET_CHILD_SUBREAPER``): every process COMMAND starts that loses its parent -- a double
fork, a ``setsid`` daemon -- is re-parented here instead of to init, where a process-group kill
would miss it. When COMMAND ends, or on SIGTERM (the runner's timeout), every remaining
descendant is killed and reaped before this process exits with COMMAND's status. Inside a
sandbox the PID namespace does this; the runner uses the reaper only for ``sandbox: none``.

Standard library only; started with the host interpreter.
"""

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children(pid):
    """Direct children of ``pid`` (from /proc: every thread's children list, else a scan)."""
    found = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.update(int(p) for p in handle.read().split())
        return found
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _kill_all_descendants():
    """SIGKILL every descendant (re-parented ones included) and reap them, until none is left."""
    me = os.getpid()
    for _ in range(1000):
        todo, seen = list(_children(me)), set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            todo.extend(_children(pid))
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            reaped = True
        if not seen and not reaped:
            return


def main(argv):
    _become_subreaper()
    child = subprocess.Popen(argv, close_fds=False)
    stop = []

    def on_term(signum, frame):
        stop.append(signum)
        _kill_all_descendants()
        os._exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    code = child.wait()
    _kill_all_descendants()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
