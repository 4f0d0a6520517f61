"""Interpreter facts: which interpreter a name means, its full version, its release date, its pytest floor,
and (for ``--python auto``) which installed interpreter fits a commit.

Probing a foreign interpreter costs a subprocess, so the answer is kept in
``cache_dir()/pythons.json`` keyed by the executable's path, size and mtime: a warm
``ensure_environment`` runs no subprocess at all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import date as date_type
from pathlib import Path

from taskset.errors import EnvironmentBuildError, InfraCause, InfrastructureError
from taskset.files.atomic import write_atomic
from taskset.files.cache import cache_dir

RELEASE_DATES = {
    "2.7": "2010-07-03",
    "3.3": "2012-09-29",
    "3.4": "2014-03-16",
    "3.5": "2015-09-13",
    "3.6": "2016-12-23",
    "3.7": "2018-06-27",
    "3.8": "2019-10-14",
    "3.9": "2020-10-05",
    "3.10": "2021-10-04",
    "3.11": "2022-10-24",
    "3.12": "2023-10-02",
    "3.13": "2024-10-07",
    "3.14": "2025-10-07",
}
"""x.y.0 release dates: packages resolved before these rarely run on that interpreter."""

PYTEST_FLOORS = {
    "3.11": ("7.2", "2022-10-25"),
    "3.12": ("7.4.3", "2023-10-24"),
    "3.13": ("8.2", "2024-04-27"),
    "3.14": ("8.4", "2025-06-02"),
}
"""The oldest pytest that runs on each interpreter, and the day it reached the index.

The day matters: pytest 7.2 came out the day *after* Python 3.11.0, so a resolution date
must reach it or the floor cannot be installed (checked with ``uv pip compile --exclude-newer``).
"""

RUNNER_PYTEST = ("3.5", "2018-03-22")
"""The oldest pytest the test runner drives on any interpreter (its plugin reads ``user_properties``,
``--continue-on-collection-errors``), and the day it reached the index: a floor for every interpreter."""

_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)"


@dataclass(frozen=True)
class Interpreter:
    """A base interpreter an environment is built from."""

    path: Path
    """The real executable (a pyenv shim is resolved to the interpreter it runs)."""
    version: str
    """Full version, e.g. ``3.11.7``."""

    @property
    def minor(self) -> str:
        """``3.11`` for ``3.11.7``."""
        return ".".join(self.version.split(".")[:2])


def interpreter(python: str | Path | None = None) -> Interpreter:
    """The interpreter ``python`` names (a path or a name on PATH); ``None`` means this one."""
    if python is None or _same_file(python, sys.executable):
        return Interpreter(Path(sys.executable), ".".join(map(str, sys.version_info[:3])))
    path = Path(python) if os.sep in str(python) else _by_name(str(python))
    if not path.is_file():
        raise InfrastructureError(f"no interpreter at {path}", cause=InfraCause.INTERPRETER)
    return _probe_cached(path)


def find_python(version: str) -> Path | None:
    """An interpreter of ``version``'s minor (``3.11.7`` -> any 3.11), preferring this one; else None."""
    minor = ".".join(version.split(".")[:2])
    if not re.fullmatch(r"\d+\.\d+", minor):
        return None
    if ".".join(map(str, sys.version_info[:2])) == minor:
        return Path(sys.executable)
    # pyenv's real binaries first: its shims fail unless that version is selected
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"]
    for root in filter(None, dict.fromkeys(roots)):
        for candidate in sorted(Path(root, "versions").glob(f"{minor}.*/bin/python{minor}"), reverse=True):
            return candidate
    found = shutil.which(f"python{minor}")
    if found and "/shims/" not in found:
        return Path(found)
    return None


def release_date(version: str) -> str | None:
    """The x.y.0 release date of ``version``'s minor, or None for minors outside the table."""
    return RELEASE_DATES.get(".".join(version.split(".")[:2]))


def pytest_floor(version: str) -> str:
    """The oldest pytest that runs on ``version``'s minor and that the runner drives."""
    floor = PYTEST_FLOORS.get(".".join(version.split(".")[:2]))
    return floor[0] if floor else RUNNER_PYTEST[0]


