"""Requirement and version arithmetic: ``packaging``'s specifiers and versions, poetry's constraint syntax.

Pure functions over strings; ``taskset.env.deps`` and its readers use them to judge pins and to turn
poetry/Pipfile entries into PEP 508 lines.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _name(req: str) -> str:
    match = _NAME.match(req)
    return match.group(1) if match else ""


def specifier(req: str) -> list[str]:
    """The version clauses of a requirement, in their order (markers dropped).

    ``pytest>=6,<8; ...`` -> ``[">=6", "<8"]``.

    Each clause is checked with ``packaging``; one it cannot read (a legacy version) is left out.
    """
    body = req.split(";", 1)[0]
    body = body[len(_name(body)):] if _name(body) else body
    body = re.sub(r"^\s*\[[^\]]*\]", "", body).strip().strip("()")
    clauses = []
    for piece in body.split(","):
        piece = re.sub(r"\s+", "", piece)
        if not piece:
            continue
        try:
            clauses.append(str(Specifier(piece)))
        except InvalidSpecifier:
            continue
    return clauses


def parse_version(text: str) -> Version | None:
    """A PEP 440 version, or None when ``text`` is not one."""
    try:
        return Version(text.strip())
    except InvalidVersion:
        return None


def satisfiable(clauses: list[str]) -> bool:
    """Whether some release satisfies every clause together (``~=7.1.0`` with ``>=7.2``: no).

    Checked on the versions the clauses name and their neighbours (each release component
    bumped, one component appended): enough to find a witness for any set written by hand.
    """
    spec = SpecifierSet(",".join(clauses))
    return any(spec.contains(v, prereleases=False) for v in _witnesses(clauses))


def bounded_below(clauses: list[str], floor: str) -> bool:
    """Whether the clauses alone keep every allowed version at or above ``floor`` (``>=8`` does for 7.2)."""
    low = parse_version(floor)
    if low is None:
        return False
    spec = SpecifierSet(",".join(clauses))
    return not any(v < low and spec.contains(v, prereleases=False) for v in _witnesses(clauses + [f"<{floor}"]))


def _witnesses(clauses: list[str]) -> set[Version]:
    found = {Version("0")}
    for clause in clauses:
        version = parse_version(Specifier(clause).version.rstrip(".*"))
        if version is None:
            continue
        release = list(version.release)
        found.add(Version(".".join(map(str, release))))
        found.add(version)
        found.add(Version(".".join(map(str, release + [1]))))
        for i in range(len(release)):
            bumped = release[:i] + [release[i] + 1] + [0] * (len(release) - i - 1)
            found.add(Version(".".join(map(str, bumped))))
            if release[i] > 0:
                lower = release[:i] + [release[i] - 1] + [9999]
                found.add(Version(".".join(map(str, lower))))
    return found



def poetry_requirement(name: str, value: Any, pipfile: bool = False) -> str:
    """A poetry/Pipfile dependency entry as a PEP 508 line.

    ``{"version": "^1.2", "extras": ["x"]}`` -> ``name[x]>=1.2,<2``.
    """
    extras: list[str] = []
    version: Any = value
    if isinstance(value, dict):
        extras = [e for e in value.get("extras", []) if isinstance(e, str)]
        version = value.get("version", "*")
        if any(key in value for key in ("git", "path", "url", "file")):
            return ""  # not on the package index
    elif isinstance(value, list):
        version = "*"  # several alternatives by marker: leave the choice to the resolver
    spec = version if pipfile and isinstance(version, str) and version != "*" else None
    spec = spec if spec is not None else (poetry_specifier(version) if isinstance(version, str) else "")
    return name + (f"[{','.join(extras)}]" if extras else "") + spec


def poetry_specifier(constraint: str) -> str:
    """Poetry's version syntax in PEP 440: ``^1.2`` -> ``>=1.2,<2.0``; ``~1.2`` -> ``>=1.2,<1.3``; ``*`` -> ""."""
    clauses: list[str] = []
    if "||" in constraint:
        return ""  # alternatives PEP 440 cannot say: no constraint is closer than a wrong one
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint.strip()):
        part = part.strip()
        if not part or part == "*":
            continue
        match = re.fullmatch(r"([\^~]|[<>=!]=?|~=)?\s*v?([0-9][0-9A-Za-z.*+-]*)", part)
        if not match:
            return ""
        op, version = match.group(1) or "", match.group(2)
        release = [int(x) for x in re.findall(r"\d+", version.split("-")[0])[:3]] or [0]
        if op == "^":
            first = next((i for i, x in enumerate(release) if x != 0), len(release) - 1)
            upper = release[: first + 1]
            upper[-1] += 1
            clauses += [f">={version}", "<" + ".".join(map(str, upper))]
        elif op == "~":
            upper = release[:2] if len(release) > 1 else release[:1]
            upper[-1] += 1
            clauses += [f">={version}", "<" + ".".join(map(str, upper))]
        elif op in ("", "="):
            clauses.append(f"=={version}")
        else:
            clauses.append(f"{op}{version}")
    return ",".join(clauses)
