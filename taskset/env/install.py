"""The install ladder: build a venv with uv, install the project and its test deps, freeze what resolved.

Rungs, tried in order; the next is tried only when the failure looks like a *build* failure of
the project. Within a rung, a resolution with no solution (or a dependency's own failed build)
relaxes only the requirement uv names, then falls back to pip's resolver (``taskset.env.relax``):

1. ``normal``              ``uv pip install`` with isolated builds.
2. ``no-build-isolation``  an era-appropriate setuptools and wheel first, then the project
                           built against them (newest setuptools lost pkg_resources-era behaviour).
3. ``capped-backend``      isolated builds with the build backend capped (``setuptools<60``,
                           ``flit_core<4``, ``poetry-core<1.1``) through a build-constraint file.
4. ``pip``                 uv resolves (same date, same pins), pip installs: pip accepts old sdists
                           whose built wheel uv refuses (an invalid wheel file name).
5. ``source-tree``         only the dependencies (the project's own, read statically, and the
                           test requirements); the tests import the project from the source tree.

Whatever the rung, the environment ends without the project: once installed (its build ran, its
dependencies resolved), what the build produced that the tree lacks is copied out (cached per
tree, ``taskset.env.treebuild``) and the project is uninstalled and checked gone
(``taskset.env.project``). Tests import the project from their workspace only.

A failure of the machine rather than of the project -- the index unreachable, the disk full, the
interpreter missing -- is an ``InfrastructureError``, never an install failure: see ``buildfailure.INFRA``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import uv

from taskset.env import deps, ownwheel, relax, scmversion
from taskset.env import project as ownfiles
from taskset.env.buildfailure import classify, headline, infrastructure, trim
from taskset.env.requirements import normalize, requirement_name
from taskset.env.specs import parse_version
from taskset.errors import EnvironmentBuildError, InfrastructureError

RUNGS = ("normal", "no-build-isolation", "capped-backend", "pip", "source-tree")
"""The install ladder, in order; a spec's ``remedy`` is one of these."""

ERA_BUILD_TOOLS = ("setuptools<58", "wheel")
"""Installed before a no-build-isolation build: setuptools 58 dropped ``use_2to3``."""
ERA_BUILD_TOOLS_312 = ("setuptools", "wheel")
"""From Python 3.12 on, setuptools before 66 cannot even import (no distutils, no
``pkgutil.ImpImporter``): the era's setuptools is whatever resolves at the date."""

_PLUGIN_PROBE = """
def entry_points():
    try:
        from importlib.metadata import distributions
    except ImportError:
        try:
            from importlib_metadata import distributions
        except ImportError:
            import pkg_resources
            return [(ep.dist.project_name, ep) for ep in pkg_resources.iter_entry_points("pytest11")]
    return [(d.metadata["Name"], ep) for d in distributions() for ep in getattr(d, "entry_points", ())
            if ep.group == "pytest11"]
try:
    found = entry_points()
except Exception:
    found = []
for name, ep in found:
    try:
        ep.load()
    except Exception as exc:
        print("%s\\t%s: %s" % (name, type(exc).__name__, str(exc)[:200]))
"""
"""Prints ``name<TAB>error`` for each installed pytest plugin whose entry point fails to import."""

CUTOFF_FLOORS = {"atomicwrites": "2022-07-09", "setuptools": "2019-02-06", "wheel": "2019-02-06"}
"""Packages resolved as of at least this day, whatever the resolution date (``--exclude-newer-package``):
atomicwrites' old releases vanished from the index and came back under a 2022 upload date (pytest 4
needs it); uv builds a legacy sdist with ``setuptools>=40.8.0`` (2019-02-05) and a wheel of that
time (wheel 0.30 fails beside it on pluggy 0.6's license file)."""


