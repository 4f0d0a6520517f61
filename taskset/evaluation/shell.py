"""One shell command in a task's workspace, confined exactly like the task's tests.

An agent's commands (reading files, editing them, running the tests) go through here: the same
sandbox as a test run (``taskset.evaluation.sandbox``: no network, own PID space, only the
workspace and the caller's private HOME and TMPDIR writable, ``.git`` read-only so nothing
written there runs in our own later git commands), the same scrubbed environment with the task's
environment first on PATH (``python`` and ``pytest`` are the task's), its source roots on
PYTHONPATH, a deadline that kills the whole process group, and the output capped (head and tail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taskset.env import probe as envprobe
from taskset.errors import InfraCause, InfrastructureError
from taskset.evaluation import sandbox
from taskset.evaluation.identity import lent
from taskset.evaluation.junit import trim
from taskset.evaluation.process import run_with_channel
from taskset.evaluation.runner import environment_paths, scrubbed_env
from taskset.files import tempdirs

SHELL_ENV = {"PAGER": "cat", "MANPAGER": "cat", "GIT_PAGER": "cat", "PIP_PROGRESS_BAR": "off", "TQDM_DISABLE": "1"}
"""No pagers or progress bars: nobody is at a terminal to page or watch."""


@dataclass(frozen=True)
class ShellResult:
    """How one command ended and what it printed (stdout and stderr interleaved)."""

    output: str
    """Decoded with ``errors="replace"``, head and tail kept under the cap."""
    exit_code: int | None
    """None when the command was killed at its deadline."""
    timed_out: bool
    duration: float
    truncated: bool
    """True when output was cut to the cap."""
    sandbox: str
    """How the command was confined: ``bwrap``, ``unshare`` or ``none``."""


def run_shell(env, root: Path, command: str, *, home: Path, tmp: Path, pythonpath: Sequence[str] = (".",),
              timeout: float = 60.0, output_cap: int = 10_000) -> ShellResult:
    """Run ``command`` with bash in ``root`` (the workspace), confined; ``home``/``tmp`` are private folders.

    Raises InfrastructureError when the machine fails us (no sandbox where one is required, no
    room for the log), TestRunError when bash itself cannot start.
    """
    root = Path(root).resolve()
    kind = sandbox.selected()
    facts = envprobe.probe(env.python)
    roots = [str(root / p) if p not in ("", ".") else str(root) for p in pythonpath]
    environ = scrubbed_env(env, root, pythonpath, home, tmp) | SHELL_ENV | {"PYTHONPATH": ":".join(roots)}
    git = root / ".git"
    mounts = sandbox.Mounts(read_only=environment_paths(env, facts), writable=(root, home, tmp),
                            protected=(git,) if git.is_dir() else (), cwd=root)
    try:
        scratch = tempdirs.make("shell")
    except OSError as exc:
        raise InfrastructureError(f"cannot create a scratch folder: {exc}", cause=InfraCause.DISK) from None
    try:
        # the channel and secret descriptors run_with_channel passes are unused here: a shell
        # command has no report to forge, so nothing reads them
        # started by root, the command runs as the sandbox's uid: the folders it writes are lent to it
        with lent((root, home, tmp), kind is not sandbox.SandboxKind.NONE):
            finished = run_with_channel(
                lambda _c, _s: sandbox.wrap(kind, mounts, ["/bin/bash", "-c", command], scratch),
                root, environ, timeout, scratch / "output.log")
    finally:
        tempdirs.remove(scratch)
    text = finished.output.decode("utf-8", errors="replace")
    return ShellResult(trim(text, output_cap), finished.exit_code, finished.timed_out, finished.duration,
                       len(text) > output_cap, kind.value)
