"""Prompts from the package's jinja2 templates, trimmed to fit a tier's context window.

The prompt shows the problem statement, the failing tests and their output, the source files the
gold patch touches (in full, read from a workspace at base_commit), the edit format, and —
with feedback or carry-over — earlier rejected attempts with their test output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import jinja2

from taskset.record import Task

from harness.config import Tier

# A conservative chars-per-token ratio for code: overestimating tokens trims a little early,
# underestimating would send a prompt the server rejects.
CHARS_PER_TOKEN = 3.0
MAX_OUTPUT_CHARS = 4000
"""Test output shown per earlier attempt (head and tail kept)."""

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


@dataclass(frozen=True)
class Earlier:
    """A rejected attempt shown to a later one (feedback or carry-over)."""

    label: str
    reason: str
    candidate: str = ""
    feedback: str = ""
    same_tier: bool = True


@dataclass(frozen=True)
class Prompt:
    """The rendered messages and what trimming did to fit them."""

    messages: tuple[dict[str, str], ...]
    files: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    overflow: bool = False
    """True when even the smallest prompt exceeds the window: the attempt is not sent."""
    chars: int = 0


def patched_files(patch: str) -> list[str]:
    """Paths a unified diff modifies that exist before it (new files have nothing to show)."""
    out = []
    for chunk in re.split(r"(?=^diff --git )", patch, flags=re.M):
        match = _DIFF_FILE.search(chunk)
        if match and "--- /dev/null" not in chunk and match.group(1) not in out:
            out.append(match.group(1))
    return out


def read_sources(task: Task) -> dict[str, str]:
    """The files the gold patch touches, in full, as they are at base_commit."""
    from taskset.workspace import Workspace

    with Workspace.for_task(task) as ws:
        out = {}
        for path in patched_files(task.patch):
            target = ws.path / path
            if target.is_file():
                out[path] = target.read_bytes().decode("utf-8", errors="replace")
        return out


def build_prompt(task: Task, tier: Tier, sources: Mapping[str, str], history: Sequence[Earlier] = ()) -> Prompt:
    """Render the prompt, dropping the least relevant files until it fits the tier's window."""
    budget = (tier.context_window - tier.max_output_tokens) * CHARS_PER_TOKEN
    history = [_trim_earlier(e) for e in history]
    keep = sorted(sources, key=lambda p: _relevance(task, p, history), reverse=True)
    dropped: list[str] = []
    while True:
        messages = _render(task, tier, {p: sources[p] for p in keep}, dropped, history)
        chars = sum(len(m["content"]) for m in messages)
        if chars <= budget or not keep:
            break
        dropped.append(keep.pop())
    return Prompt(messages=messages, files=tuple(keep), dropped=tuple(dropped), overflow=chars > budget, chars=chars)


def trim_output(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Keep the head and the tail of long test output (the assertion is usually at the end)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def _trim_earlier(earlier: Earlier) -> Earlier:
    return Earlier(earlier.label, earlier.reason, trim_output(earlier.candidate), trim_output(earlier.feedback),
                   earlier.same_tier)


def _relevance(task: Task, path: str, history: Sequence[Earlier]) -> tuple[int, int]:
    """Files named in the failure output rank first, then files the fix changes most."""
    output = task.failure_output + "".join(e.feedback for e in history)
    named = int(path in output or path.rsplit("/", 1)[-1] in output)
    return named, _changed_lines(task.patch, path)


def _changed_lines(patch: str, path: str) -> int:
    for chunk in re.split(r"(?=^diff --git )", patch, flags=re.M):
        if chunk.startswith(f"diff --git a/{path} "):
            return sum(1 for line in chunk.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    return 0


def _render(task: Task, tier: Tier, files: Mapping[str, str], dropped: list[str],
            history: Sequence[Earlier]) -> tuple[dict[str, str], ...]:
    context = {
        "edit_format": tier.edit_format.value,
        "problem_statement": task.problem_statement,
        "failing_tests": task.FAIL_TO_PASS,
        "failure_output": trim_output(task.failure_output),
        "files": [(path, content.rstrip("\n")) for path, content in files.items()],
        "dropped": dropped,
        "history": history,
    }
    system = _ENV.get_template("system.j2").render(context)
    user = _ENV.get_template("user.j2").render(context)
    return ({"role": "system", "content": system}, {"role": "user", "content": user})
