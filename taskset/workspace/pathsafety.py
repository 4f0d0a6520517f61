"""Whether a candidate may touch a path: inside the work tree, outside ``.git``, no symlink escape.

Pure checks against a workspace root; the workspace runs them on every path of an edit set or
diff before anything is written, so a refused set changes nothing.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")

# Python imports these (and runs *.pth lines) on start-up when they sit on sys.path: a candidate
# could patch pytest itself through them, so no candidate may write one, as a module or a package.
STARTUP_MODULES = frozenset({"sitecustomize", "usercustomize"})

# Package metadata: a *.dist-info or *.egg-info folder on sys.path can declare a pytest plugin
# (a ``pytest11`` entry point) that pytest loads before any test.
METADATA_SUFFIXES = (".dist-info", ".egg-info")

NAME_MAX = 255
"""Bytes in one path component (Linux's NAME_MAX): a longer name fails every file system call."""
PATH_BYTES_MAX = 1024
"""Bytes in a whole relative path: far past any real repository's, well under PATH_MAX with the workspace's prefix."""
DEPTH_MAX = 64
"""Folders deep a candidate path may go (real repositories stay far below)."""


def normalise(path: str) -> str:
    """``path`` without empty or ``.`` components (``./src//a.py`` -> ``src/a.py``)."""
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def unsafe_reason(root: Path, path: str) -> str:
    """Why ``path`` may not be edited under ``root``, or "" when it is safe."""
    if "\0" in path:
        return "NUL byte in path"
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        return "absolute path"
    parts = normalise(path).split("/")
    if parts == [""]:
        return "empty path"
    if ".." in parts:
        return "'..' component"
    if any(part.lower() == ".git" for part in parts):  # .GIT is .git on case-insensitive disks
        return "inside .git"
    try:
        encoded = [part.encode("utf-8") for part in parts]
    except UnicodeEncodeError:
        return "not valid UTF-8 text"
    if any(len(part) > NAME_MAX for part in encoded):
        return f"a path component is longer than {NAME_MAX} bytes"
    if sum(len(part) + 1 for part in encoded) > PATH_BYTES_MAX or len(parts) > DEPTH_MAX:
        return f"the path is longer than {PATH_BYTES_MAX} bytes or deeper than {DEPTH_MAX} folders"
    if any(part.split(".", 1)[0] in STARTUP_MODULES for part in parts) or parts[-1].endswith(".pth"):
        return "runs at interpreter start-up, before any test"
    if any(part.lower().endswith(METADATA_SUFFIXES) for part in parts):
        return "package metadata (it can declare pytest plugins)"
    return _landing_problem(root, "/".join(parts), "resolves")


def symlink_reason(root: Path, link: str, target: str) -> str:
    """Why a symlink at ``link`` pointing to ``target`` may not be created, or "" when it stays inside."""
    if target.startswith("/") or _DRIVE.match(target):
        return "symlink to an absolute path"
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(normalise(link)), target))
    if joined == ".." or joined.startswith("../"):
        return "symlink leads outside the workspace"
    return _landing_problem(root, joined, "symlink leads")


def resolved_relative(root: Path, rel: str) -> str | None:
    """Where ``rel`` lands after following symlinks, relative to ``root`` ("" for root); None if outside
    (or if it cannot be resolved at all: a symlink loop, a name the file system rejects)."""
    try:
        resolved = (root / rel).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, RuntimeError, OSError):
        return None
    return "" if resolved == "." else resolved


def blocked_reason(root: Path, rel: str) -> str:
    """Why a whole-file write or delete at ``rel`` cannot happen (a parent is a file, it is a directory)."""
    parent = root
    for part in rel.split("/")[:-1]:
        parent = parent / part
        if parent.is_symlink() and not parent.exists():
            return f"{parent.relative_to(root).as_posix()} is a dangling symlink"
        if parent.exists() and not parent.is_dir():
            return f"{parent.relative_to(root).as_posix()} is a file, not a directory"
    target = root / rel
    if target.is_dir() and not target.is_symlink():
        return "is a directory"
    return ""


def clear_way(root: Path, rel: str) -> None:
    """Make every parent of ``rel`` a real directory inside ``root`` (a candidate may have swapped one for a link)."""
    parent = root
    for part in rel.split("/")[:-1]:
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            os.unlink(parent)
        parent.mkdir(exist_ok=True)


def _landing_problem(root: Path, rel: str, verb: str) -> str:
    resolved = resolved_relative(root, rel)
    if resolved is None:
        return f"{verb} outside the workspace (through a symlink)"
    if resolved == "":
        return f"{verb} to the workspace root"
    if resolved.split("/", 1)[0].lower() == ".git":
        return f"{verb} into .git (through a symlink)"
    return ""


def shadow_reason(root: Path, rel: str, import_roots: tuple[str, ...], taken: frozenset[str]) -> str:
    """Why a new file at ``rel`` would shadow a module the test run imports, or "".

    ``import_roots`` are the workspace folders on ``sys.path`` (``.`` for the workspace itself);
    ``taken`` the top-level names of the standard library, the environment and pytest. A module
    or package that already exists in the workspace is the project's own and stays editable.
    """
    for import_root in import_roots:
        base = normalise(import_root)
        if base and rel != base and not rel.startswith(base + "/"):
            continue
        rest = rel[len(base) + 1:] if base else rel
        first, _, below = rest.partition("/")
        name = first if below else _module_name(first)
        if not name or name not in taken:
            continue
        if os.path.lexists(root / base / first):
            continue  # the project's own module of that name
        where = f"{base}/{first}" if base else first
        return f"'{where}' would shadow the module {name!r} that the test run imports"
    return ""


_MODULE_SUFFIX = re.compile(r"\.(py|pyw|pyc|pyo|pyd|so)$|\.[\w-]+\.(so|pyd)$")


def _module_name(filename: str) -> str:
    """The module a top-level file would be imported as ("" when it is not a Python module)."""
    if not _MODULE_SUFFIX.search(filename):
        return ""
    return filename.split(".", 1)[0]
