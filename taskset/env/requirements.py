"""Requirement lines as strings: names, extras, and whether a line can go to the package index.

Pure string work shared by the dependency-file readers and the install ladder.
"""

from __future__ import annotations

import re
import shlex

from packaging.utils import canonicalize_name

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRAS = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*\[([^\]]*)\]")
_FACTOR = re.compile(r"^[A-Za-z0-9_.,!{}-]+:\s+\S")  # tox "py38: pytest<5" (conditional on a factor)


def normalize(name: str) -> str:
    """PEP 503 name normalisation: ``Pytest_Cov`` -> ``pytest-cov``."""
    return canonicalize_name(name)


def requirement_name(req: str) -> str:
    """The distribution name a requirement line starts with ("" if none)."""
    match = _NAME.match(req)
    return match.group(1) if match else ""


def requirement_extras(req: str) -> list[str]:
    """``name[a, b]>=1`` -> ``["a", "b"]``."""
    match = _EXTRAS.match(req)
    return [e.strip() for e in match.group(1).split(",") if e.strip()] if match else []


def split_words(text: str) -> list[str]:
    """Shell-like words; an unbalanced quote falls back to whitespace splitting."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def unusable_reason(line: str) -> str:
    """Why a requirement line cannot go to the package index ("" when it can)."""
    if line.startswith(("-e", "--editable")):
        return "editable install"
    if line.startswith("-"):
        return "installer option"
    if line.startswith((".", "/")) or "://" in line or line.startswith("file:"):
        return "path or URL, not on the package index"
    if _FACTOR.match(line):
        return "tox factor condition"
    if "{" in line:
        return "tox substitution"
    if not requirement_name(line):
        return "not a requirement"
    return ""


def cfg_list(value: str) -> list[str]:
    """setup.cfg lists: one per line, or (old style) comma-separated on one line."""
    if "\n" in value.strip():
        return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]
    items: list[str] = []
    for piece in value.split(","):
        # "pytest>=6,<8" is one requirement: a piece without a name continues the previous one
        if items and not requirement_name(piece):
            items[-1] += "," + piece.strip()
        elif piece.strip():
            items.append(piece.strip())
    return items
