"""What the repository itself pinned: lock files, and requirement lines reconciled one per package.

Pure functions over a source tree and requirement lines, no subprocess. A lock file (poetry,
pdm, uv, Pipfile) records the versions the project's own developers tested with at that commit:
a test requirement the lock pins is installed at that pin rather than resolved from its range
(a range whose only match at the date has since been yanked resolves no more; an exact pin
still does). Two files pinning one package differently are reconciled to one line rather than
handed to the resolver together, which has no solution for them.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from taskset.env import specs
from taskset.env.requirements import normalize, requirement_name

LOCK_FILES = ("poetry.lock", "pdm.lock", "uv.lock", "Pipfile.lock")
"""Lock files read, in this order; the first one that parses is used."""


def lock_pins(root: Path) -> tuple[str, dict[str, str]]:
    """(the lock file read, normalised name -> pinned version) of the first readable lock in ``root``.

    A name locked at several versions (per-platform or per-interpreter entries) is left out:
    which one applies is the lock tool's business, not ours. ``("", {})`` when there is none.
    """
    for name in LOCK_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
            found = _pipfile_lock(text) if name == "Pipfile.lock" else _toml_lock(text)
        except (ValueError, tomllib.TOMLDecodeError):
            continue  # one broken lock must not stop the commit: resolve from the ranges
        if found:
            return name, found
    return "", {}


def _toml_lock(text: str) -> dict[str, str]:
    """``[[package]] name/version`` tables: poetry.lock, pdm.lock and uv.lock share the shape."""
    versions: dict[str, set[str]] = {}
    for entry in tomllib.loads(text).get("package", []):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("version"), str):
            versions.setdefault(normalize(entry["name"]), set()).add(entry["version"])
    return {name: next(iter(found)) for name, found in versions.items() if len(found) == 1}


def _pipfile_lock(text: str) -> dict[str, str]:
    """Pipfile.lock's ``default`` and ``develop`` sections: ``{"name": {"version": "==1.2"}}``."""
    data = json.loads(text)
    found: dict[str, str] = {}
    for section in ("default", "develop"):
        table = data.get(section, {}) if isinstance(data, dict) else {}
        for name, entry in (table.items() if isinstance(table, dict) else ()):
            version = entry.get("version", "") if isinstance(entry, dict) else ""
            if isinstance(version, str) and version.startswith("=="):
                found[normalize(name)] = version[2:]
    return found


def pin_from_lock(requirements: tuple[str, ...], locked: dict[str, str]) -> tuple[str, ...]:
    """``requirements`` with each line the lock pins replaced by ``name==<locked>`` (markers kept).

    A lock that disagrees with the line (its version outside the line's range: the lock is
    stale at this commit) does not pin it; nor is a line with extras or a URL rewritten.
    """
    pinned = []
    for req in requirements:
        name = normalize(requirement_name(req))
        version = locked.get(name)
        body, _, marker = req.partition(";")
        if version is None or "[" in body or "@" in body or not _admits(body, version):
            pinned.append(req)
            continue
        pinned.append(f"{requirement_name(req)}=={version}" + (f"; {marker.strip()}" if marker.strip() else ""))
    return tuple(pinned)


def reconcile(requirements: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One coherent line per package: (the lines kept, a note per package whose lines conflicted).

    Lines for one package (under one marker) that some release satisfies together all stay: the
    resolver intersects them. Lines no release satisfies together (``six==1.10`` in one file,
    ``six==1.16`` in another) would make the resolution unsolvable: the line naming the newest
    version is kept, the others dropped -- the newer pin is the one the project moved to.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for req in requirements:
        key = (normalize(requirement_name(req)), req.partition(";")[2].strip())
        groups.setdefault(key, []).append(req)
    dropped: set[str] = set()
    notes = []
    for (name, _), lines in groups.items():
        clauses = [c for line in lines for c in specs.specifier(line)]
        if len(lines) < 2 or not clauses or specs.satisfiable(clauses):
            continue
        kept = max(lines, key=_newest_named)
        dropped.update(line for line in lines if line != kept)
        notes.append(f"{name}: reconciled {' and '.join(lines)} (no release satisfies both) to {kept}")
    return tuple(r for r in requirements if r not in dropped), tuple(notes)


def _admits(body: str, version: str) -> bool:
    clauses = specs.specifier(body)
    try:
        return SpecifierSet(",".join(clauses)).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def _newest_named(line: str) -> tuple[int, object]:
    """Sort key: the highest version a line names (a line naming none sorts first)."""
    versions = [v for c in specs.specifier(line) if (v := specs.parse_version(c.lstrip("<>=!~").rstrip(".*")))]
    return (1, max(versions)) if versions else (0, 0)
