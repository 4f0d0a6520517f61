"""Unified diffs as models write them, made into diffs git applies; edits rendered as diffs.

Models drop ``diff --git`` lines, miscount hunks, leave out line numbers and blank out the
space of empty context lines. ``git apply --recount`` (the evaluator's) then reads a second
file's ``---``/``+++`` header as two more lines of the first file's hunk. ``normalize_diff``
rewrites such a diff section by section: a git header for each file (``new file mode`` /
``deleted file mode`` where a side is /dev/null), ``a/``/``b/`` prefixes, hunks recounted, a
missing start line found in the file shown to the model. ``edits_to_diff`` renders whole-file
edits as a git diff, which is what a SWE-bench prediction carries. Pure functions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from taskset.workspace.diffpaths import strip_level

NULL = "/dev/null"
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@ ?(.*)$")
_NO_NEWLINE = "\\ No newline at end of file"
CONTEXT = 3
"""Context lines a repaired hunk gets on each side, as ``git diff`` writes them."""


@dataclass
class _Hunk:
    old_start: int | None
    new_start: int | None
    tail: str
    lines: list[str] = field(default_factory=list)


@dataclass
class _Section:
    old: str = ""
    new: str = ""
    git_header: str = ""
    extended: list[str] = field(default_factory=list)
    hunks: list[_Hunk] = field(default_factory=list)


def normalize_diff(text: str, sources: Mapping[str, str] | None = None) -> str:
    """``text`` (a unified or git diff, LF line ends) as a git diff with one header per file."""
    lines = text.split("\n")
    level = strip_level(text)
    sections: list[_Section] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            sections.append(_Section(git_header=line))
            i += 1
            while i < len(lines) and not lines[i].startswith(("--- ", "@@", "diff --git ")):
                if lines[i].strip():
                    sections[-1].extended.append(lines[i])
                i += 1
        elif _file_header(lines, i):
            current = sections[-1] if sections else None
            if current is None or current.old or current.hunks or not current.git_header:
                current = _Section()
                sections.append(current)
            current.old, current.new = _name(line[4:], level), _name(lines[i + 1][4:], level)
            i += 2
        elif line.startswith("@@") and sections:
            i = _read_hunk(lines, i, sections[-1])
        else:
            i += 1  # prose between files
    return "".join(_render(section, sources or {}) for section in sections if section.hunks or section.extended)


def _file_header(lines: list[str], i: int) -> bool:
    """``--- x`` then ``+++ y`` then a hunk or the end: a file header (a removed ``-- x`` line is not)."""
    if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
        return False
    return i + 2 >= len(lines) or lines[i + 2].startswith("@@") or not lines[i + 2].strip()


def _read_hunk(lines: list[str], i: int, section: _Section) -> int:
    match = _HUNK.match(lines[i])
    hunk = _Hunk(int(match.group(1)) if match else None, int(match.group(2)) if match else None,
                 match.group(3) if match else "")
    i += 1
    while i < len(lines):
        line = lines[i]
        if line.startswith(("@@", "diff --git ")) or _file_header(lines, i):
            break
        if line == "":
            line = " "  # an empty context line whose space an editor removed
        elif line[0] not in " +-\\":
            break
        hunk.lines.append(line)
        i += 1
    while hunk.lines and hunk.lines[-1] == " ":
        hunk.lines.pop()  # blank lines after the hunk separate it from prose, they are not context
    if any(line[0] in "+-" for line in hunk.lines):
        section.hunks.append(hunk)
    return i


def _name(text: str, level: int) -> str:
    name = text.split("\t", 1)[0].rstrip()
    if name.startswith('"') and name.endswith('"'):
        name = name[1:-1]
    if name == NULL or level == 0:
        return name
    parts = name.split("/", level)
    return parts[-1] if len(parts) > level else name


def _render(section: _Section, sources: Mapping[str, str]) -> str:
    old, new = section.old or section.new, section.new or section.old
    path = new if new != NULL else old
    out = [section.git_header or f"diff --git a/{old if old != NULL else new} b/{path}"]
    extended = list(section.extended)
    if old == NULL and not any(e.startswith("new file mode") for e in extended):
        extended.append("new file mode 100644")
    if new == NULL and not any(e.startswith("deleted file mode") for e in extended):
        extended.append("deleted file mode 100644")
    out += extended
    if section.hunks:
        out.append("--- " + (NULL if old == NULL else f"a/{old}"))
        out.append("+++ " + (NULL if new == NULL else f"b/{new}"))
    source = sources.get(old, "").split("\n") if old in sources else None
    if source is not None:
        _widen(section.hunks, source)
    for hunk in section.hunks:
        old_lines = [line[1:] for line in hunk.lines if line[0] in " -"]
        new_count = sum(1 for line in hunk.lines if line[0] in " +")
        start = hunk.old_start if hunk.old_start is not None else 1
        if old == NULL:
            start = 0
        new_start = hunk.new_start if hunk.new_start is not None else (1 if old == NULL else start)
        if new == NULL:
            new_start = 0
        tail = f" {hunk.tail}" if hunk.tail else ""
        out.append(f"@@ -{start},{len(old_lines)} +{new_start},{new_count} @@{tail}")
        out += hunk.lines
    return "\n".join(out) + "\n"


def _widen(hunks: list[_Hunk], source: list[str]) -> None:
    """Place each hunk in the file shown to the model and give it context on both sides.

    git anchors a hunk without trailing context to the end of the file (and one starting at line
    1 to its beginning), so a model's one-sided context makes a correct change not apply. Each
    hunk found in the file gets up to CONTEXT lines around it, never reaching into its neighbours.
    """
    placed = []
    floor = 0
    for hunk in hunks:
        old_lines = [line[1:] for line in hunk.lines if line[0] in " -"]
        at = _locate(source, old_lines, floor, hunk.old_start)
        if at is None:
            return  # not found as shown: leave every hunk as the model wrote it
        placed.append((hunk, at, len(old_lines)))
        floor = at + len(old_lines)
    for i, (hunk, at, size) in enumerate(placed):
        lower = placed[i - 1][1] + placed[i - 1][2] if i else 0
        upper = placed[i + 1][1] if i + 1 < len(placed) else len(source) - (1 if source and source[-1] == "" else 0)
        lead = len(hunk.lines) - len(_strip_context(hunk.lines))
        trail = len(hunk.lines) - len(_strip_context(hunk.lines[::-1]))
        before = source[max(lower, at - max(0, CONTEXT - lead)):at]
        after = source[at + size:min(upper, at + size + max(0, CONTEXT - trail))]
        hunk.lines = [" " + line for line in before] + hunk.lines + [" " + line for line in after]
        delta = (hunk.new_start - hunk.old_start) if hunk.new_start is not None and hunk.old_start is not None else 0
        hunk.old_start = at - len(before) + 1
        hunk.new_start = hunk.old_start + delta


def _strip_context(lines: list[str]) -> list[str]:
    """``lines`` without their leading context lines."""
    i = 0
    while i < len(lines) and lines[i][0] == " ":
        i += 1
    return lines[i:]


def _locate(source: list[str], old_lines: list[str], floor: int = 0, hint: int | None = None) -> int | None:
    """The 0-based line where a hunk's old lines sit in ``source`` at or after ``floor`` (closest to ``hint``)."""
    wanted = [line.rstrip() for line in old_lines]
    lines = [line.rstrip() for line in source]
    found = [start for start in range(floor, len(lines) - len(wanted) + 1)
             if lines[start:start + len(wanted)] == wanted]
    if not found:
        return None
    target = (hint - 1) if hint else 0
    return min(found, key=lambda start: abs(start - target))


def edits_to_diff(originals: Mapping[str, str | None], edits: Mapping[str, str | None]) -> str:
    """Whole-file edits (None deletes) as a git diff against ``originals`` (None: the file is new)."""
    out = []
    for path in sorted(edits):
        before, after = originals.get(path), edits[path]
        if before == after:
            continue
        old_lines = _lines(before or "")
        new_lines = _lines(after or "")
        header = [f"diff --git a/{path} b/{path}"]
        if before is None:
            header.append("new file mode 100644")
        elif after is None:
            header.append("deleted file mode 100644")
        body = list(difflib.unified_diff(old_lines, new_lines, fromfile=NULL if before is None else f"a/{path}",
                                         tofile=NULL if after is None else f"b/{path}", n=3, lineterm="\n"))
        out.append("\n".join(header) + "\n" + "".join(_terminated(body)))
    return "".join(out)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _terminated(body: list[str]) -> list[str]:
    """difflib leaves a last line without its newline; git wants the ``\\ No newline`` marker."""
    out = []
    for line in body:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + _NO_NEWLINE + "\n")
    return out
