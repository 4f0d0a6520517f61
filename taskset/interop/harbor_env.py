"""A Harbor environment backed by loopctl's sandbox: Harbor runs loopctl's task directories without Docker.

::

    harbor run -p EXPORT -a oracle --env taskset.interop.harbor_env:LoopctlEnvironment

Only Harbor imports this module (it imports ``harbor``, which needs Python 3.12): install
loopctl beside Harbor, or put its checkout on ``PYTHONPATH``. What stands in for the image the
task's Dockerfile describes:

- ``/testbed``: a loopctl workspace made from ``environment/repo.bundle`` (the tree at
  ``base_commit`` as one commit), writable;
- the interpreter and packages: the task's cached loopctl environment (``environment_for``,
  built from its frozen pins on first use), read-only at its own path, first on ``PATH``; the
  image's variables (``PYTHONPATH`` into ``/testbed``, the pinned ``TZ``, locale, hash seed);
- ``/tests``, ``/solution``, ``/tmp``, ``/root`` (``HOME``) and any other top-level folder Harbor
  uploads to: folders of this session on the host; ``/logs/*``: Harbor's trial folders, bound.

Every command runs under ``taskset.evaluation.sandbox`` (bubblewrap, else unshare): system
folders read-only, no network, its own PID namespace, no capabilities, no variable of the
caller's. What differs from Docker: the ``user`` Harbor asks for is not switched to (the
sandbox's uid runs everything, the packages are read-only instead), the network is always off,
and ``[environment]`` cpus and memory are not enforced.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path, PurePosixPath
from typing import Any

from harbor.environments.base import BaseEnvironment, ExecResult
from harbor.environments.capabilities import EnvironmentCapabilities

from taskset.env.environment import environment_for
from taskset.env.probe import probe
from taskset.evaluation import sandbox
from taskset.evaluation.identity import lent
from taskset.files import tempdirs
from taskset.interop import harbor_files as hf
from taskset.interop.swebench_repo import image_environment
from taskset.record import load_task
from taskset.workspace.mirrors import mirror
from taskset.workspace.workspace import Workspace

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SESSION_TOPS = ("tests", "solution", "tmp", "root")
"""Top-level folders every session has (Harbor uploads to the first two; ``HOME`` is ``/root``)."""
HOST_TOPS = frozenset(("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev", "sys"))


class LoopctlEnvironment(BaseEnvironment):
    """Harbor's ``BaseEnvironment`` over a loopctl workspace, environment and sandbox."""

    def __init__(self, *args: Any, keep: bool = False, **kwargs: Any) -> None:
        # Every path Harbor mounts is a host folder bound into the sandbox: Harbor may then read
        # /logs/* straight from the trial folders, which it does only with auto_mounting on.
        kwargs["auto_mounting"] = True
        self._keep = bool(keep)
        self._session: Path | None = None
        self._workspace: Workspace | None = None
        self._places: dict[PurePosixPath, Path] = {}
        self._read_only: tuple[Path, ...] = ()
        self._variables: dict[str, str] = {}
        self._runs = 0
        super().__init__(*args, **kwargs)

    @staticmethod
    def type() -> str:
        """The name Harbor reports for this environment."""
        return "loopctl"

    @property
    def capabilities(self) -> EnvironmentCapabilities:
        """Host folders bound in (mounted); no network whatever the phase asks (every exec is a new sandbox)."""
        return EnvironmentCapabilities(mounted=True, disable_internet=True, dynamic_network_policy=True)

    @property
    def _task_dir(self) -> Path:
        return Path(self.environment_dir).parent

    def _validate_definition(self) -> None:
        for rel in (f"tests/{hf.RECORD}", f"environment/{hf.BUNDLE}"):
            if not (self._task_dir / rel).is_file():
                raise FileNotFoundError(f"{self._task_dir / rel}: missing; LoopctlEnvironment runs task "
                                        "directories written by `loopctl export --format harbor`")

    async def _apply_network_policy(self, network_policy: Any) -> None:
        return None  # always offline: nothing to change

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, force_build: bool) -> None:
        """The workspace, the environment and the session's folders (built on first use, then cached)."""
        await asyncio.to_thread(self._prepare)

    def _prepare(self) -> None:
        kind = sandbox.selected()
        if kind is sandbox.SandboxKind.NONE:
            raise RuntimeError("LoopctlEnvironment needs a sandbox (install bubblewrap, or enable user namespaces)")
        task = load_task(self._task_dir / "tests" / hf.RECORD)
        self._session = tempdirs.make("harbor")
        # update: a re-export at the same path holds a new bundle
        git_dir = mirror(str((self.environment_dir / hf.BUNDLE).resolve()))
        self._workspace = Workspace.create(git_dir, "main", root=self._session)
        env = environment_for(task, self._workspace.path)
        facts = probe(env.python)
        venv = Path(env.python).parent.parent
        self._read_only = tuple(dict.fromkeys(p.resolve() for p in (venv, facts.base_prefix, facts.executable)))
        workdir = PurePosixPath(self.task_env_config.workdir or hf.WORKDIR)
        self._places = {workdir: self._workspace.path}
        for top in SESSION_TOPS:
            self._own(PurePosixPath("/", top))
        for mount in self._mounts:  # Harbor's trial folders at /logs/*
            Path(mount["source"]).mkdir(parents=True, exist_ok=True)
            self._places[PurePosixPath(mount["target"])] = Path(mount["source"])
        self._variables = {"PATH": f"{venv / 'bin'}:{SYSTEM_PATH}", "HOME": "/root", "VIRTUAL_ENV": str(venv),
                           **image_environment(task)}

    async def stop(self, delete: bool) -> None:
        """Remove the workspace and the session's folders (kept with ``--ek keep=true``)."""
        if self._workspace is not None and delete and not self._keep:
            self._workspace.close()
        if self._session is not None and delete and not self._keep:
            shutil.rmtree(self._session, ignore_errors=True)

    # --- commands ----------------------------------------------------------------------------

    async def exec(self, command: str, cwd: str | None = None, env: dict[str, str] | None = None,
                   timeout_sec: int | None = None, user: str | int | None = None) -> ExecResult:
        """``bash -c command`` in the sandbox; on timeout its whole process group is killed."""
        session = self._started()
        self._runs += 1
        scratch = session / f"run-{self._runs}"
        scratch.mkdir()
        inside = PurePosixPath(cwd or self.task_env_config.workdir or hf.WORKDIR)
        self._host(inside, create=True).mkdir(parents=True, exist_ok=True)
        places = tuple(sorted(((host, Path(str(at))) for at, host in self._places.items()),
                              key=lambda pair: len(pair[1].parts)))
        mounts = sandbox.Mounts(read_only=self._read_only, writable=(), placed=places, cwd=Path(str(inside)))
        argv = sandbox.wrap(sandbox.selected(), mounts, ["bash", "-c", command], scratch)
        variables = {**self._variables, **(self._merge_env(env) or {})}
        try:
            # started by root, commands run as the sandbox's uid: the placed folders are lent to it meanwhile
            with lent([host for host, _ in places]):
                out, err, code = await _run(argv, variables, timeout_sec)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return ExecResult(stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"), return_code=code)

    # --- files -------------------------------------------------------------------------------

    async def upload_file(self, source_path: Path | str, target_path: str) -> None:
        """Copy a host file to ``target_path`` inside."""
        target = self._host(PurePosixPath(target_path), create=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_path, target)

    async def upload_dir(self, source_dir: Path | str, target_dir: str) -> None:
        """Copy a host folder's contents into ``target_dir`` inside."""
        shutil.copytree(source_dir, self._host(PurePosixPath(target_dir), create=True), dirs_exist_ok=True,
                        symlinks=True)

    async def download_file(self, source_path: str, target_path: Path | str) -> None:
        """Copy ``source_path`` inside to a host file."""
        Path(target_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self._host(PurePosixPath(source_path)), target_path)

    async def download_dir(self, source_dir: str, target_dir: Path | str) -> None:
        """Copy ``source_dir``'s contents inside to a host folder."""
        source = self._host(PurePosixPath(source_dir))
        if source.resolve() != Path(target_dir).resolve():
            shutil.copytree(source, target_dir, dirs_exist_ok=True, symlinks=True)

    # --- the path map ------------------------------------------------------------------------

    def _started(self) -> Path:
        if self._session is None:
            raise RuntimeError("LoopctlEnvironment: start() has not run")
        return self._session

    def _own(self, inside: PurePosixPath) -> Path:
        """A session folder shown at the top-level path ``inside``."""
        if inside.parts[1] in HOST_TOPS:
            raise PermissionError(f"{inside}: a system folder, read-only in LoopctlEnvironment")
        host = self._started() / "fs" / inside.parts[1]
        host.mkdir(parents=True, exist_ok=True)
        self._places[PurePosixPath("/", inside.parts[1])] = host
        return host

    def _host(self, inside: PurePosixPath, create: bool = False) -> Path:
        """The host path behind ``inside`` (relative paths are under the working folder)."""
        if not inside.is_absolute():
            inside = PurePosixPath(self.task_env_config.workdir or hf.WORKDIR) / inside
        if len(inside.parts) < 2:
            raise PermissionError("LoopctlEnvironment cannot map /")
        matches = [at for at in self._places if inside == at or inside.is_relative_to(at)]
        if matches:
            at = max(matches, key=lambda p: len(p.parts))
            return self._places[at].joinpath(*inside.relative_to(at).parts)
        if create:
            return self._own(inside).joinpath(*inside.parts[2:])
        if inside.parts[1] in HOST_TOPS:
            return Path(str(inside))  # a system folder: the sandbox shows the host's, read-only
        raise FileNotFoundError(f"{inside}: not in this LoopctlEnvironment")


async def _run(argv: list[str], variables: dict[str, str], timeout_sec: int | None) -> tuple[bytes, bytes, int]:
    """Run ``argv`` in its own session; on timeout (or cancellation) its whole process group is killed."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=variables, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=timeout_sec)
    except (TimeoutError, asyncio.CancelledError) as exc:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await process.wait()
        if isinstance(exc, TimeoutError):
            raise RuntimeError(f"Command timed out after {timeout_sec} seconds") from None  # as Docker's
        raise
    return out, err, process.returncode if process.returncode is not None else -1