@dataclass(frozen=True)
class Plan:
    """What goes into a fresh venv (install steps; decides, with the interpreter, the fingerprint)."""

    project: bool
    """Whether to install the source tree itself."""
    project_name: str = ""
    extras: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    """Test requirements other than pytest and the project's extras."""
    pytest: str = "pytest"
    """The chosen pytest requirement; also written as an override so no pin can contradict it."""
    exclude_newer: str = ""
    frozen: tuple[str, ...] = ()
    """Exact pins to reproduce (then nothing is resolved)."""
    build_backend: str = ""
    build_requires: tuple[str, ...] = ()
    flit_metadata: bool = False
    runtime: tuple[str, ...] = ()
    """The project's own dependencies, for the ``source-tree`` rung (the project is not installed)."""
    version: str = ""
    """The version its builds get instead of asking git (``taskset.env.scmversion``); "" for none."""
    late: tuple[str, ...] = ()
    """``name=YYYY-MM-DD``: packages resolved as of their own later date (``taskset.env.relax``)."""
    overrides: tuple[str, ...] = ()
    """Override lines beside pytest's: a dependency's bound relaxed (``taskset.env.relax``)."""
    relaxed: tuple[str, ...] = ()
    """What was reconciled or relaxed to make the resolution solvable, one note each (recorded on the task)."""

    def install_lines(self) -> tuple[str, ...]:
        """The steps as recorded in ``EnvironmentSpec.install`` (the project as ``.[extras]``)."""
        project = ("." + (f"[{','.join(self.extras)}]" if self.extras else ""),) if self.project else ()
        if self.frozen:
            return project + self.frozen
        return project + self.requirements + (self.pytest,)

    def backend_cap(self) -> str:
        """The build-constraint line for the capped-backend rung."""
        if self.flit_metadata or "flit" in self.build_backend:
            return "flit_core<4"
        if "poetry" in self.build_backend:
            return "poetry-core<1.1"
        return "setuptools<60"


