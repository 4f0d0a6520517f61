"""Resolution that degrades instead of failing: relax only the requirement the resolver names.

When the date-pinned resolution has no solution (or a dependency's own build fails on this
interpreter: a dated dev-tool pin; or what installed breaks ``import pytest`` here), uv's
explanation (or the traceback) names the packages involved. Each is
relaxed one step at a time, the install retried after every step, at most ``MAX_RELAXATIONS``
steps in all:

1. ``cutoff``   its own later cutoff (``--exclude-newer-package NAME=<today>``): a release
                uploaded after the resolution date may be the only one that fits;
2. ``unbounded`` its upper bounds and pins dropped (``==1.2`` and ``~=1.2`` become ``>=1.2``;
                a package only a dependency requires is overridden to any version);
3. ``any``      no version constraint at all.

A test requirement whose own build still fails after those, or once the steps are spent (its
only release is C that this compiler rejects: a benchmark comparator in a dev requirements file;
a Python 2 backport pinned in a 2013 one), is left out of the environment, recorded like a
relaxation, without spending a step: retrying it would fail identically on every rung of the
ladder, which climbs for the project's build, not a dependency's. A test that imports it fails
on both sides and so proves nothing; the other tests still run.

Then, still unsolved, pip's own resolver installs the same requirements in a pip-seeded venv
(no date cutoff: pip has none). Every step is recorded in the plan's ``relaxed`` (and so on the
task, ``EnvironmentSpec.relaxed``); the frozen pins that resolved reproduce the environment.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from taskset.env import specs
from taskset.env.buildfailure import classify
from taskset.env.requirements import normalize, requirement_name
from taskset.errors import EnvironmentBuildError

if TYPE_CHECKING:
    from taskset.env.install import Installer, Plan

MAX_RELAXATIONS = 12
"""Relaxation steps tried before pip's resolver: each costs one resolution (seconds)."""

STEPS = ("cutoff", "unbounded", "any")
"""How one package is relaxed, in order."""

PIP_RESOLVER = "pip-resolver: pip's resolver installed the requirements (no date cutoff)"
"""The ``relaxed`` entry of the last fallback."""

_NAME = r"([A-Za-z0-9][A-Za-z0-9._-]*)(?![A-Za-z0-9._-]|\s*@)"
"""A package name, whole, that is not a path or URL requirement (``calc @ file://``: the project itself)."""

_NAMED = (
    # where uv's explanation names a package; the first group is the name
    re.compile(r"`" + _NAME + r"` was filtered by `exclude-newer`"),
    re.compile(r"you require " + _NAME),
    re.compile(r"there is no version of " + _NAME),
    re.compile(r"only " + _NAME + r"\s*[<>=!~]"),
    re.compile(r"(?:depends on|requires) " + _NAME + r"\s*[<>=!~]"),
)
_FAILED_BUILD = re.compile(r"Failed to (?:download and )?build `" + _NAME)


def culprits(output: str, keep: tuple[str, ...]) -> list[str]:
    """The packages uv's failure names, most specific first, less the ones in ``keep`` (normalised
    names we never relax: the project itself, pytest, whose requirement was chosen on purpose)."""
    kept = {normalize(name) for name in keep if name}
    found: list[str] = []
    for pattern in _NAMED:
        found += [normalize(m.group(1)) for m in pattern.finditer(output)]
    return [name for name in dict.fromkeys(found) if name not in kept]


