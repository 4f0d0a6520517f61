"""Confinement for test processes: what the code under test can see, write and reach.

Inside the sandbox only the workspace, the run's private HOME and TMPDIR, and its report folder
are writable; the interpreter, the environment and our pytest plugin are read-only; the test
files and pytest configuration are read-only even though they sit in the writable workspace;
everything else (the caller's HOME, the repository mirrors, the task sets, other caches) is
absent. There is no network (an empty network namespace with its own loopback), the processes
have their own PID namespace (they cannot see the caller's ``/proc/<pid>/environ`` and all die
with the run), and no capabilities. They never run as root: their uid is ``identity.SANDBOX_UID``
(on the host too when root starts them, see ``taskset.evaluation.identity``), ``/proc/sys`` and
``/proc/sysrq-trigger`` are read-only, and the files under /etc that not every user may read
are masked.

Two ways to build it, the same picture either way:

- ``bwrap`` (bubblewrap), the default where it is installed;
- ``unshare``: util-linux's ``unshare`` (user, mount, PID, network, IPC, UTS namespaces), a
  tmpfs root assembled with ``mount --bind``, ``chroot``, and ``setpriv`` to drop every
  capability before the tests start.

Started by root, either runs inside a user namespace that maps the host's 0 and ``SANDBOX_UID``
(``taskset.evaluation.userns``, entered with ``nsenter``): the tool sets up as that namespace's
root, and ``setpriv`` switches to ``SANDBOX_UID`` last. Started by another user, the tool's own
user namespace maps that user to ``SANDBOX_UID`` (bwrap's ``--uid``; a second ``unshare --user``
in the fallback).

Where neither can start (macOS, user namespaces disabled) the run is unconfined: ``none``, with a
``SandboxWarning`` once per process, recorded in every verdict; ``LOOPCTL_REQUIRE_SANDBOX=1`` makes
that an ``InfrastructureError`` instead. ``LOOPCTL_SANDBOX=bwrap|unshare|none`` picks one.
"""

from __future__ import annotations

import enum
import functools
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taskset.errors import InfraCause, InfrastructureError
from taskset.evaluation import userns
from taskset.evaluation.identity import SANDBOX_UID, from_root, hidden_in_etc, lent

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
"""Host paths every sandbox shows read-only (a symlink stays a symlink, as on merged-/usr systems)."""

TMPFS_BYTES = 1024**3
"""Size of each of the sandbox's private temporary folders (memory-backed: unbounded, they could fill RAM)."""

PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
"""Empty, writable, the run's own: where every user may write on a machine (``tempfile`` falls back
to /var/tmp; suites name it). Nothing else of /var is shown."""

DROP_CAPS = ("setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--no-new-privs")
"""Empties every capability set; no later exec can gain privileges (set-uid files included)."""

KERNEL_KNOBS = ("/proc/sys", "/proc/sysrq-trigger")
"""Parts of the sandbox's /proc made read-only (the kernel's settings; a host-wide reboot switch)."""

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

REAPER = Path(__file__).resolve().parent / "reaper.py"

CHOICE_ENV = "LOOPCTL_SANDBOX"
REQUIRE_ENV = "LOOPCTL_REQUIRE_SANDBOX"


class SandboxKind(str, enum.Enum):
    """How a test run is confined (recorded as ``Verdict.sandbox``)."""

    BWRAP = "bwrap"
    UNSHARE = "unshare"
    NONE = "none"


class SandboxWarning(UserWarning):
    """Tests are running unconfined: no sandbox could start on this machine."""


@dataclass(frozen=True)
class Mounts:
    """What a sandboxed run sees; every path appears at the same place inside as outside."""

    read_only: tuple[Path, ...]
    """Folders or files shown read-only (the interpreter, the environment, our plugin)."""
    writable: tuple[Path, ...]
    """Folders shown read-write (the workspace, private HOME and TMPDIR, the report folder)."""
    protected: tuple[Path, ...] = ()
    """Files inside a writable folder made read-only for the run (test files, pytest config)."""
    cwd: Path = Path("/")
    placed: tuple[tuple[Path, Path], ...] = ()
    """``(host folder, path inside)`` pairs shown read-write at another place than outside (a foreign
    layout: Harbor's ``/testbed``, ``/tests``, ``/logs``). Bound before the folders above, so a
    placed ``/tmp`` or ``/root`` never hides the interpreter or the environment kept under it."""