def effective_date(resolution_date: str | None, version: str) -> str:
    """The later of ``resolution_date`` and the interpreter's release date ("" when neither is known).

    Packages resolved before the interpreter existed rarely run on it (pytest as of 2021 does
    not import on 3.11), so the interpreter's release date is a floor for the resolution date;
    so is the day its pytest floor (at least the runner's, pytest 3.5) was published.
    """
    minor = ".".join(version.split(".")[:2])
    floor = PYTEST_FLOORS.get(minor, RUNNER_PYTEST)[1]
    asked = normalize_date(resolution_date) if resolution_date else ""
    candidates = [d for d in (asked, release_date(version), floor) if d]
    if not candidates:
        return ""
    return max(candidates)  # ISO days order as text


def normalize_date(value: str) -> str:
    """An ISO date or timestamp as its UTC day, ``YYYY-MM-DD`` (uv reads it as "up to the end of that day").

    A day, not the exact second: every commit of one day then shares one environment, where
    timestamps would give each candidate commit its own build for the same packages.
    """
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EnvironmentBuildError(f"resolution date {value!r} is not an ISO 8601 date", step="python") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.date().isoformat()


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _by_name(name: str) -> Path:
    versioned = re.fullmatch(r"(?:python)?(\d+\.\d+)", name)
    found = find_python(versioned.group(1)) if versioned else None
    if found:
        return found
    on_path = shutil.which(name)
    if not on_path:
        raise InfrastructureError(f"no interpreter named {name!r} on PATH", cause=InfraCause.INTERPRETER)
    return Path(on_path)


