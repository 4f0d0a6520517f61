"""Is a cached environment still the one that was built? Checked before use; damaged ones are rebuilt.

A cache can be damaged without anyone noticing: an interpreter link emptied or pointed at
``/bin/false``, a file gone from site-packages, ``pyvenv.cfg`` deleted (then ``bin/python`` runs
as the base interpreter, with the host's pytest instead of the pinned one), a ``.pth`` dropped in
by an unconfined test run. Judging a candidate in such an environment would turn the machine's
fault into a verdict. So before use: ``pyvenv.cfg`` is there, the content manifest recorded at
build time still matches, the interpreter runs, and the pinned pytest imports.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from taskset.env import probe as envprobe
from taskset.errors import InfrastructureError
from taskset.files.walk import walk

MARKER = "loopctl-env.json"
"""Written last into a built environment: an env dir without it is half-built and is never used."""
BUILD_LOG = "loopctl-build.log"
"""Every command of the build and its output, kept in the env dir."""

SKIPPED_NAMES = frozenset({MARKER, BUILD_LOG, "__pycache__"})
"""Not part of the manifest: our own records, and bytecode Python derives from the sources."""

_verified: dict[str, tuple] = {}


def manifest(venv: Path) -> str:
    """sha256 over every file's relative path, kind and size (a link's target) in the environment."""
    venv = Path(venv)
    digest = hashlib.sha256()
    for top, dirs, files in walk(venv):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_NAMES)
        rel_top = os.path.relpath(top, venv)
        for name in sorted(files):
            if name in SKIPPED_NAMES:
                continue
            path = os.path.join(top, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            what = f"link:{os.readlink(path)}" if os.path.islink(path) else f"file:{info.st_size}"
            digest.update(f"{rel_top}/{name}\0{what}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def damage(venv: Path, recorded: str, requirements: Sequence[str] = ()) -> str:
    """Why the environment at ``venv`` is not the one built (recorded manifest ``recorded``), or "".

    ``requirements`` are its frozen pins: a pinned pytest must be the one that imports.
    """
    venv = Path(venv)
    stamp = _stamp(venv)
    if _verified.get(str(venv)) == stamp:
        return ""
    problem = _files_damage(venv, recorded)
    if problem:
        return problem
    try:
        facts = envprobe.probe(venv / "bin" / "python")
    except InfrastructureError as exc:
        return str(exc)
    pinned = _pinned_pytest(requirements)
    if pinned and ".".join(map(str, facts.pytest_version)) != pinned:
        return f"pytest {'.'.join(map(str, facts.pytest_version))} imports, not the pinned {pinned}"
    _verified[str(venv)] = stamp
    return ""


def _files_damage(venv: Path, recorded: str) -> str:
    """The checks that start no process: the venv's config, its interpreter link, its manifest."""
    if not (venv / "pyvenv.cfg").is_file():
        return "pyvenv.cfg is missing (the interpreter would run outside the environment)"
    if not (venv / "bin" / "python").exists():
        return "bin/python is missing or its base interpreter is gone"
    if recorded and manifest(venv) != recorded:
        return "its files differ from what was installed (a file added, removed or emptied)"
    return ""


def recheck(venv: Path, deep: bool = True) -> str:
    """Why the environment at ``venv`` is damaged, checked afresh (nothing this process remembered
    about it trusted: its manifest walked again and, when ``deep``, its interpreter asked again), or "".

    The evaluator asks this when a run failed: a failure that is the environment's must never
    become a verdict on a candidate. A run that wrote its report shows a working interpreter and
    pytest: then the files alone are checked (milliseconds; the interpreter's answer costs a start).
    """
    venv = Path(venv)
    forget(venv)
    if deep:
        envprobe.forget(venv / "bin" / "python")
    try:
        data = json.loads((venv / MARKER).read_text(encoding="utf-8"))
        requirements = tuple(data.get("spec", {}).get("requirements", ()))
        recorded = str(data.get("manifest", ""))
    except (OSError, ValueError, AttributeError, TypeError):
        return f"its marker {MARKER} is missing or unreadable"
    return damage(venv, recorded, requirements) if deep else _files_damage(venv, recorded)


def forget(venv: Path) -> None:
    """Drop what this process remembers of ``venv`` (after a rebuild)."""
    _verified.pop(str(Path(venv)), None)


def _stamp(venv: Path) -> tuple:
    """Cheap facts that change when the environment's top levels change: checked again then."""
    parts: list = []
    tops = [venv, venv / "pyvenv.cfg", venv / "bin", venv / "bin" / "python"]
    for path in [*tops, *sorted(venv.glob("lib/python*/site-packages"))]:
        try:
            info = os.lstat(path)
            parts.append((str(path), info.st_ino, info.st_mtime_ns, info.st_size))
        except OSError:
            parts.append((str(path), None))
    return tuple(parts)


def _pinned_pytest(requirements: Sequence[str]) -> str:
    for line in requirements:
        name, sep, version = line.partition("==")
        if sep and name.strip().lower() == "pytest":
            return version.strip()
    return ""