def selected() -> SandboxKind:
    """The sandbox this process uses: ``LOOPCTL_SANDBOX`` if set, else the first that works here.

    Raises InfrastructureError when the choice is ``none`` (or nothing works) and
    ``LOOPCTL_REQUIRE_SANDBOX`` is set, or when a named sandbox cannot start.
    """
    wanted = os.environ.get(CHOICE_ENV, "").strip().lower()
    if wanted and wanted != "auto":
        try:
            kind = SandboxKind(wanted)
        except ValueError:
            raise InfrastructureError(f"{CHOICE_ENV}={wanted!r}: expected bwrap, unshare, none or auto",
                                      cause=InfraCause.SANDBOX) from None
        if kind is not SandboxKind.NONE and not _works(kind):
            raise InfrastructureError(f"{CHOICE_ENV}={kind.value}: that sandbox cannot start here ({_why(kind)})",
                                      cause=InfraCause.SANDBOX)
    else:
        kind = _first_working()
    if kind is SandboxKind.NONE:
        if required():
            why = f"{CHOICE_ENV}=none" if wanted == "none" else f"no sandbox can start here ({_why(SandboxKind.BWRAP)})"
            raise InfrastructureError(f"{why} and {REQUIRE_ENV} is set: refusing to run tests unconfined",
                                      cause=InfraCause.SANDBOX)
        _warn_once()
    return kind


def required() -> bool:
    """True when ``LOOPCTL_REQUIRE_SANDBOX`` asks to refuse unconfined runs."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def wrap(kind: SandboxKind, mounts: Mounts, command: Sequence[str], scratch: Path) -> list[str]:
    """``command`` confined by ``kind``; ``scratch`` is a private folder the wrapper may use.

    Unconfined, the command still runs under our reaper (where Linux has one), so no process it
    starts -- a daemon that left its process group -- outlives the run; ``mounts.placed`` cannot be
    honoured there (nothing moves a folder without a mount namespace), so it is refused. Confined,
    the folders in ``mounts.writable`` and ``mounts.placed`` must be ``identity.lent`` to the tests
    for the run.
    """
    if kind is not SandboxKind.NONE:
        empty = scratch / "empty"  # what a masked folder of /etc shows
        empty.mkdir(exist_ok=True)
        prefix = userns.enter() if from_root() else []
        if kind is SandboxKind.BWRAP:
            return prefix + _bwrap(mounts, command, empty)
        return prefix + _unshare(mounts, command, scratch, empty)
    if mounts.placed:
        raise InfrastructureError("folders placed elsewhere inside need a sandbox (bwrap or unshare); "
                                  "none can start here", cause=InfraCause.SANDBOX)
    if sys.platform.startswith("linux"):
        return [sys.executable, "-I", str(REAPER), *command]
    return list(command)


def system_paths() -> list[tuple[str, str | None]]:
    """(path, symlink target or None) for each system path present on this host."""
    found: list[tuple[str, str | None]] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            found.append((path, os.readlink(path)))
        elif os.path.isdir(path):
            found.append((path, None))
    return found


# --- bubblewrap ------------------------------------------------------------------------------


def _bwrap(mounts: Mounts, command: Sequence[str], empty: Path) -> list[str]:
    args = [_tool("bwrap"), "--die-with-parent", "--new-session"]
    if from_root():  # in userns's namespace: no second one (it could map only root), setpriv at the end
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                 "--cap-drop", "ALL"]
    for system_path, target in system_paths():
        if target is not None:
            args += ["--symlink", target, system_path]
        else:
            args += ["--ro-bind", system_path, system_path]
    size = str(TMPFS_BYTES)
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += [arg for knob in _kernel_knobs() for arg in ("--ro-bind", knob, knob)]
    for scratch_dir in PRIVATE_TMP:
        args += ["--perms", "1777", "--size", size, "--tmpfs", scratch_dir]
    files, folders = hidden_in_etc()
    args += [arg for secret in files for arg in ("--ro-bind", "/dev/null", secret)]
    args += [arg for folder in folders for arg in ("--ro-bind", str(empty), folder)]
    # bwrap would copy the host's modes onto the folders it creates (/root: 0700, locked to the tests)
    args += [arg for folder in _parents(mounts) for arg in ("--perms", "0755", "--dir", folder)]
    for host, inside in mounts.placed:
        args += ["--bind", str(host), str(inside)]
    for path in mounts.read_only:
        args += ["--ro-bind", str(path), str(path)]
    for path in mounts.writable:
        args += ["--bind", str(path), str(path)]
    for path in mounts.protected:
        args += ["--ro-bind", str(path), str(path)]
    if from_root():  # bwrap, capless root by then, may not enter a folder only the tests' uid owns
        command = ["/bin/sh", "-c", 'cd -- "$0" && exec "$@"', str(mounts.cwd), *command]
    args += ["--remount-ro", "/", "--chdir", "/" if from_root() else str(mounts.cwd), "--",
             *_as_sandbox_user(command)]
    return args


def _parents(mounts: Mounts) -> list[str]:
    """Folders above the mount points that the sandbox's root must create, outermost first."""
    system = [path for path, _ in system_paths()]
    found: dict[str, None] = {}
    for path in (*mounts.read_only, *mounts.writable, *(inside for _, inside in mounts.placed)):
        for parent in reversed(path.parents):
            name = str(parent)
            made = name in ("/", "/dev", *PRIVATE_TMP)
            if not made and not any(name == s or name.startswith(s + "/") for s in system):
                found.setdefault(name, None)
    return list(found)


