"""Test environments: a cached virtualenv per dependency fingerprint, built with uv.

``cache_dir()/envs/<fingerprint>/`` is a ready venv when its marker ``loopctl-env.json`` exists.
The fingerprint is a sha256 of the interpreter's full version, the contents of the tree's
dependency files, the install steps, the resolution date and any frozen pins. A build happens
in a temp dir beside the final one, under a file lock, and is renamed into place with the marker
already written: a reader sees a complete environment or none. See docs/environments.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from taskset.env import check as envcheck
from taskset.env import deps, layout, pins, pythons, scmversion, treebuild
from taskset.env.check import BUILD_LOG, MARKER
from taskset.env.install import Installer, Plan
from taskset.errors import EnvironmentBuildError
from taskset.files.atomic import write_atomic
from taskset.files.cache import cache_dir
from taskset.record import EnvironmentSpec

_log = logging.getLogger(__name__)

RECIPE_VERSION = 4
"""Part of every fingerprint: bump it when the way environments are built changes (2: generated modules;
3: the project is taken out of every environment, its build products cached per tree; 4: its
metadata alone is put back, so a project reading its own version imports)."""


@dataclass(frozen=True)
class Environment:
    """A ready virtualenv: run tests with ``python``, never with the host interpreter."""

    path: Path
    """The venv directory (inside the cache)."""
    python: Path
    """The venv's interpreter."""
    spec: EnvironmentSpec
    """What was installed: python version, install steps, resolution date, frozen requirements."""
    fingerprint: str = ""
    """The cache key (the env dir's name)."""
    tree_build: dict = dataclasses.field(default_factory=dict)
    """How to build the project for one tree (``name``, ``rung``, ``exclude_newer``) when its build
    produces modules the tree lacks (a ``_version.py``, a C extension); empty when it produces none."""

    def prepare(self, tree: Path) -> list[str]:
        """Write what the project's build produces for ``tree`` (built for that tree, cached per
        tree: ``taskset.env.treebuild``) into it where absent or stale (an untracked build of another
        state of the tree); returns the paths written.

        Raises EnvironmentBuildError when this tree's build fails.
        """
        if not self.tree_build:
            return []
        return treebuild.place(treebuild.built_for(self, Path(tree)), Path(tree))

    def drop_stale(self, tree: Path, touched: list[str] | tuple[str, ...]) -> list[str]:
        """After a patch touching ``touched``: remove the extension modules ``prepare`` compiled from
        sources the patch changed (``taskset.env.treebuild.drop_stale``); returns the paths removed."""
        if not self.tree_build:
            return []
        return treebuild.drop_stale(Path(tree), touched)

    @property
    def build_log(self) -> Path:
        """The log of the uv commands that built this environment."""
        return self.path / BUILD_LOG


def ensure_environment(
    source: Path,
    *,
    python: str | Path | None = None,
    resolution_date: str | None = None,
    spec: EnvironmentSpec | None = None,
    timeout: float = 900,
    extra_requirements: tuple[str, ...] = (),
    version: str = "",
) -> Environment:
    """A ready environment for the project checked out at ``source``: reused from the cache, else built.

    ``python`` is an interpreter path or name (default: this one). Dependencies resolve as of
    the later of ``resolution_date`` and the interpreter's release date. A ``spec`` with
    ``requirements`` is reproduced pin for pin instead of resolved. ``extra_requirements`` are
    installed beside the test requirements the tree declares (a dependency the miner found
    missing). ``version`` is the project's version at the base commit (from its repository's tags):
    a tree versioned from git metadata is built with it (``taskset.env.scmversion``), not
    ``0.1.dev1``; a ``spec`` brings its own. Raises EnvironmentBuildError
    (with the installer's trimmed output and the failing step) when no rung of the ladder works.
    """
    source = Path(source).resolve()
    if not source.is_dir():
        raise EnvironmentBuildError(f"{source}: no such source tree", step="source")
    interp = pythons.interpreter(python)
    plan, first_rung = make_plan(source, interp, resolution_date, spec, extra_requirements, version)
    key = fingerprint(source, interp, plan, first_rung)
    final = cache_dir() / "envs" / key
    ready = _load(final, key, source)
    if ready:
        return ready
    _raise_remembered_failure(final.parent, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(final.parent / f"{key}.lock"), timeout=timeout):
            # another process may have finished (or failed) the same build while we waited
            ready = _load(final, key, source)
            if ready:
                return ready
            _raise_remembered_failure(final.parent, key)
            return _build(final, key, source, interp, plan, first_rung, timeout)
    except Timeout:
        raise EnvironmentBuildError(f"timed out waiting for another build of {final}", step="lock") from None


