"""When the caller is root, give a sandbox a user namespace where the tests can stop being root.

    python -I userns.py UID COMMAND...

Runs COMMAND (the sandbox tool: bwrap, or unshare with the fallback's script) in a new user
namespace whose ids 0 and UID are the host's 0 and UID. The tool sets the sandbox up as that
namespace's root (the host's files it binds are opened as root), then switches to UID with
``setpriv`` before the tests start: from then on the kernel sees the host's UID, so nothing of the
host's that root alone may write (``/proc/sys``, root-only files) is writable or readable.

A namespace created without privilege maps one id only (the caller's own), which would leave the
tests' uid the host's 0; mapping two needs the host's root to write the map from outside the
namespace. A helper forked before ``unshare`` does that, then this process execs COMMAND: it keeps
its pid, session and exit status, so the runner's timeout and process-group kill reach it as before.

Standard library only; started with the host interpreter.
"""

import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000


def _write_maps(pid, uid):
    mapping = f"0 0 1\n{uid} {uid} 1\n"
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as handle:
            handle.write(mapping)  # one write: a map is accepted once, whole


def main(argv):
    uid, command = int(argv[0]), argv[1:]
    ready_read, ready_write = os.pipe()
    me = os.getpid()
    helper = os.fork()
    if helper == 0:
        os.close(ready_write)
        code = 1
        if os.read(ready_read, 1) == b"1":
            try:
                _write_maps(me, uid)
                code = 0
            except OSError as exc:
                print(f"userns: cannot map uid {uid}: {exc}", file=sys.stderr)
        os._exit(code)
    os.close(ready_read)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        print(f"userns: unshare: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        os.write(ready_write, b"0")
        os.waitpid(helper, 0)
        return 125
    os.write(ready_write, b"1")
    os.close(ready_write)
    _, status = os.waitpid(helper, 0)
    if status != 0:
        return 125
    os.execvp(command[0], command)
    return 127  # not reached: execvp raises on failure


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