class Installer:
    """Runs uv for one build, appending every command and its output to the build log."""

    def __init__(self, base_python: Path, venv: Path, log: Path, deadline: float, version: str = "",
                 keep: Path | None = None):
        self.uv = uv.find_uv_bin()
        self.keep = keep
        """Where ``take_out_project`` copies what the project's build produced (None: nowhere)."""
        self.built: dict[str, Path] = {}
        """Repository-relative path -> its copy under ``keep``: what the build produced that the tree lacks."""
        self.version = version
        self.base_python = base_python
        self.venv = venv
        self.python = venv / "bin" / "python"
        self.log = log
        self.deadline = deadline
        self.build_env: dict[str, str] = {}
        """Variables every command gets besides the caller's (``scmversion.pretend_variables``)."""
        self.plan: Plan | None = None
        """The plan that installed (``build`` may relax what it was given)."""

    def build(self, plan: Plan, source: Path, first_rung: str = "normal") -> tuple[str, tuple[str, ...]]:
        """Climb the ladder from ``first_rung``; return (the rung that worked, frozen requirements)."""
        rungs = RUNGS[RUNGS.index(first_rung):] if first_rung in RUNGS else RUNGS
        self.build_env = scmversion.pretend_variables(plan.project_name, plan.version)
        self.plan = plan
        for rung in rungs:
            self.fresh_venv(rung, seed=rung == "pip")
            try:
                self.plan = relax.install(self, plan, source, rung)
            except EnvironmentBuildError as exc:
                climbable = classify(exc.output) == "build" or exc.step.endswith(":tools")
                if not climbable or not plan.project or rung == rungs[-1]:
                    raise
                continue
            # before anything imports or compiles in the env: no bytecode of the project either
            self.take_out_project(plan, source)
            ownwheel.discard(self.venv)
            self.check(plan)
            self.drop_broken_plugins()
            self.compile_bytecode()
            return rung, self.freeze(plan.project_name)
        raise AssertionError("unreachable: the last rung raises")

    def fresh_venv(self, step: str, seed: bool = False) -> None:
        """An empty venv of the base interpreter in place of whatever ``self.venv`` holds (pip in it with ``seed``)."""
        self.run(["venv", "--clear", "--no-project", "--relocatable", *(["--seed"] if seed else []), "--python",
                  str(self.base_python), str(self.venv)], step)

    def install(self, plan: Plan, source: Path, rung: str) -> None:
        """One rung: ``uv pip install`` of the plan, with the rung's build settings."""
        if rung == "pip":
            return self._install_with_pip(plan, source)
        if rung == "source-tree":
            # the project's extras cannot be installed without the project: their requirements can
            found = deps.scan(source)
            own = plan.runtime + tuple(r for r in found.extra_requirements if _name(r) != "pytest")
            plan = dataclasses.replace(plan, project=False, requirements=tuple(dict.fromkeys(own + plan.requirements)))
        args = ["pip", "install", "--python", str(self.python)]
        dated = _dated(plan.exclude_newer, plan.late)
        files = self.venv / ".loopctl"
        files.mkdir(exist_ok=True)
        build: list[str] = []  # how this rung builds the project, which ``uv build`` takes too (ownwheel)
        if rung == "no-build-isolation" and plan.project:
            era = ERA_BUILD_TOOLS_312 if _at_least(self.version, "3.12") else ERA_BUILD_TOOLS
            backend = [r for r in plan.build_requires if _name(r) not in ("setuptools", "wheel")]
            tools = list(era) + backend
            self.run(args + dated + tools, rung + ":tools")
            if plan.project_name:
                args += ["--no-build-isolation-package", plan.project_name]
            else:
                args += ["--no-build-isolation"]
            build = ["--no-build-isolation"]  # in ``uv build`` it concerns the project alone
        if rung == "capped-backend":
            build = ["--build-constraints", _write(files / "build-constraints.txt", [plan.backend_cap()])]
            args += build
        # the project built alone, so the version its tag gives reaches every versioning tool
        source = ownwheel.prebuilt(self, plan, source, rung, dated + build) or source
        if plan.frozen:
            pins = _write(files / "frozen.txt", plan.frozen)
            self.run(args + ["--no-deps", "-r", pins] + _project_ref(plan, source, ()), rung)
            return
        project = _project_ref(plan, source, plan.extras)
        overrides = _write(files / "overrides.txt", [plan.pytest, *plan.overrides])
        self.run(args + dated + ["--overrides", overrides] + project + list(plan.requirements) + [plan.pytest], rung)

    def _install_with_pip(self, plan: Plan, source: Path) -> None:
        """uv resolves the plan as the normal rung would (or takes the frozen pins); pip installs them."""
        files = self.venv / ".loopctl"
        files.mkdir(exist_ok=True)
        pip = [str(self.python), "-m", "pip", "install", "--no-deps", "--no-input", "--disable-pip-version-check"]
        pins = plan.frozen
        if not pins:
            wanted = _write(files / "requirements.in", _project_ref(plan, source, plan.extras) + list(plan.requirements)
                            + [plan.pytest])
            overrides = _write(files / "overrides.txt", [plan.pytest, *plan.overrides])
            dated = _dated(plan.exclude_newer, plan.late)
            out = self.run(["pip", "compile", "--python", str(self.python), "--no-header", "--no-annotate", *dated,
                            "--overrides", overrides, wanted], "pip:resolve")
            own = normalize(plan.project_name) if plan.project_name else ""
            pins = tuple(line.strip() for line in out.splitlines()
                         if line.strip() and not line.startswith(("#", "-")) and " @ " not in line
                         and (not own or _name(line) != own))
        self.run(pip + ["-r", _write(files / "pins.txt", pins)], "pip", tool=False)
        if plan.project:
            self.run(pip + [str(source)], "pip:project", tool=False)

    def take_out_project(self, plan: Plan, source: Path) -> None:
        """Copy out what the project's build produced that the tree lacks, then uninstall the project
        and check that no file of it is left (an env is shared by trees: it may hold none of them);
        its metadata alone goes back (a project reading its own version still finds it)."""
        for site in ownfiles.site_packages(self.venv):
            info = ownfiles.find_dist(site, source, plan.project_name)
            if info is None:
                continue
            if self.keep is not None:
                for rel, path in ownfiles.built_files(site, info, source).items():
                    copy = self.keep / rel
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, copy)
                    self.built[rel] = copy
            files = ownfiles.recorded(info)
            metadata = ownfiles.keep_metadata(info)
            self.run(["pip", "uninstall", "--python", str(self.python), ownfiles.dist_name(info)], "remove-project")
            left = ownfiles.leftovers(site, source, info.name, files)
            if left:
                raise EnvironmentBuildError(
                    f"the project could not be taken out of its environment: {', '.join(left[:5])} left",
                    output="\n".join(left[:60]), step="remove-project")
            if ownfiles.required_by(site, ownfiles.dist_name(info)):
                # pytest (or a tool beside it) needs the project to start: an index copy of the day,
                # never the tree's; the boot script lets the workspace's shadow it (loopctl_boot)
                self.run(["pip", "install", "--python", str(self.python), *_dated(plan.exclude_newer),
                          ownfiles.dist_name(info)], "runner-copy")
            else:
                ownfiles.restore_metadata(site, info.name, metadata)

    def build_tree(self, plan: Plan, source: Path, rung: str, target: Path) -> None:
        """The project alone, built from ``source`` into the folder ``target`` (never into the
        environment), with the build settings of ``rung`` and this environment's build tools."""
        self.build_env = scmversion.pretend_variables(plan.project_name, plan.version, alone=True)
        if rung == "pip":
            self.run([str(self.python), "-m", "pip", "install", "--no-deps", "--no-input",
                      "--disable-pip-version-check", "--target", str(target), str(source)], "tree-build", tool=False)
            return
        args = ["pip", "install", "--python", str(self.python), "--target", str(target), "--no-deps",
                *_dated(plan.exclude_newer, plan.late)]
        if rung == "no-build-isolation":
            named = ["--no-build-isolation-package", plan.project_name]
            args += named if plan.project_name else ["--no-build-isolation"]
        constraints = self.venv / ".loopctl" / "build-constraints.txt"
        if rung == "capped-backend" and constraints.is_file():
            args += ["--build-constraints", str(constraints)]
        self.run(args + _project_ref(plan, source, ()), "tree-build")

    def check(self, plan: Plan | None = None) -> None:
        """The env must be able to import pytest: an install that resolved but cannot run is a failure.

        Old pytest (3.x) and its plugins import ``pkg_resources`` without declaring setuptools, which
        a uv venv does not hold: then setuptools of the date is installed and the check repeated.
        """
        try:
            self.run([str(self.python), "-c", "import pytest"], "check", tool=False)
        except EnvironmentBuildError as exc:
            if "No module named 'pkg_resources'" not in exc.output or plan is None:
                raise
            dated = _dated(plan.exclude_newer, plan.late)
            self.run(["pip", "install", "--python", str(self.python), *dated, "setuptools<70"], "check:setuptools")
            self.run([str(self.python), "-c", "import pytest"], "check", tool=False)

    def drop_broken_plugins(self) -> tuple[str, ...]:
        """Uninstall pytest plugins that cannot even be imported here (``pytest-travis-fold`` needs
        ``py.builtin``, gone from modern pytest): pytest would fail to start for every test."""
        out = self.run([str(self.python), "-c", _PLUGIN_PROBE], "check:plugins", tool=False)
        broken = tuple(dict.fromkeys(line.split("\t", 1)[0] for line in out.splitlines() if "\t" in line))
        if broken:
            self.run(["pip", "uninstall", "--python", str(self.python), *broken], "drop-broken-plugins")
        return broken

    def compile_bytecode(self) -> None:
        """Compile the environment's modules once, at build time.

        Test runs are read-only on the environment (and ``-B``), so without bytecode every run
        compiles pytest and every dependency it imports again: ~0.5 s of each httpx run's start.
        Bytecode is derived data (the manifest skips ``__pycache__``): a file that does not
        compile (Python 2 syntax in an old package) just stays source, as does a Python whose
        compileall lacks ``-j``.
        """
        with contextlib.suppress(EnvironmentBuildError):
            self.run([str(self.python), "-m", "compileall", "-q", "-j", "0", str(self.venv / "lib")], "bytecode",
                     tool=False)

    def freeze(self, project_name: str) -> tuple[str, ...]:
        """``uv pip freeze`` less the project itself (a local path no rebuild would find)."""
        out = self.run(["pip", "freeze", "--python", str(self.python)], "freeze")
        lines = []
        for line in out.splitlines():
            line = line.strip()
            if not line or line.startswith("-e") or " @ " in line:
                continue
            if project_name and _name(line) == normalize(project_name):
                continue
            lines.append(line)
        return tuple(sorted(lines, key=str.lower))

    def run(self, args: list[str], step: str, tool: bool = True, build_env: dict[str, str] | None = None) -> str:
        """Run uv (or, with ``tool=False``, ``args`` as is); on failure raise EnvironmentBuildError.

        ``build_env``: this command's variables instead of the environment's ``self.build_env``."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise EnvironmentBuildError("environment build timed out", output="", step=step, timed_out=True)
        command = [self.uv, *args] if tool else list(args)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")}
        # setuptools < 60 defaults to the stdlib distutils, which Python 3.12 removed; its own copy works
        env.setdefault("SETUPTOOLS_USE_DISTUTILS", "local")
        env.update(self.build_env if build_env is None else build_env)
        # uv reports on stderr and answers (freeze) on stdout: keep them apart, log both
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                cwd=self.venv.parent, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            self._log(command, err + out, "timed out")
            raise EnvironmentBuildError(f"environment build timed out ({step})", output=trim(err + out),
                                        step=step, timed_out=True) from None
        except BaseException:
            # Ctrl-C or SIGTERM reaches only our process group (uv has its own session): stop uv
            # with us, or it keeps building into the cache after we are gone
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        self._log(command, err + out, f"exit {proc.returncode}")
        if proc.returncode != 0:
            text = trim(err + out)
            cause = infrastructure(text)
            if cause is not None:
                raise InfrastructureError(f"environment build could not run ({cause.value}): {headline(text)}",
                                          cause=cause, output=text)
            raise EnvironmentBuildError(f"environment build failed at step {step!r}: {headline(text)}",
                                        output=text, step=step)
        return out.decode("utf-8", errors="replace")

    def _log(self, command: list[str], raw: bytes, status: str) -> None:
        with open(self.log, "ab") as handle:
            handle.write(("$ " + " ".join(command) + "\n").encode())
            handle.write(raw)
            handle.write(f"[{status}]\n\n".encode())


def _project_ref(plan: Plan, source: Path, extras: tuple[str, ...]) -> list[str]:
    """The project as a requirement; named (``name[x] @ file://...``) so per-package build flags apply to it."""
    if not plan.project:
        return []
    suffix = f"[{','.join(extras)}]" if extras else ""
    if plan.project_name:
        return [f"{plan.project_name}{suffix} @ {source.as_uri()}"]
    return [f"{source}{suffix}"]


def _dated(day: str, relaxed: tuple[str, ...] = ()) -> list[str]:
    """The resolution-date options: ``--exclude-newer`` plus the late uploads' own later cutoffs
    and those of the packages a relaxation gave one (``name=date``, winning over a floor)."""
    if not day:
        return []
    own = {entry.split("=", 1)[0] for entry in relaxed}
    late = [arg for name, cutoff in CUTOFF_FLOORS.items() if cutoff > day and name not in own
            for arg in ("--exclude-newer-package", f"{name}={cutoff}")]
    late += [arg for entry in relaxed for arg in ("--exclude-newer-package", entry)]
    return ["--exclude-newer", day, *late]


def _write(path: Path, lines: tuple[str, ...] | list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _name(req: str) -> str:
    return normalize(requirement_name(req))


def _at_least(version: str, floor: str) -> bool:
    parsed, least = parse_version(version), parse_version(floor)
    return parsed is not None and least is not None and parsed >= least
