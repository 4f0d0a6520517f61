"""Pure: the Python minors a tree's CI tested on, read statically from its CI files.

GitHub workflows (``python-version:`` keys and their lists), ``.travis.yml`` (``python:``) and
tox's ``envlist`` (``py36``, ``py{27,35,36}``). What a project ran its tests on in its day is the
best evidence of the interpreters its commit supports: ``pythons.choose`` never goes past the
newest of them. Read line by line, not as YAML: a matrix is a few keys, and a workflow YAML
loader would be a dependency for nothing more.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

CI_FILE_LIMIT = 256 * 1024
"""Bytes of one CI file read (a workflow is a few kilobytes)."""

_KEY = re.compile(r"^\s*(?:-\s+)?([\w.-]+)\s*:\s*(.*)$")
_ITEM = re.compile(r"^\s*-\s+(.*)$")
_MINOR = re.compile(r"(?<![\d.])([23])\.(\d{1,2})(?![\d])")
_TOX_ENV = re.compile(r"\bpy(\d)(\d{1,2})\b")


def ci_minors(root: Path) -> tuple[str, ...]:
    """The Python minors (``3.8``) the tree's CI files at ``root`` name, oldest first; () when none."""
    found: set[str] = set()
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    for path in [*workflows, root / ".travis.yml"]:
        found.update(yaml_python_minors(read_head(path)))
    found.update(tox_minors(read_head(root / "tox.ini")))
    return tuple(sorted(found, key=_order))


def yaml_python_minors(text: str) -> set[str]:
    """Minors written as the value of a key naming ``python`` (``python-version``, ``python``), inline
    (``[3.8, "3.9"]``, ``3.7``) or as the list items under it."""
    found: set[str] = set()
    key, indent = "", -1
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        depth = len(stripped) - len(stripped.lstrip())
        item = _ITEM.match(stripped)
        keyed = _KEY.match(stripped)
        if item and not keyed and depth >= indent and key:
            if "python" in key:
                found.update(_minors(item.group(1)))
            continue
        if keyed:
            key, indent = keyed.group(1).lower(), depth
            if "python" in key and "${{" not in keyed.group(2):
                found.update(_minors(keyed.group(2)))
    return found


def tox_minors(text: str) -> set[str]:
    """Minors of a tox.ini's ``envlist`` (``py27,py36``; braces expanded: ``py{36,37}``, ``py3{6,7}``)."""
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
        envlist = parser.get("tox", "envlist", fallback="")
    except configparser.Error:
        return set()
    return {f"{m.group(1)}.{m.group(2)}" for m in _TOX_ENV.finditer(_expand(envlist))}


def _expand(text: str) -> str:
    """Brace expansion of tox's factor syntax, enough for version factors."""
    brace = re.search(r"([\w.-]*)\{([^{}]*)\}([\w.-]*)", text)
    if not brace:
        return text
    head, options, tail = brace.groups()
    expanded = ",".join(f"{head}{option.strip()}{tail}" for option in options.split(","))
    return _expand(text[:brace.start()] + expanded + text[brace.end():])


def _minors(value: str) -> set[str]:
    return {f"{m.group(1)}.{m.group(2)}" for m in _MINOR.finditer(value)}


def _order(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


def read_head(path: Path, limit: int = CI_FILE_LIMIT) -> str:
    """The first ``limit`` bytes of a small text file at ``path``, decoded; "" when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""
