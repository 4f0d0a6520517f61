"""Which paths a unified or git diff touches, read from its headers (pure; no git needed).

The workspace checks every one of these before ``git apply`` runs, so a diff cannot reach a
protected or unsafe path by hiding it in a rename, a copy or a quoted name. Lines inside hunks
are skipped by their counts, so a removed line reading ``-- x`` is not taken for a header.
"""

from __future__ import annotations

import re

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_EXTENDED = ("rename from ", "rename to ", "copy from ", "copy to ")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
NULL = "/dev/null"


def strip_level(diff: str) -> int:
    """The ``-p`` level ``git apply`` needs: 1 for git-style ``a/`` ``b/`` prefixes, else 0."""
    lines = diff.splitlines()
    if any(line.startswith("diff --git ") for line in lines):
        return 1
    names = [_name(line[4:]) for line in lines if line.startswith(("--- ", "+++ "))]
    names = [name for name in names if name != NULL]
    if names and not any(name.startswith(("a/", "b/")) for name in names):
        return 0
    return 1


def patch_paths(diff: str, strip: int = 1) -> list[str]:
    """Every path the diff's headers name, prefixes stripped, in order of appearance, no repeats.

    Absolute header paths are kept absolute (stripping would hide them from the safety check).
    """
    found: list[str] = []
    old_left = new_left = 0
    for line in diff.splitlines():
        if (old_left > 0 or new_left > 0) and (not line or line[0] in " +-\\"):
            old_left, new_left = _consume(line, old_left, new_left)
            continue
        old_left = new_left = 0  # a line no hunk can hold ends the hunk, whatever its header said
        hunk = _HUNK.match(line)
        if hunk:
            old_left = int(hunk.group(1) or 1)
            new_left = int(hunk.group(2) or 1)
        elif line.startswith("diff --git "):
            found.extend(_strip(name, strip) for name in _git_header(line[len("diff --git ") :]))
        elif line.startswith(("--- ", "+++ ")):
            name = _name(line[4:])
            if name != NULL:
                found.append(_strip(name, strip))
        elif line.startswith(_EXTENDED):
            found.append(_name(line.split(" ", 2)[2]))
    return list(dict.fromkeys(path for path in found if path))


def _consume(line: str, old_left: int, new_left: int) -> tuple[int, int]:
    """Count one hunk body line against what the hunk header announced."""
    if line.startswith("\\"):  # "\ No newline at end of file"
        return old_left, new_left
    if line.startswith("-"):
        return old_left - 1, new_left
    if line.startswith("+"):
        return old_left, new_left - 1
    return old_left - 1, new_left - 1  # context (an empty line is context trimmed by an editor)


def _name(text: str) -> str:
    """A header's file name: quoted C-style, or plain up to a tab (``diff -u`` adds a timestamp)."""
    text = text.rstrip("\r")
    if text.startswith('"'):
        name, _ = _unquote(text)
        return name
    return text.split("\t", 1)[0].rstrip()


def _git_header(rest: str) -> list[str]:
    """The two names of ``diff --git a/x b/y``; unquoted names with spaces split where they agree."""
    rest = rest.rstrip("\r")
    if rest.startswith('"'):
        first, tail = _unquote(rest)
        return [first, _name(tail.lstrip())]
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3 :]:
        return [rest[:half], rest[half + 1 :]]
    if ' "' in rest:
        first, second = rest.split(' "', 1)
        return [first, _name('"' + second)]
    if " b/" in rest:
        first, second = rest.split(" b/", 1)
        return [first, "b/" + second]
    return rest.split(" ", 1)


def _unquote(text: str) -> tuple[str, str]:
    """Decode git's C-style quoted name at the start of ``text``; returns (name, rest after it)."""
    out = bytearray()
    i = 1
    while i < len(text) and text[i] != '"':
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "01234567":
                digits = ""
                while len(digits) < 3 and i + 1 + len(digits) < len(text) and text[i + 1 + len(digits)] in "01234567":
                    digits += text[i + 1 + len(digits)]
                out.append(int(digits, 8) & 0xFF)  # git writes three digits; fewer is still octal, never a crash
                i += 1 + len(digits)
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt) if ord(nxt) < 128 else 63))
            i += 2
            continue
        out.extend(char.encode("utf-8", errors="surrogateescape"))
        i += 1
    return out.decode("utf-8", errors="surrogateescape"), text[i + 1 :]


def _strip(name: str, strip: int) -> str:
    if name.startswith("/") or strip == 0:
        return name
    parts = name.split("/", strip)
    return parts[-1] if len(parts) > strip else ""


def symlink_targets(diff: str, strip: int = 1) -> list[tuple[str, str]]:
    """(link path, target) for every symlink the diff creates or rewrites (mode 120000)."""
    found: list[tuple[str, str]] = []
    is_link, path = False, ""
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            is_link, path = False, ""
        elif line.startswith(("new file mode ", "new mode ", "index ")):
            is_link = is_link or _is_link_mode(line)
        elif line.startswith("+++ "):
            path = _strip(_name(line[4:]), strip)
        elif is_link and path and line.startswith("+"):
            found.append((path, line[1:].rstrip("\r")))
            is_link = False
    return found


def _is_link_mode(line: str) -> bool:
    """A mode line naming a symlink, however spelled (``120000``, ``0120000``): git reads it as octal."""
    words = line.split()
    mode = words[-1] if line.startswith(("new file mode ", "new mode ")) else (words[-1] if len(words) >= 3 else "")
    try:
        return (int(mode, 8) & 0o170000) == 0o120000
    except ValueError:
        return False
