"""Turn a model's answer into something the evaluator can judge, or say why it cannot.

Pure functions of (answer text, edit format, source files). The parser takes what models
actually send — fenced or bare, with chatter around it — and classifies what it cannot use as
empty-response, empty-edits, format-violation or patch-does-not-apply (a search block that is
not in the file).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from harness.config import EditFormat
from harness.modes import FailureMode

_FENCE = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_BLOCK = re.compile(
    r"(?P<path>[^\n]*)\n(?:```[^\n]*\n)?<{5,9} ?SEARCH[^\n]*\n(?P<search>.*?)^={5,9}[ \t]*\n"
    r"(?P<replace>.*?)^>{5,9} ?REPLACE[^\n]*$",
    re.S | re.M,
)


@dataclass(frozen=True)
class Candidate:
    """What an answer proposes: full-file edits or a unified diff; or the mode it failed with."""

    edits: dict[str, str | None] = field(default_factory=dict)
    patch: str = ""
    failure: FailureMode | None = None
    message: str = ""

    @property
    def usable(self) -> bool:
        """True when there is something for the evaluator to judge."""
        return self.failure is None

    def as_diff_text(self) -> str:
        """A short rendering of the candidate for a carry-over prompt."""
        if self.patch:
            return self.patch
        return "\n".join(f"--- {path} (rewritten, {len(text or '')} chars)" for path, text in self.edits.items())


def parse_answer(text: str, fmt: EditFormat, sources: Mapping[str, str]) -> Candidate:
    """Parse ``text`` in format ``fmt``; search/replace blocks are applied to ``sources``."""
    if not text or not text.strip():
        return Candidate(failure=FailureMode.EMPTY_RESPONSE, message="the answer is empty")
    if fmt is EditFormat.FILES:
        return _files(text, sources)
    if fmt is EditFormat.DIFF:
        return _diff(text)
    return _search_replace(text, sources)


def _fenced(text: str, *langs: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if not langs or lang.lower() in langs]


def _files(text: str, sources: Mapping[str, str]) -> Candidate:
    data = None
    for chunk in [*_fenced(text, "json", ""), text, text[text.find("{"): text.rfind("}") + 1]]:
        data = _json(chunk)
        if data is not None:
            break
    if data is None:
        return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="no JSON object with a files dict found")
    files = data.get("files", data)
    if not isinstance(files, dict) or not all(isinstance(v, (str, type(None))) for v in files.values()):
        return Candidate(failure=FailureMode.FORMAT_VIOLATION, message='expected {"files": {path: content}}')
    changed = {path: content for path, content in files.items() if sources.get(path) != content}
    if not changed:
        return Candidate(failure=FailureMode.EMPTY_EDITS, message="no file differs from the original")
    return Candidate(edits=changed)


def _json(chunk: str) -> dict[str, Any] | None:
    try:
        data = json.loads(chunk)
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _diff(text: str) -> Candidate:
    bodies = _fenced(text, "diff", "patch", "udiff") or _fenced(text) or [text]
    for body in bodies:
        start = re.search(r"^(diff --git |--- )", body, re.M)
        if start is None:
            continue
        patch = body[start.start():]
        if "\n@@" not in patch:
            return Candidate(failure=FailureMode.EMPTY_EDITS, message="a diff header without hunks")
        return Candidate(patch=patch if patch.endswith("\n") else patch + "\n")
    return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="no unified diff found")


def _search_replace(text: str, sources: Mapping[str, str]) -> Candidate:
    files: dict[str, str] = {}
    blocks = list(_BLOCK.finditer(text))
    if not blocks:
        return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="no SEARCH/REPLACE block found")
    path = ""
    for block in blocks:
        # A second block for the same file often omits the path line: keep the previous one.
        path = _clean_path(block["path"]) or path
        if not path:
            return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="a SEARCH block without a file path")
        search, replace = block["search"], block["replace"]
        current = files.get(path, sources.get(path))
        if current is None:
            if search.strip():
                return Candidate(failure=FailureMode.PATCH_DOES_NOT_APPLY, message=f"{path}: not a file shown in the prompt")
            files[path] = replace
            continue
        updated = _replace_once(current, search, replace)
        if updated is None:
            return Candidate(failure=FailureMode.PATCH_DOES_NOT_APPLY, message=f"{path}: SEARCH text not found")
        files[path] = updated
    changed = {path: content for path, content in files.items() if sources.get(path) != content}
    if not changed:
        return Candidate(failure=FailureMode.EMPTY_EDITS, message="the blocks change nothing")
    return Candidate(edits=dict(changed))


def _clean_path(line: str) -> str:
    path = line.strip().strip("`*#:").strip()
    for prefix in ("File:", "file:", "Path:", "path:"):
        if path.startswith(prefix):
            path = path[len(prefix):].strip()
    return path.split()[-1] if path else ""


def _replace_once(content: str, search: str, replace: str) -> str | None:
    if search in content:
        return content.replace(search, replace, 1)
    # Models often drop trailing spaces; match line by line ignoring them.
    lines, wanted = content.splitlines(keepends=True), [l.rstrip() for l in search.splitlines()]
    for i in range(len(lines) - len(wanted) + 1):
        if [l.rstrip() for l in lines[i:i + len(wanted)]] == wanted:
            return "".join(lines[:i]) + replace + "".join(lines[i + len(wanted):])
    return None