def _as_sandbox_user(command: Sequence[str]) -> list[str]:
    """``command`` as ``SANDBOX_UID``, every capability dropped: where the sandbox is set up as the
    host's root, by setpriv; else (bwrap's own namespace already maps the caller there) as it is."""
    if from_root():
        uid = str(SANDBOX_UID)
        return [*DROP_CAPS, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *command]
    return list(command)


# --- unshare + chroot + setpriv ----------------------------------------------------------------


def _unshare(mounts: Mounts, command: Sequence[str], scratch: Path, empty: Path) -> list[str]:
    root = scratch / "root"
    root.mkdir(exist_ok=True)
    script = scratch / "sandbox.sh"
    script.write_text(_unshare_script(mounts, command, root, empty), encoding="utf-8")
    user = [] if from_root() else ["--user", "--map-root-user"]  # from root: userns's namespace
    return [_tool("unshare"), *user, "--mount", "--pid", "--net", "--ipc", "--uts",
            "--fork", "--kill-child", "/bin/sh", str(script)]


def _unshare_script(mounts: Mounts, command: Sequence[str], root: Path, empty: Path) -> str:
    q = shlex.quote
    r = q(str(root))
    lines = [
        "set -eu",
        f"R={r}",
        'mount -t tmpfs -o mode=0755 loopctl "$R"',
        # a mount point that already exists (a file inside a folder bound before) is used as it is
        'robind() { if [ ! -e "$R$1" ]; then if [ -d "$1" ]; then mkdir -p "$R$1"; else mkdir -p "$R$(dirname "$1")"; '
        ': > "$R$1"; fi; fi; mount --rbind "$1" "$R$1"; mount -o remount,bind,ro "$R$1"; }',
        'rwbind() { mkdir -p "$R$1"; mount --rbind "$1" "$R$1"; }',
        'rwplace() { mkdir -p "$R$2"; mount --rbind "$1" "$R$2"; }',
    ]
    for path, target in system_paths():
        lines.append(f'ln -s {q(target)} "$R"{q(path)}' if target is not None else f"robind {q(path)}")
    size = f"size={TMPFS_BYTES}"
    lines += ['mkdir -p "$R/proc"', 'mount -t proc proc "$R/proc"']
    lines += [f'mkdir -p "$R"{q(folder)}; mount -t tmpfs -o mode=1777,{size} loopctl-tmp "$R"{q(folder)}'
              for folder in PRIVATE_TMP]
    lines += [f'mount --bind "$R"{q(knob)} "$R"{q(knob)}; mount -o remount,bind,ro "$R"{q(knob)}'
              for knob in _kernel_knobs()]
    # Started by root, the tests are the host's nobody without groups: the kernel already refuses
    # them what not every user may read, and each mount here is a process (bwrap masks anyway).
    files, folders = hidden_in_etc() if not from_root() else ([], [])
    lines += [f'mount --bind /dev/null "$R"{q(secret)}' for secret in files]
    lines += [f'mount --bind {q(str(empty))} "$R"{q(folder)}; mount -o remount,bind,ro "$R"{q(folder)}'
              for folder in folders]
    for device in DEVICES:
        lines.append(f'if [ -e /dev/{device} ]; then : > "$R/dev/{device}"; '
                     f'mount --bind /dev/{device} "$R/dev/{device}"; fi')
    lines += ['ln -s /proc/self/fd "$R/dev/fd"', 'ln -s /proc/self/fd/0 "$R/dev/stdin"',
              'ln -s /proc/self/fd/1 "$R/dev/stdout"', 'ln -s /proc/self/fd/2 "$R/dev/stderr"']
    lines += [f"rwplace {q(str(host))} {q(str(inside))}" for host, inside in mounts.placed]
    lines += [f"robind {q(str(p))}" for p in mounts.read_only]
    lines += [f"rwbind {q(str(p))}" for p in mounts.writable]
    lines += [f"robind {q(str(p))}" for p in mounts.protected]
    lines.append('mount -o remount,bind,ro "$R"')
    # The shell stays PID 1 (it reaps orphans and keeps signal semantics ordinary for the tests);
    # setpriv empties every capability set (and, from root, leaves root) before the command runs.
    # Not started by root, the namespace maps one id only, its root: a nested one maps SANDBOX_UID,
    # made before chroot (the kernel refuses a user namespace to a chrooted process), its
    # capabilities kept just long enough for chroot.
    enter = ["chroot"]
    final = _as_sandbox_user(command)
    if not from_root():
        uid = str(SANDBOX_UID)
        enter = ["unshare", "--user", f"--map-user={uid}", f"--map-group={uid}", "--keep-caps", "--", "chroot"]
        final = [*DROP_CAPS, "--", *command]
    inner = f"cd {q(str(mounts.cwd))} && exec " + " ".join(q(c) for c in final)
    lines += ['unset R', " ".join(enter) + f" {r} /bin/sh -c {q(inner)}", "exit $?"]
    return "\n".join(lines) + "\n"


