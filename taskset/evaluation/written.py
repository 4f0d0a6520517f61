"""Which lines of the workspace's files the candidate wrote: what the audit hook holds against it.

A candidate (or, when mining, the gold patch) that edits a few lines of a large module makes the
whole file a suspect, and the audit hook reports frame access, ``gc`` walks or tracing from a
file the candidate wrote. Real modules do such things in code nobody touched: amoffat/sh's
import finder reads its caller's frame on every import, and its fix of 2022 (5e693e4202) edits
sh.py elsewhere. Given the lines the candidate added, the hook judges the function that acted:
one with no line of the candidate's is the base tree's own code, as in an untouched file.

The lines come from the workspace's own git (its HEAD is the base commit, the candidate's edits
are in the working tree), read before the tests start. A file git cannot tell about (new, or a
workspace without history) keeps being suspect whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from taskset.evaluation.screen import added_lines
from taskset.workspace.mirrors import run_git

SAFE_DIFF = ("-c", "core.hooksPath=/dev/null", "-c", "diff.external=", "diff", "--no-ext-diff", "--no-textconv",
             "--no-color", "--no-renames", "-U0", "HEAD", "--")
"""A plain diff of the working tree against the base commit: no drivers or filters of the tree's own."""


def added_line_numbers(root: Path, suspects: Iterable[str]) -> dict[str, list[int]]:
    """Absolute path -> the line numbers (in the file as it is now) the candidate added, for each
    suspect git knows at HEAD; {} when git cannot say (the files then stay suspect whole)."""
    paths = sorted(set(suspects))
    if not paths or not (root / ".git").is_dir():
        return {}
    done = run_git([*SAFE_DIFF, *paths], cwd=root)
    if done.returncode != 0:
        return {}
    diff = done.stdout.decode("utf-8", "replace")
    tracked = run_git(["ls-files", "-z", "--", *paths], cwd=root)
    if tracked.returncode != 0:
        return {}
    known = {p for p in tracked.stdout.decode("utf-8", "replace").split("\0") if p}
    found = {path: [number for number, _ in lines] for path, lines in added_lines(diff).items()}
    return {str(root / path): sorted(found.get(path, [])) for path in paths if path in known}