def environment_for(task, source: Path) -> Environment:
    """The environment ``task`` was validated with (its frozen pins), for the tree at ``source``.

    Uses an interpreter of the task's Python minor when one is found, else this one. A task
    without a recorded resolution date (built by hand, imported from SWE-bench) resolves as of
    its fix commit's date, as the miner would have.
    """
    spec: EnvironmentSpec = task.environment
    python = pythons.find_python(spec.python) if spec.python else None
    date = None if spec.exclude_newer else (task.created_at or None)
    env = ensure_environment(source, python=python, spec=spec, resolution_date=date)
    env.prepare(source)
    return env


def make_plan(
    source: Path,
    interp: pythons.Interpreter,
    resolution_date: str | None,
    spec: EnvironmentSpec | None,
    extra_requirements: tuple[str, ...] = (),
    version: str = "",
) -> tuple[Plan, str]:
    """What to install for ``source`` on ``interp``, and the ladder rung to start from."""
    found = deps.scan(source)
    version = version or (spec.version if spec else "")
    common: dict[str, Any] = dict(
        project=found.installable,
        project_name=found.name,
        extras=found.extras,
        build_backend=found.build_backend,
        build_requires=found.build_requires,
        flit_metadata=found.flit_metadata,
        runtime=found.runtime,
        version=version if version and scmversion.git_versioned(source) else "",
    )
    if spec is not None and spec.requirements:
        plan = Plan(**common, frozen=tuple(spec.requirements), pytest=spec.pytest or "pytest",
                    exclude_newer=spec.exclude_newer, relaxed=spec.relaxed)
        return plan, spec.remedy
    date = resolution_date or (spec.exclude_newer if spec else None) or None
    # what the repository pinned first: its lock file's versions, one coherent line per package
    _, locked = pins.lock_pins(source)
    wanted = deps.without_pytest(tuple(dict.fromkeys(found.requirements + tuple(extra_requirements))))
    requirements, reconciled = pins.reconcile(pins.pin_from_lock(wanted, locked))
    plan = Plan(
        **common,
        requirements=requirements,
        pytest=deps.choose_pytest(found, interp.version),
        exclude_newer=pythons.effective_date(date, interp.version),
        relaxed=reconciled,
    )
    return plan, "normal"


def fingerprint(source: Path, interp: pythons.Interpreter, plan: Plan, first_rung: str = "normal") -> str:
    """sha256 over what decides an environment's content (see the module docstring)."""
    files = {p.relative_to(source).as_posix(): _sha(p.read_bytes()) for p in deps.dependency_files(source)}
    payload = {
        "recipe": RECIPE_VERSION,
        "python": interp.version,
        "files": files,
        "plan": _plan_dict(plan),
        "first_rung": first_rung,
    }
    return _sha(json.dumps(payload, sort_keys=True).encode())[:32]


FAILED_SUFFIX = ".failed.json"
"""``envs/<fingerprint>.failed.json``: every rung of the ladder failed for this fingerprint."""


def _remember_failure(parent: Path, key: str, exc: EnvironmentBuildError) -> None:
    """Record a build that failed on its own merits, so the same fingerprint is not built again.

    The fingerprint fixes the interpreter, the dependency files, the pins and the recipe, so a
    compile error or an unsatisfiable pin fails the same way next time (an old commit's sdist
    with no wheel for this interpreter costs minutes per try). The machine's failures (an index
    out of reach, a full disk) are InfrastructureErrors and timeouts depend on the machine's
    speed: neither is remembered.
    """
    record = {"message": str(exc), "step": exc.step, "output": exc.output,
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        write_atomic(parent / f"{key}{FAILED_SUFFIX}", json.dumps(record, indent=2) + "\n")
    except OSError as err:  # a cache we cannot write to only costs the next run a rebuild
        _log.warning("cannot remember the failed build %s: %s", key, err)


def _raise_remembered_failure(parent: Path, key: str) -> None:
    """Raise the remembered EnvironmentBuildError of this fingerprint, if a build of it failed before."""
    path = parent / f"{key}{FAILED_SUFFIX}"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        message, step, output = str(record["message"]), str(record.get("step", "")), str(record.get("output", ""))
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):  # a torn or damaged record: build again
        path.unlink(missing_ok=True)
        return
    # the same message as the first time, so a rejection or verdict reads the same however often
    # it is met; where it came from is on the exception (and in docs/environments.md)
    error = EnvironmentBuildError(message, output=output, step=step)
    error.remembered = path
    _log.info("environment %s failed before (%s): not built again; delete %s to retry", key,
              record.get("when", "?"), path)
    raise error


