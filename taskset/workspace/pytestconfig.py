"""Which configuration file pytest would read for a run, found inside the workspace only.

The runner passes the answer explicitly (``-c FILE``), so pytest never walks above the workspace:
a ``pytest.ini`` or ``pyproject.toml`` planted in a parent folder by an earlier run cannot
reach a later one. The search mirrors pytest's own (``_pytest.config.findpaths.locate_config``):
from each test path upwards, the first directory holding a file that carries pytest settings
wins, names tried in pytest's order; a ``pyproject.toml`` without settings is the fallback.
"""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

CONFIG_NAMES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
"""Every file name pytest reads settings from (pytest 9's order; the .toml pair is new in 9)."""

TOML_ONLY_SINCE = (9, 0)
"""pytest before 9 never reads ``pytest.toml`` / ``.pytest.toml`` nor ``[tool.pytest]``."""

EMPTY_INI = "[pytest]\n"
"""What the runner passes when the workspace has no configuration at all."""


def find_config(root: Path, test_paths: Iterable[str], pytest_version: tuple[int, ...] = (9, 0)) -> Path | None:
    """The configuration file pytest would pick for ``test_paths`` (relative to ``root``), or None.

    Only ``root`` and folders below it are searched: what lies above the workspace never counts.
    """
    root = Path(root)
    loaders = _loaders(pytest_version)
    pyproject: Path | None = None
    for rel in test_paths:
        start = root / rel.split("::", 1)[0]
        for base in _upwards(root, start):
            for name, loader in loaders:
                candidate = base / name
                if not _inside_file(candidate, root):
                    continue
                if name == "pyproject.toml" and pyproject is None:
                    pyproject = candidate
                if loader(candidate):
                    return candidate
    return pyproject


def _upwards(root: Path, start: Path) -> list[Path]:
    """``start`` (or its folder) and every folder above it up to and including ``root``."""
    try:
        rel = start.relative_to(root)
    except ValueError:
        return [root]
    chain = [root / rel] + [root / parent for parent in rel.parents]
    return chain


def _loaders(version: tuple[int, ...]) -> list[tuple[str, Callable[[Path], bool]]]:
    modern = tuple(version[:2]) >= TOML_ONLY_SINCE
    table: list[tuple[str, Callable[[Path], bool]]] = []
    if modern:
        table += [("pytest.toml", _always), (".pytest.toml", _always)]
    table += [
        ("pytest.ini", _always),
        (".pytest.ini", _always),
        ("pyproject.toml", lambda p: _pyproject_has_settings(p, modern)),
        ("tox.ini", lambda p: _ini_has_section(p, "pytest")),
        ("setup.cfg", lambda p: _ini_has_section(p, "tool:pytest")),
    ]
    return table


def _always(_path: Path) -> bool:
    # pytest.ini and pytest.toml are the configuration even when empty
    return True


def _pyproject_has_settings(path: Path, modern: bool) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    tool = data.get("tool", {}).get("pytest") if isinstance(data.get("tool"), dict) else None
    if not isinstance(tool, dict):
        return False
    return "ini_options" in tool or (modern and bool(tool))


def _ini_has_section(path: Path, section: str) -> bool:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error):
        return False
    return parser.has_section(section)


def _inside_file(path: Path, root: Path) -> bool:
    """A file that is (or links to) a file inside ``root``."""
    if not path.is_file():
        return False
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
