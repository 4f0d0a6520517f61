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
# could patch pytest itself through them, so no candidate may write one.
STARTUP_FILES = frozenset({"sitecustomize.py", "usercustomize.py"})


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
    if parts[-1] in STARTUP_FILES or parts[-1].endswith(".pth"):
        return "runs at interpreter start-up, before any test"
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
    """Where ``rel`` lands after following symlinks, relative to ``root`` ("" for root); None if outside."""
    try:
        resolved = (root / rel).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
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
