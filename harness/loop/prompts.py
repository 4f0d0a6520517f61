"""Prompts from the package's jinja2 templates, trimmed to fit a tier's context window.

The prompt shows the problem statement, the failing tests and their output, the source files the
tier's context setting chose (in full, read from a workspace at base_commit; harness.loop.context),
the edit format, and —
with feedback or carry-over — earlier rejected attempts with their test output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jinja2

from harness.config import ContextSetting, Tier
from taskset.record import Task
from taskset.workspace.diffpaths import patch_paths, strip_level

# A conservative chars-per-token ratio for code: overestimating tokens trims a little early,
# underestimating would send a prompt the server rejects.
CHARS_PER_TOKEN = 3.0
MAX_OUTPUT_CHARS = 4000
"""Test output shown per earlier attempt (head and tail kept)."""

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


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
    history_dropped: int = 0
    """Earlier attempts left out to fit the window."""
    overflow: bool = False
    """True when even the smallest prompt exceeds the window: the attempt is not sent."""
    chars: int = 0


def read_sources(task: Task) -> dict[str, str]:
    """The files the gold patch touches, in full, as they are at base_commit (new files have none)."""
    found = read_files(task, patch_paths(task.patch, strip_level(task.patch)))
    return {path: text for path, text in found.items() if text is not None}


def read_files(task: Task, paths: Sequence[str]) -> dict[str, str | None]:
    """``paths`` as they are at base_commit (None for a path that is not a file there)."""
    from taskset.workspace.pathsafety import unsafe_reason
    from taskset.workspace.workspace import Workspace

    with Workspace.for_task(task) as ws:
        out: dict[str, str | None] = {}
        for path in paths:
            target = ws.path / path
            # a model names these paths: nothing outside the work tree is ever read
            readable = not unsafe_reason(ws.path, path) and target.is_file() and not target.is_symlink()
            out[path] = target.read_bytes().decode("utf-8", errors="replace") if readable else None
        return out


def build_prompt(task: Task, tier: Tier, sources: Mapping[str, str], history: Sequence[Earlier] = (),
                 budget_chars: float | None = None, max_tokens: int | None = None) -> Prompt:
    """Render the prompt, leaving out what matters least until it fits the tier's window.

    ``budget_chars`` overrides the window (a retry after the server said the prompt was too long).
    What goes first: earlier attempts by other tiers (oldest first), then this tier's earlier
    attempts but the latest, then files least relevant first (keeping the most relevant one),
    then the latest earlier attempt, then the last file.
    """
    output = max_tokens if max_tokens is not None else tier.max_output_tokens
    budget = budget_chars if budget_chars is not None else (tier.context_window - output) * CHARS_PER_TOKEN
    history = [_trim_earlier(e) for e in history]
    rank = {path: i for i, path in enumerate(sources)}
    files = sorted(sources, key=lambda p: _relevance(task, tier, p, history, rank[p]), reverse=True)
    order = _drop_order(files, history)
    kept_files, kept_history = list(files), list(history)
    dropped: list[str] = []
    while True:
        messages = _render(task, tier, {p: sources[p] for p in kept_files}, dropped, kept_history)
        chars = sum(len(m["content"]) for m in messages)
        if chars <= budget or not order:
            break
        item = order.pop(0)
        if isinstance(item, Earlier):
            kept_history.remove(item)
        else:
            kept_files.remove(item)
            dropped.append(item)
    return Prompt(messages=messages, files=tuple(kept_files), dropped=tuple(dropped),
                  history_dropped=len(history) - len(kept_history), overflow=chars > budget, chars=chars)


def _drop_order(files: list[str], history: list[Earlier]) -> list:
    others = [e for e in history if not e.same_tier]
    mine = [e for e in history if e.same_tier]
    latest = mine[-1:] if mine else others[-1:]
    older = [e for e in others + mine[:-1] if e not in latest]
    return [*older, *reversed(files[1:]), *latest, *files[:1]]


def trim_output(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Keep the head and the tail of long test output (the assertion is usually at the end)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"


def _trim_earlier(earlier: Earlier) -> Earlier:
    return Earlier(earlier.label, earlier.reason, trim_output(earlier.candidate), trim_output(earlier.feedback),
                   earlier.same_tier)


def _relevance(task: Task, tier: Tier, path: str, history: Sequence[Earlier], rank: int) -> tuple[int, int]:
    """Files named in the failure output rank first; then, for ``oracle``, files the fix changes most, else
    the retrieval's own order (the gold patch must not leak into a retrieval's ranking)."""
    if tier.context is not ContextSetting.ORACLE:
        output = "".join(e.feedback for e in history)  # the retrieval already ranked by the task's own output
        return int(bool(output) and (path in output or path.rsplit("/", 1)[-1] in output)), -rank
    output = task.failure_output + "".join(e.feedback for e in history)
    named = int(path in output or path.rsplit("/", 1)[-1] in output)
    return named, _changed_lines(task.patch, path)


def _changed_lines(patch: str, path: str) -> int:
    """Lines the gold patch adds or removes in ``path`` (its file sections named by their headers)."""
    sections = re.split(r"(?=^diff --git )", patch, flags=re.M)
    for section in sections:
        if path in patch_paths(section, strip_level(patch)):
            body = section.split("\n@@", 1)[1] if "\n@@" in section else ""
            return sum(1 for line in body.splitlines() if line[:1] in "+-")
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