def _build(
    final: Path, key: str, source: Path, interp: pythons.Interpreter, plan: Plan, first_rung: str, timeout: float
) -> Environment:
    tmp = final.parent / f".{key}.{os.getpid()}.tmp"
    log = final.parent / f".{key}.{os.getpid()}.log"
    # We hold this key's lock: any other build folder of it is a killed build's leftover.
    for stale in final.parent.glob(f".{key}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in final.parent.glob(f".{key}.*.log"):
        stale.unlink(missing_ok=True)
    keep = final.parent / f".{key}.{os.getpid()}.built"
    shutil.rmtree(keep, ignore_errors=True)
    installer = Installer(interp.path, tmp, log, time.monotonic() + timeout, interp.version, keep=keep)
    try:
        remedy, frozen = installer.build(plan, source, first_rung)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(keep, ignore_errors=True)
        if log.exists():
            os.replace(log, final.parent / f"{key}.failed.log")
        if isinstance(exc, EnvironmentBuildError) and not exc.timed_out:
            _remember_failure(final.parent, key, exc)
        raise
    plan = installer.plan or plan  # as relaxed to find a solution (taskset.env.relax)
    spec = EnvironmentSpec(
        python=interp.version,
        install=plan.install_lines(),
        exclude_newer=plan.exclude_newer,
        requirements=frozen,
        pythonpath=layout.pythonpath(source),
        remedy=remedy,
        pytest=plan.pytest,
        version=plan.version,
        relaxed=plan.relaxed,
    )
    # the building tree's products are its own build: keep them for that tree, outside the env
    recipe = ({"name": plan.project_name, "rung": remedy, "exclude_newer": plan.exclude_newer, "version": plan.version}
              if installer.built else {})
    if installer.built:
        treebuild.store(treebuild.key_for(key, treebuild.tree_identity(source)), installer.built)
    shutil.rmtree(keep, ignore_errors=True)
    os.replace(log, tmp / BUILD_LOG)
    record = {"fingerprint": key, "spec": _spec_dict(spec), "tree_build": recipe, "manifest": envcheck.manifest(tmp)}
    write_atomic(tmp / MARKER, json.dumps(record, indent=2) + "\n")
    if final.exists():  # a half-built or damaged env: replace it
        shutil.rmtree(final)
    os.rename(tmp, final)
    envcheck.forget(final)
    return Environment(path=final, python=final / "bin" / "python", spec=spec, fingerprint=key, tree_build=recipe)


def _load(final: Path, key: str, source: Path) -> Environment | None:
    """The environment in ``final`` if it is complete and undamaged (taskset.env.check), else None."""
    try:
        data = json.loads((final / MARKER).read_text(encoding="utf-8"))
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data["spec"].items()}
        spec = EnvironmentSpec(**fields)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    python = final / "bin" / "python"
    problem = envcheck.damage(final, data.get("manifest", ""), spec.requirements)
    if problem:
        _log.warning("loopctl: cached environment %s is damaged (%s); rebuilding it", final, problem)
        return None
    if not data.get("manifest"):  # built before manifests were recorded: record this (verified) state
        write_atomic(final / MARKER, json.dumps({**data, "manifest": envcheck.manifest(final)}, indent=2) + "\n")
    # the layout is a fact of this tree, not of the cached env (trees sharing deps may differ)
    spec = dataclasses.replace(spec, pythonpath=layout.pythonpath(source))
    recipe = data.get("tree_build") if isinstance(data.get("tree_build"), dict) else {}
    return Environment(path=final, python=python, spec=spec, fingerprint=key, tree_build=recipe)


def _plan_dict(plan: Plan) -> dict:
    """The plan as fingerprinted: without the fields added since (a version, relaxations) while they
    are empty, so environments built before them keep their keys."""
    data = dataclasses.asdict(plan)
    # fields empty unless a version or a relaxation filled them stay out: fingerprints made before them hold
    found = {k: v for k, v in data.items() if v or k not in ("version", "late", "overrides", "relaxed")}
    if plan.version:
        # a versioned project is built alone first (taskset.env.ownwheel): environments built before
        # that hold it as 0.1.dev1 and what the resolver backtracked for it
        found["own_wheel"] = 1
    return found


def _spec_dict(spec: EnvironmentSpec) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(spec).items()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