def relax(plan: Plan, name: str, step: str, today: str) -> Plan | None:
    """``plan`` with ``name`` relaxed by ``step`` (see the module docstring); None when the step
    changes nothing (the package's cutoff is already past, it has no upper bound, ...)."""
    direct = [r for r in plan.requirements if normalize(requirement_name(r)) == name]
    if step == "cutoff":
        if not plan.exclude_newer or plan.exclude_newer >= today or any(e.startswith(f"{name}=") for e in plan.late):
            return None
        if direct and all(any(c.startswith("==") for c in specs.specifier(r)) for r in direct):
            return None  # a later cutoff cannot move an exact pin
        return dataclasses.replace(plan, late=plan.late + (f"{name}={today}",),
                                   relaxed=plan.relaxed + (f"{name}: resolved as of {today} (its own later cutoff)",))
    if not direct:
        if any(normalize(requirement_name(o)) == name for o in plan.overrides):
            return None
        note = f"{name}: overridden to any version (a dependency's bound)"
        return dataclasses.replace(plan, overrides=plan.overrides + (name,), relaxed=plan.relaxed + (note,))
    rewrite = {r: _lower_bounds(r) if step == "unbounded" else _bare(r) for r in direct}
    # "any" also overrides what the package's dependents ask of it (mypy 0.812 keeps typed-ast<1.5)
    override = step == "any" and not any(normalize(requirement_name(o)) == name for o in plan.overrides)
    if all(old == new for old, new in rewrite.items()) and not override:
        return None
    requirements = tuple(dict.fromkeys(rewrite.get(r, r) for r in plan.requirements))
    how = "upper bound dropped" if step == "unbounded" else "any version"
    notes = tuple(f"{name}: {how} ({old} -> {new})" for old, new in rewrite.items() if old != new)
    if override:
        notes += (f"{name}: overridden to any version (its dependents' bounds too)",)
    return dataclasses.replace(plan, requirements=requirements, relaxed=plan.relaxed + notes,
                               overrides=plan.overrides + ((name,) if override else ()))


