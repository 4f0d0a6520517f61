"""Test dependencies no file declares: which third-party module the tests failed to import.

A module is missing when the tests show it on both sides of the fix: ``No module named X`` in a
test's failure or collection error, in a conftest.py that stopped pytest before it collected
anything (exit 4), or a ``NameError`` for a name that a test module or conftest binds only by a guarded import
(``try: import X / except ImportError: pass``). Not the project's own modules, not the standard
library, not what the fix adds. ``requirements_for`` names what to install for it: the project's
own line for that distribution first, then the bare distribution name (a dated pin from an old
requirements file may not install on the interpreter chosen). Pure functions over the runs'
results and the tree's files.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from miner.judge import FAILING, IMPORT_ERRORS, buggy_result
from miner.split import added_files
from taskset.env import deps
from taskset.env.requirements import normalize, requirement_name
from taskset.evaluation.junit import TestResult

LIMIT = 4
"""Modules installed by name per candidate at most: each install is a new environment, and a
suite that misses more than this is not one that a few lost test dependencies explain."""

CONFTESTS = 50
"""conftest.py files searched at most for the guarded import behind a NameError that stopped pytest."""

_MISSING_MODULE = re.compile(r"No module named '?([A-Za-z_][\w.]*)'?")
_UNDEFINED = re.compile(r"NameError: name '([A-Za-z_]\w*)' is not defined")
_GUARDS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def missing_module(output: str, buggy: Mapping[str, TestResult], gold: Mapping[str, TestResult], patch: str,
                   root: Path) -> str:
    """The third-party module the tests missed on both sides ("" when none).

    ``output`` is the text of a pytest that could not run at all (else ""); ``buggy`` and ``gold``
    are the module runs' results; ``root`` holds the fix's tree.
    """
    if output:
        found = _MISSING_MODULE.search(output)
        # a conftest's guarded import then used stops pytest too, with the NameError
        module = found.group(1) if found else next(
            (m for c in sorted(root.rglob("conftest.py"))[:CONFTESTS] if (m := _guarded_module(output, c))), "")
        return module if module and _third_party(module, root, patch) else ""
    for key, result in gold.items():
        if result.outcome not in FAILING:
            continue
        before = buggy_result(buggy, key)
        if before is None or before.outcome not in FAILING:
            continue
        module = ""
        if result.exception in IMPORT_ERRORS:
            found = _MISSING_MODULE.search(result.message) or _MISSING_MODULE.search(before.message)
            module = found.group(1) if found else ""
        elif result.exception == "NameError" and before.exception == "NameError":
            module = _guarded_module(result.message, root / key.split("::", 1)[0])
        if module and _third_party(module, root, patch):
            return module
    return ""


def requirements_for(root: Path, module: str) -> tuple[str, ...]:
    """What to try installing for ``module``, in order: the line the project names for its
    distribution (pinned as the project had it), then the distribution's bare name."""
    line = deps.distribution_for(root, module)
    bare = requirement_name(line) or line
    return (line,) if normalize(bare) == normalize(line) else (line, bare)


def _guarded_module(message: str, test_file: Path) -> str:
    """The module a ``NameError``'s name was to come from, when ``test_file`` binds that name only
    by an import under ``try`` whose handler swallows the ImportError ("" otherwise)."""
    found = _UNDEFINED.search(message)
    if not found or not test_file.is_file():
        return ""
    try:
        tree = ast.parse(test_file.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return ""
    name = found.group(1)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try) or not any(_catches_import_error(h) for h in node.handlers):
            continue
        for statement in node.body:
            bound = _imported_names(statement)
            if name in bound:
                return bound[name]
    return ""


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return handler.type is None or any(isinstance(k, ast.Name) and k.id in _GUARDS for k in kinds)


def _imported_names(statement: ast.stmt) -> dict[str, str]:
    """Name bound -> the module it comes from, for one import statement (absolute imports only)."""
    if isinstance(statement, ast.Import):
        return {(a.asname or a.name.split(".", 1)[0]): (a.name if a.asname else a.name.split(".", 1)[0])
                for a in statement.names}
    if isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
        return {(a.asname or a.name): statement.module for a in statement.names if a.name != "*"}
    return {}


def _third_party(module: str, root: Path, patch: str) -> bool:
    top = module.split(".", 1)[0]
    if top in sys.stdlib_module_names or top in ("tests", "test", "testing", "conftest"):
        return False
    for base in (root, root / "src", root / "lib"):
        if (base / top).exists() or (base / f"{top}.py").exists():
            return False
    return not any(path.split("/")[0] == top or path.startswith(f"src/{top}") for path in added_files(patch))