# --- detection --------------------------------------------------------------------------------


def _first_working() -> SandboxKind:
    for kind in (SandboxKind.BWRAP, SandboxKind.UNSHARE):
        if _works(kind):
            return kind
    return SandboxKind.NONE


@functools.cache
def _probe(kind: SandboxKind) -> str:
    """"" when ``kind`` can confine a trivial command here, else why not (asked once per process)."""
    needed: tuple[str, ...] = ("bwrap",) if kind is SandboxKind.BWRAP else ("unshare", "setpriv", "chroot", "mount")
    needed += ("setpriv", "chown", "nsenter") if from_root() else ()  # to leave root, lend the workspace
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found"
    with tempfile.TemporaryDirectory(prefix="loopctl-probe-") as tmp:
        scratch = Path(tmp)
        (scratch / "w").mkdir()
        mounts = Mounts(read_only=(), writable=(scratch / "w",), cwd=scratch / "w")
        try:
            command = wrap(kind, mounts, ["/bin/sh", "-c", "echo ok > ok"], scratch)
            with lent(mounts.writable):
                done = subprocess.run(command, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired, InfrastructureError) as exc:
            return str(exc)
        if done.returncode != 0 or not (scratch / "w" / "ok").is_file():
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return lines[-1] if lines else f"exit {done.returncode}"
    return ""


def _works(kind: SandboxKind) -> bool:
    return _probe(kind) == ""


def _why(kind: SandboxKind) -> str:
    return _probe(kind) or "it works"


@functools.cache
def _warn_once() -> None:
    warnings.warn(
        "no sandbox can start here (install bubblewrap, or enable user namespaces): tests run unconfined "
        f"and verdicts say sandbox: none; set {REQUIRE_ENV}=1 to refuse instead",
        SandboxWarning,
        stacklevel=3,
    )


def _kernel_knobs() -> list[str]:
    return [path for path in KERNEL_KNOBS if os.path.exists(path)]


def _tool(name: str) -> str:
    return shutil.which(name) or name