def _probe_cached(path: Path) -> Interpreter:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{path}"
    table_path = cache_dir() / "pythons.json"
    try:
        table = json.loads(table_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = {}
    if key in table:
        version, executable = table[key]
        return Interpreter(Path(executable), version)
    version, executable = _probe(path)
    table[key] = [version, executable]
    write_atomic(table_path, json.dumps(table, indent=1, sort_keys=True))
    return Interpreter(Path(executable), version)


def _probe(path: Path) -> tuple[str, str]:
    try:
        done = subprocess.run([str(path), "-c", _PROBE], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"interpreter {path} cannot be run: {exc}", cause=InfraCause.INTERPRETER) from None
    lines = done.stdout.decode("utf-8", errors="replace").split()
    if done.returncode != 0 or len(lines) != 2:
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        raise InfrastructureError(f"interpreter {path} did not report its version", cause=InfraCause.INTERPRETER,
                                  output=output)
    return lines[0], lines[1]


# --- choosing an interpreter for a commit (``--python auto``) ---

AUTO = "auto"
"""The ``--python`` value that picks an interpreter per commit."""
KNOWN_MINORS = tuple(m for m in RELEASE_DATES if m not in ("2.7", "3.3", "3.4", "3.5"))
"""The minors ``available()`` looks for and ``choose`` picks from, oldest first: uv builds
environments for Python 3.6 and later only."""


@dataclass(frozen=True)
class PythonNeeds:
    """What a commit says about the interpreters it runs on."""

    requires: str = ""
    """``requires-python`` / ``python_requires`` as written (a PEP 440 specifier set), "" if none."""
    classifiers: tuple[str, ...] = ()
    """Minors its ``Programming Language :: Python :: X.Y`` classifiers name."""
    ci: tuple[str, ...] = ()
    """Minors its CI files test on (workflow ``python-version``, travis ``python``, tox ``envlist``)."""


@dataclass(frozen=True)
class Choice:
    """The interpreter chosen for a commit, or (``interpreter`` None) the one that would be needed."""

    interpreter: Interpreter | None
    needed: str
    """The minor that fits best (the one to install when ``interpreter`` is None)."""
    reason: str
    """Why: the constraints that decided, in words."""
    older: tuple[Interpreter, ...] = ()
    """Installed interpreters the needs also admit, older than ``interpreter``, newest first: the
    ones to try when no environment can be built on ``interpreter``."""


def available() -> list[Interpreter]:
    """Installed interpreters (pyenv's versions, ``pythonX.Y`` on PATH, this one), one per minor, oldest first."""
    found: dict[str, Interpreter] = {}
    for minor in KNOWN_MINORS:
        path = find_python(minor)
        if path is None:
            continue
        try:
            interp = interpreter(path)
        except (InfrastructureError, EnvironmentBuildError):
            continue  # a broken install is not a choice
        if interp.minor == minor:
            found[minor] = interp
    return [found[m] for m in KNOWN_MINORS if m in found]


def choose(needs: PythonNeeds, date: str, installed: list[Interpreter] | None = None) -> Choice:
    """The interpreter that fits a commit of ``date`` with ``needs``.

    Hard rule: ``requires-python`` must admit it. No interpreter newer than the commit's era
    (:func:`ceiling`: the newest minor its classifiers name, the newest its CI tests on, the newest
    released by ``date`` + ``ERA_MARGIN_DAYS``) is taken while an older admitted one is installed;
    when none is, the oldest admitted one (the nearest to the era). Under the ceiling, in order of
    preference: a minor the classifiers or CI name and that was released by the commit's date (the
    newest such); one released by then (the newest); one named (the newest); the oldest. When
    none is installed, ``needed`` names the minor the same rules pick among all known minors.
    """
    installed = available() if installed is None else installed
    day = normalize_date(date) if date else ""
    admitted = _admitted(needs.requires)
    mine = [i for i in installed if admitted(i.minor)]
    known = [m for m in KNOWN_MINORS if admitted(m)]
    top = ceiling(needs, day)
    best = _best([i.minor for i in mine], needs, day, top)
    wanted = _best(known, needs, day, top) or (known[-1] if known else f"{needs.requires}".strip())
    why = _describe(needs, day, top)
    if best is None:
        return Choice(None, wanted, why)
    older = tuple(i for i in reversed(mine) if _key(i.minor) < _key(best))
    return Choice(next(i for i in mine if i.minor == best), wanted, why, older)


ERA_MARGIN_DAYS = 183
"""An interpreter released up to this long after a commit may still run it (projects add the next
minor's classifier and CI job during its betas); one released later is past the commit's era."""


def ceiling(needs: PythonNeeds, day: str) -> str | None:
    """The newest minor of a commit's era (None: nothing caps it): the lowest of the newest Python 3
    minor its classifiers name, the newest its CI tests on, and the newest released by ``day`` + the
    margin. Python 2 minors cap nothing: a 2.7 classifier beside a bare ``Python :: 3`` says which 2.x
    it ran on, not that no 3.x was supported."""
    threes = [[m for m in named if _key(m) >= (3,)] for named in (needs.classifiers, needs.ci)]
    caps = [max(named, key=_key) for named in threes if named]
    if day:
        limit = (date_type.fromisoformat(day) + timedelta(days=ERA_MARGIN_DAYS)).isoformat()
        released = [m for m in RELEASE_DATES if RELEASE_DATES[m] <= limit]
        if released:
            caps.append(max(released, key=_key))
    return min(caps, key=_key) if caps else None


def _best(minors: list[str], needs: PythonNeeds, day: str, top: str | None = None) -> str | None:
    if not minors:
        return None
    within = [m for m in minors if top is None or _key(m) <= _key(top)]
    if not within:
        return minors[0]  # every admitted one is past the era: the nearest to it
    released = [m for m in within if not day or RELEASE_DATES[m] <= day]
    listed = [m for m in within if m in needs.classifiers or m in needs.ci]
    both = [m for m in released if m in listed]
    for pool, newest in (both, True), (released, True), (listed, True), (within, False):
        if pool:
            return pool[-1] if newest else pool[0]
    return None


def _key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split(".") if part.isdigit())
def _admitted(requires: str):
    """A predicate on minors: does ``requires`` admit some release of that minor?"""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    try:
        spec = SpecifierSet(requires.strip().rstrip(",")) if requires.strip() else None
    except InvalidSpecifier:
        spec = None  # an unreadable constraint constrains nothing
    if spec is None:
        return lambda minor: True
    # x.y.0 and a late patch release: ">=3.6.2" admits 3.6, "!=3.6.0" too
    return lambda minor: any(spec.contains(Version(f"{minor}.{patch}"), prereleases=True) for patch in (0, 99))


def _describe(needs: PythonNeeds, day: str, top: str | None = None) -> str:
    parts = []
    if needs.requires:
        parts.append(f"requires-python {needs.requires}")
    if needs.classifiers:
        parts.append("classifiers " + ", ".join(needs.classifiers))
    if needs.ci:
        parts.append("CI " + ", ".join(needs.ci))
    if day:
        parts.append(f"commit of {day}")
    if top:
        parts.append(f"era up to {top}")
    return "; ".join(parts) or "no constraints"
