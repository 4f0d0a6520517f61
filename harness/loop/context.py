"""Which repository files an edit tier's prompt shows: the tier's context setting.

``oracle`` shows the files the gold patch touches (SWE-bench's oracle retrieval: no user has it,
so it is an upper bound and never the default). ``traceback`` shows the project files named in
the failing tests' output (the deepest frame first), then the project modules the failing test
modules import, then those test modules. ``bm25`` ranks the repository's source files at
base_commit with BM25 (the bm25s library) against the problem statement and the failing output.

Both retrievals fill a budget of characters in rank order, skipping a file that no longer fits;
the files come back most relevant first, the order in which the prompt keeps them when it trims.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from harness.config import ContextSetting, Tier
from harness.loop.prompts import CHARS_PER_TOKEN, build_prompt, read_sources
from taskset.files.walk import walk
from taskset.record import Task
from taskset.workspace.diffpaths import patch_paths, strip_level
from taskset.workspace.testfiles import is_test_path

SOURCE_SUFFIXES = (".py", ".pyi", ".pyx")
"""Files a retrieval may show: the gold patches the miner keeps touch Python source."""
MAX_FILE_BYTES = 400_000
"""Larger files (generated tables, vendored bundles) are never worth a prompt's budget."""
SKIP_DIRS = frozenset({".git", ".hg", ".tox", ".nox", ".venv", "venv", "node_modules", "__pycache__", "build",
                       "dist", ".eggs"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_STOP = frozenset(keyword.kwlist) | {"self", "the", "and", "for", "not", "with", "this", "that", "def", "return",
                                     "none", "true", "false", "is", "in", "of", "to", "a", "an", "it", "be"}


def gold_files(task: Task) -> list[str]:
    """The paths the gold patch touches (what recall is measured against)."""
    return patch_paths(task.patch, strip_level(task.patch))


def context_budget(task: Task, tier: Tier) -> float:
    """Characters of files a tier's prompt may hold: its ``context_tokens``, never past what the window leaves."""
    window = (tier.context_window - tier.max_output_tokens) * CHARS_PER_TOKEN
    bare = build_prompt(task, tier, {}).chars  # the problem, tests and instructions come first
    return max(0.0, min(tier.context_tokens * CHARS_PER_TOKEN, window - bare))


def sources_for(task: Task, tier: Tier) -> dict[str, str]:
    """The files ``tier``'s prompt shows for ``task``, most relevant first (reads a workspace at base_commit)."""
    if tier.context is ContextSetting.ORACLE:
        return read_sources(task)
    return retrieve(task, tier.context, context_budget(task, tier))


def retrieve(task: Task, setting: ContextSetting, budget_chars: float) -> dict[str, str]:
    """``traceback`` or ``bm25`` retrieval over the task's tree at base_commit, filled to ``budget_chars``."""
    from taskset.workspace.workspace import Workspace

    with Workspace.for_task(task) as ws:
        files = project_files(ws.path)
    if setting is ContextSetting.TRACEBACK:
        ranked = traceback_rank(task, files)
    else:
        ranked = bm25_rank(query_text(task), {p: t for p, t in files.items() if not is_test_path(p)})
    return fill(ranked, files, budget_chars)


def project_files(root: Path) -> dict[str, str]:
    """Relative path -> text of every source file under ``root`` (no VCS, build or environment folders)."""
    out: dict[str, str] = {}
    for folder, dirs, names in walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if not name.endswith(SOURCE_SUFFIXES) or path.is_symlink():
                continue
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            out[path.relative_to(root).as_posix()] = data.decode("utf-8", errors="replace")
    return out


def fill(ranked: Sequence[str], files: Mapping[str, str], budget_chars: float) -> dict[str, str]:
    """Files in rank order while they fit the budget; one that does not fit is skipped, not cut."""
    out: dict[str, str] = {}
    left = budget_chars
    for path in ranked:
        size = len(files[path]) + len(path) + 16  # the fence and heading around a file
        if size <= left:
            out[path] = files[path]
            left -= size
    return out


def query_text(task: Task) -> str:
    """What BM25 ranks against: the problem statement and the failing tests' output."""
    return f"{task.problem_statement}\n{' '.join(task.FAIL_TO_PASS)}\n{task.failure_output}"


def tokens(text: str) -> list[str]:
    """Code-aware words: identifiers whole and split at underscores and case changes, lower-cased."""
    out: list[str] = []
    for word in _WORD.findall(text):
        parts = [p for piece in word.split("_") for p in _CAMEL.findall(piece)]
        for token in {word, *parts} if len(parts) > 1 else {word}:
            token = token.lower()
            if len(token) > 1 and token not in _STOP:
                out.append(token)
    return out


def bm25_rank(query: str, files: Mapping[str, str]) -> list[str]:
    """``files`` ranked by BM25 (bm25s) against ``query``; a file's path counts as part of its text."""
    import bm25s

    paths = sorted(files)
    if not paths:
        return []
    corpus = [tokens(f"{path} {path} {files[path]}") for path in paths]  # the path twice: names matter
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    words = [w for w in tokens(query) if w in retriever.vocab_dict]
    if not words:
        return paths
    scores = retriever.get_scores(words)
    return [paths[i] for i in sorted(range(len(paths)), key=lambda i: (-float(scores[i]), paths[i]))]


def traceback_rank(task: Task, files: Mapping[str, str]) -> list[str]:
    """Project files named in the failing output (deepest frame first), then what the failing tests import."""
    named = named_in(task.failure_output, files)
    tests = list(dict.fromkeys(node.split("::", 1)[0] for node in task.FAIL_TO_PASS))
    imported: list[str] = []
    for test in tests:
        if test in files:
            imported += project_imports(test, files)
    order = [p for p in named if not is_test_path(p)] + imported + [p for p in named if is_test_path(p)] + tests
    return [p for p in dict.fromkeys(order) if p in files]


def named_in(output: str, paths: Iterable[str]) -> list[str]:
    """The paths that ``output`` names, the one named last (a traceback's deepest frame) first.

    A match inside a longer path's match (``data.py`` in ``pkg/data.py``) names only the longer one.
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    for path in paths:
        found = [(m.start(), m.end()) for m in re.finditer(rf"(?<![\w.-]){re.escape(path)}(?![\w])", output)]
        if found:
            spans[path] = found
    longest: dict[int, int] = {}  # match end -> earliest start among the paths matched there
    for found in spans.values():
        for start, end in found:
            longest[end] = min(start, longest.get(end, start))
    last = {path: max(start for start, end in found if longest[end] == start)
            for path, found in spans.items() if any(longest[end] == start for start, end in found)}
    return sorted(last, key=lambda p: -last[p])


def project_imports(module_path: str, files: Mapping[str, str]) -> list[str]:
    """Project files ``module_path`` uses, then what those import.

    Used: what it imports, a package ``__init__``'s re-exports followed to the modules that hold
    them. Then one hop more: the project modules those used modules import themselves.
    """
    used: list[str] = []
    frontier = [module_path]
    while frontier:
        current = frontier.pop(0)
        for path in _imports_of(current, files):
            if path not in used and path != module_path:
                used.append(path)
                if path.endswith("__init__.py"):
                    frontier.append(path)
    found = list(used)
    for current in used:
        found += [p for p in _imports_of(current, files) if p not in found and p != module_path]
    return found


def _imports_of(path: str, files: Mapping[str, str]) -> list[str]:
    resolved = (_module_file(name, files) for name in _imported_names(path, files.get(path, "")))
    return list(dict.fromkeys(p for p in resolved if p))


def _imported_names(path: str, text: str) -> list[str]:
    """Dotted module names an import in ``text`` may refer to (``from a import b`` gives ``a.b`` and ``a``)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    package = path.rsplit("/", 1)[0].replace("/", ".") if "/" in path else ""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - node.level + 1] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            names += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
            if base:
                names.append(base)
    return names


def _module_file(name: str, files: Mapping[str, str]) -> str:
    """The project file a dotted module name lives in (flat, ``src/`` or ``lib/`` layout), or ""."""
    stem = name.replace(".", "/")
    for root in ("", "src/", "lib/"):
        for candidate in (f"{root}{stem}.py", f"{root}{stem}/__init__.py"):
            if candidate in files:
                return candidate
    return ""


def recall(shown: Iterable[str], gold: Sequence[str]) -> float | None:
    """Share of the gold patch's files among ``shown`` (None when the patch touches no file)."""
    if not gold:
        return None
    seen = set(shown)
    return sum(1 for p in gold if p in seen) / len(gold)
