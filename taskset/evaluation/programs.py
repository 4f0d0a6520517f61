"""Which of the programs a test run started the task's environment does not provide.

The audit hook in the test process names each program the tests start, once, as they named it
(``git``, ``/bin/sh``, ``sys.executable``; ``os.system`` runs ``/bin/sh``). What is kept here is
what a task's tests need from the machine besides their environment and workspace (the miner
records it on the task as ``meta.programs``). A bare name is looked up on the PATH the run had
(the sandbox shows the machine's folders at the same place); a program found nowhere is kept
by name (the tests needed it and this machine lacks it). Only programs the test process started
itself are seen, not those its children started: ``sh -c "git log"`` shows as ``sh``; nor a
program a forked child execs after closing its inherited descriptors (amoffat/sh's way).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

SYSTEM_PREFIXES = ("/", "/usr", "/usr/local")
"""Interpreter prefixes that hold the machine's programs too: not the environment's own."""


def outside_environment(names: Iterable[str], search_path: str, python: Path, base_prefix: Path,
                        inside: Iterable[Path]) -> tuple[str, ...]:
    """Sorted program names from ``names`` that come from neither the environment (``python``, the
    venv it sits in, its base interpreter's prefix unless that is the machine's own) nor ``inside``
    (the workspace, the run's scratch folder)."""
    venv = python.parent.parent
    roots = [venv, *inside] + ([base_prefix] if str(base_prefix) not in SYSTEM_PREFIXES else [])
    interpreters = {os.path.realpath(python)}
    kept = set()
    for name in names:
        if not name or ("/" in name and not os.path.isabs(name)):
            continue  # a path relative to a folder of the run: the project's own script
        found = name if os.path.isabs(name) else shutil.which(name, path=search_path)
        if found:
            real = os.path.realpath(found)
            if real in interpreters or any(_under(p, root) for p in (found, real) for root in roots):
                continue
        kept.add(os.path.basename(name))
    return tuple(sorted(kept))


def _under(path: str, root: Path) -> bool:
    return Path(path) == root or root in Path(path).parents
