"""Where a tree's project is imported from: its import roots, read statically from the tree.

Environments never hold the project (docs/environments.md), so the tests find it only through
these roots on the path. Read from the packaging configuration when it names a source folder
(setuptools ``package-dir``/``packages.find where`` in pyproject, setup.cfg or a literal setup.py,
poetry's ``from``, hatch's wheel ``packages``), else ``src/`` when it holds code, else the top.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from taskset.env.depfiles import Reader


def pythonpath(root: Path) -> tuple[str, ...]:
    """``(<source folder>, ".")`` when the tree's packaging names a folder holding a package or
    module, else ``("src", ".")`` when ``src/`` holds one, else ``(".",)``."""
    root = Path(root)
    for folder in declared_roots(root):
        if _holds_code(root / folder):
            return (folder, ".")
    if _holds_code(root / "src"):
        return ("src", ".")
    return (".",)


def declared_roots(root: Path) -> list[str]:
    """Source folders the tree's packaging configuration names (relative, inside the tree, not the top)."""
    reader = Reader(Path(root))
    tool = reader.pyproject().get("tool", {})
    tool = tool if isinstance(tool, dict) else {}
    found: list[Any] = []
    setuptools = _table(tool, "setuptools")
    found.append(_table(setuptools, "package-dir").get(""))
    found += _as_list(_table(_table(setuptools, "packages"), "find").get("where"))
    cfg = reader.ini("setup.cfg")
    for line in cfg.get("options", "package_dir", fallback="").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip():
            found.append(value.strip())
    found += cfg.get("options.packages.find", "where", fallback="").split()
    setup = reader.setup_call()
    package_dir = setup.get("package_dir")
    if isinstance(package_dir, dict):
        found.append(package_dir.get(""))
    for package in _as_list(_table(tool, "poetry").get("packages")):
        if isinstance(package, dict):
            found.append(package.get("from"))
    wheel = _table(_table(_table(_table(tool, "hatch"), "build"), "targets"), "wheel")
    found += [str(PurePosixPath(p).parent) for p in _as_list(wheel.get("packages")) if isinstance(p, str)]
    return list(dict.fromkeys(r for r in (_clean(f) for f in found) if r))


def _clean(folder: Any) -> str:
    """A relative folder inside the tree other than its top, normalised; else ""."""
    if not isinstance(folder, str) or not folder.strip():
        return ""
    path = PurePosixPath(folder.strip().replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        return ""
    text = path.as_posix()
    return "" if text in ("", ".") else text


def _holds_code(folder: Path) -> bool:
    """A folder holding a package (``x/__init__.py``) or a module."""
    if not folder.is_dir():
        return False
    return any(child.suffix == ".py" or (child / "__init__.py").is_file() for child in folder.iterdir())


def _table(data: Any, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list:
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, (list, tuple)) else []