def install(installer: Installer, plan: Plan, source: Path, rung: str) -> Plan:
    """Install ``plan`` on ``rung``, relaxing what the resolver names until it installs; the plan
    that installed. Raises the last EnvironmentBuildError when nothing is left to relax and pip's
    resolver fails too, or at once for a failure relaxing cannot help (the project's own build)."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tried: set[tuple[str, str]] = set()
    keep = (plan.project_name, "pytest")
    steps = 0
    while True:  # ends: relaxation steps are capped, and each leaving out drops a requirement for good
        try:
            installer.install(plan, source, rung)
            broken = [] if plan.frozen else _breaks_pytest(installer, plan)
            if broken and steps >= MAX_RELAXATIONS:
                return _with_pip(installer, plan, source, None)
            relaxed = _next(plan, broken, tried, today) if broken else None
            if relaxed is None:
                return plan
            plan, steps = relaxed, steps + 1
            installer.fresh_venv(rung, seed=rung == "pip")  # uv keeps an installed version that still fits
            continue
        except EnvironmentBuildError as exc:
            kind = classify(exc.output)
            if plan.frozen or kind not in ("resolution", "build"):
                raise
            said = _last_output(installer.log)  # untrimmed: a failed build names itself above its compiler's noise
            names = culprits(said, keep) if kind == "resolution" else _failed_builds(said, keep)
            relaxed = _next(plan, names, tried, today) if steps < MAX_RELAXATIONS else None
            if relaxed is not None:
                plan, steps = relaxed, steps + 1
                continue
            if kind == "build":
                # Out of steps for it (or for all): a dated dev pin that cannot build here is left out,
                # free of the budget, so a requirements file of 2013 pins (wsgiref, Twisted 13, ...)
                # does not spend the steps on its first two and send the rest to pip's resolver.
                relaxed = _leave_out(plan, names)
                if relaxed is None:
                    raise  # the project's own build: the ladder's next rung, not a relaxation
                plan = relaxed
                continue
            return _with_pip(installer, plan, source, exc)


def _next(plan: Plan, names: list[str], tried: set[tuple[str, str]], today: str) -> Plan | None:
    """The first step not taken yet that changes something, for the first name that has one.

    A step that changed nothing is not counted as taken: a later cutoff cannot move an exact pin,
    but once the pin is unbounded it can (a dated pin whose era has no wheel for this interpreter)."""
    for name in names:
        for step in STEPS:
            if (name, step) in tried:
                continue
            relaxed = relax(plan, name, step, today)
            if relaxed is not None:
                tried.add((name, step))
                return relaxed
    return None


def _leave_out(plan: Plan, names: list[str]) -> Plan | None:
    """``plan`` without the first of ``names`` (dependencies whose build failed) that it requires
    directly; None when it requires none of them (the failure is the project's, or a transitive one)."""
    for name in names:
        direct = [r for r in plan.requirements if normalize(requirement_name(r)) == name]
        if direct:
            return dataclasses.replace(
                plan,
                requirements=tuple(r for r in plan.requirements if r not in direct),
                overrides=tuple(o for o in plan.overrides if normalize(requirement_name(o)) != name),
                relaxed=plan.relaxed + (f"{name}: left out (its build fails here, relaxed or not)",))
    return None


def _with_pip(installer: Installer, plan: Plan, source: Path, failure: EnvironmentBuildError | None) -> Plan:
    """The last fallback: pip's resolver, in a venv seeded with pip, the same requirements and no date."""
    from taskset.env.install import _project_ref, _write  # the ladder's own helpers (it imports us)

    venv = installer.venv
    installer.fresh_venv("pip-resolver", seed=True)
    (venv / ".loopctl").mkdir(exist_ok=True)
    wanted = _write(venv / ".loopctl" / "requirements.in",
                    _project_ref(plan, source, plan.extras) + list(plan.requirements) + [plan.pytest])
    try:
        installer.run([str(installer.python), "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
                       "-r", wanted], "pip-resolver", tool=False)
    except EnvironmentBuildError:
        if failure is not None:
            raise failure from None  # uv's explanation says more than pip's
        raise
    return dataclasses.replace(plan, relaxed=plan.relaxed + (PIP_RESOLVER,))


def _breaks_pytest(installer: Installer, plan: Plan) -> list[str]:
    """The test requirements in whose files ``import pytest`` fails here ([] when it imports).

    A dated pin can install and still break pytest on this interpreter (``py==1.10.0`` under
    pytest 7.2 on 3.11: ``AttributeError: __spec__``). ``-B``: nothing may write bytecode into the
    environment before the project is taken out of it. Only requirements the plan names are
    returned: any other import failure is the ladder's check to report.
    """
    try:
        installer.run([str(installer.python), "-B", "-c", "import pytest"], "check:relax", tool=False)
    except EnvironmentBuildError as exc:
        frames = re.findall(r"site-packages/([A-Za-z0-9_.-]+?)(?:/|\.py\b)", exc.output)
        named = {normalize(requirement_name(r)) for r in plan.requirements}
        return [name for name in dict.fromkeys(map(normalize, reversed(frames))) if name in named]
    return []


def _last_output(log: Path) -> str:
    """What the last command in the build log printed, whole (the error's excerpt is trimmed)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text.rsplit("\n$ ", 1)[-1]


def _failed_builds(output: str, keep: tuple[str, ...]) -> list[str]:
    """The dependencies whose own build failed (a dated pin with no wheel for this interpreter)."""
    kept = {normalize(name) for name in keep if name}
    found = _FAILED_BUILD.findall(output)
    return [name for name in dict.fromkeys(map(normalize, found)) if name not in kept]


def _lower_bounds(req: str) -> str:
    """``name==1.2; marker`` -> ``name>=1.2; marker``: pins and upper bounds dropped, floors kept."""
    clauses = []
    for clause in specs.specifier(req):
        op = re.match(r"[<>=!~]+", clause)
        version = clause[op.end():] if op else clause
        if op and op.group() in ("==", "~=", "==="):
            clauses.append(">=" + version.rstrip(".*").rstrip("."))
        elif op and op.group() in (">=", ">", "!="):
            clauses.append(clause)
    return _with(req, ",".join(dict.fromkeys(clauses)))


def _bare(req: str) -> str:
    return _with(req, "")


def _with(req: str, clauses: str) -> str:
    """``req`` with its version clauses replaced by ``clauses`` (name, extras and marker kept)."""
    body, sep, marker = req.partition(";")
    extras = re.match(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?", body)
    head = requirement_name(req) + (extras.group(1) or "" if extras else "")
    return head + clauses + (f"; {marker.strip()}" if sep else "")
