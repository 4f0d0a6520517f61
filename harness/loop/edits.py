"""Turn a model's answer into something the evaluator can judge, or say why it cannot.

Pure functions of (answer text, edit format, source files). The parser takes what models
actually send — fenced or bare, with chatter around it, CRLF line ends, reasoning in
``<think>`` blocks before the answer — and classifies what it cannot use as empty-response,
empty-edits, format-violation or patch-does-not-apply (a search block that is not in the file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.config import EditFormat
from harness.loop.diffs import normalize_diff
from harness.modes import FailureMode

_FENCE = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_BLOCK = re.compile(r"^<{5,9} ?SEARCH[^\n]*\n(?P<search>.*?)^={5,9}[ \t]*\n(?P<replace>.*?)^>{5,9} ?REPLACE[^\n]*$",
                    re.S | re.M)
_THINK = re.compile(r"<(think|thinking|reasoning)>(.*?)(?:</\1>|\Z)", re.S | re.I)
_PATHLIKE = re.compile(r"^[\w.\-/]+\.[\w]+$|^[\w.\-]+/[\w.\-/]+$")


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


def split_reasoning(text: str) -> tuple[str, str]:
    """(answer, reasoning): ``<think>...</think>`` blocks are reasoning, not the answer.

    An unclosed ``<think>`` (the answer was cut) makes the rest reasoning; a lone ``</think>``
    (templates that open the block in the prompt) makes everything before it reasoning.
    """
    thoughts = [m.group(2) for m in _THINK.finditer(text)]
    answer = _THINK.sub("", text)
    closing = re.search(r"</(think|thinking|reasoning)>", answer, re.I)
    if closing:
        thoughts.insert(0, answer[:closing.start()])
        answer = answer[closing.end():]
    return answer, "\n".join(t.strip("\n") for t in thoughts)


def parse_answer(text: str, fmt: EditFormat, sources: Mapping[str, str]) -> Candidate:
    """Parse ``text`` in format ``fmt``; search/replace blocks are applied to ``sources``."""
    text = (text or "").replace("\r\n", "\n")
    text, _ = split_reasoning(text)
    if not text.strip():
        return Candidate(failure=FailureMode.EMPTY_RESPONSE, message="the answer is empty")
    if fmt is EditFormat.FILES:
        return _files(text, sources)
    if fmt is EditFormat.DIFF:
        return _diff(text, sources)
    return _search_replace(text, sources)


def _fenced(text: str, *langs: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if not langs or lang.lower() in langs]


def _files(text: str, sources: Mapping[str, str]) -> Candidate:
    data = None
    for chunk in [*_fenced(text, "json", ""), text, text[text.find("{"): text.rfind("}") + 1]]:
        data = _json(chunk)
        if data is not None and "files" in data:
            break
        data = None
    if data is None:
        return Candidate(failure=FailureMode.FORMAT_VIOLATION, message='no JSON object with a "files" dict found')
    files = data["files"]
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


def _diff(text: str, sources: Mapping[str, str]) -> Candidate:
    bodies = _fenced(text, "diff", "patch", "udiff") or _fenced(text) or [text]
    for body in bodies:
        start = re.search(r"^(diff --git |--- )", body, re.M)
        if start is None:
            continue
        patch = normalize_diff(body[start.start():], sources)
        if "\n@@" not in patch:
            return Candidate(failure=FailureMode.EMPTY_EDITS, message="a diff header without hunks")
        return Candidate(patch=patch)
    return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="no unified diff found")


def _search_replace(text: str, sources: Mapping[str, str]) -> Candidate:
    files: dict[str, str] = {}
    blocks = list(_BLOCK.finditer(text))
    if not blocks:
        return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="no SEARCH/REPLACE block found")
    path = ""
    for block in blocks:
        search, replace = block["search"], block["replace"]
        # A block names its file on a line above it (a fence line may sit between); a second block
        # for the same file often names none: keep the previous path, else find the file by content.
        path = _path_above(text, block.start(), sources) or path or _file_holding(search, sources)
        if not path:
            return Candidate(failure=FailureMode.FORMAT_VIOLATION, message="a SEARCH block without a file path")
        current = files.get(path, sources.get(path))
        if current is None:
            if search.strip():
                return Candidate(failure=FailureMode.PATCH_DOES_NOT_APPLY,
                                 message=f"{path}: not a file shown in the prompt")
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


def _path_above(text: str, start: int, sources: Mapping[str, str]) -> str:
    """The file a block names on the nearest non-fence line above it, if that line names one."""
    for line in reversed(text[:start].split("\n")[:-1][-3:]):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("```"):
            continue  # the fence's language (```python) is never a path
        return _clean_path(stripped, sources)
    return ""


def _clean_path(line: str, sources: Mapping[str, str]) -> str:
    path = line.strip("`*#: ").strip()
    for prefix in ("File:", "file:", "Path:", "path:", "Filename:", "filename:"):
        if path.startswith(prefix):
            path = path[len(prefix):].strip().strip("`*")
    if path in sources:
        return path
    words = [w.strip("`*:,()") for w in path.split()]
    named = [w for w in words if w in sources]
    if named:
        return named[-1]
    return path if _PATHLIKE.match(path) else ""


def _file_holding(search: str, sources: Mapping[str, str]) -> str:
    """The only shown file containing ``search``, if exactly one does."""
    if not search.strip():
        return ""
    holders = [path for path, content in sources.items() if _replace_once(content, search, "") is not None]
    return holders[0] if len(holders) == 1 else ""


def _replace_once(content: str, search: str, replace: str) -> str | None:
    if "\r\n" in content:  # a CRLF file edited by an LF answer keeps its line ends
        updated = _replace_once(content.replace("\r\n", "\n"), search, replace)
        return None if updated is None else updated.replace("\n", "\r\n")
    if search in content:
        return content.replace(search, replace, 1)
    # Models often drop trailing spaces; match line by line ignoring them.
    lines, wanted = content.splitlines(keepends=True), [line.rstrip() for line in search.splitlines()]
    for i in range(len(lines) - len(wanted) + 1):
        if [line.rstrip() for line in lines[i:i + len(wanted)]] == wanted:
            return "".join(lines[:i]) + replace + "".join(lines[i + len(wanted):])
    return None
