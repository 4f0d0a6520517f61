"""The rooms of the house: every package and sub-package imports only downward, never in a circle.

docs/architecture.md draws the floors; this test reads every import (function-level ones too)
from the source and holds the code to that drawing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOORS = {
    # taskset: the library, depending on nothing of ours
    "taskset.errors": 0,
    "taskset.files": 1, "taskset.jobs": 1, "taskset.record": 1,
    "taskset.store": 2, "taskset.env": 2, "taskset.workspace": 2,
    "taskset.evaluation": 3,
    "taskset.interop": 4,
    "taskset": 5,  # taskset/__init__.py: the public names
    # harness: vocabulary, then providers, records, the loop, agent tiers, results, the report, a run
    "harness.vocabulary": 10,
    "harness.providers": 11, "harness.records": 12, "harness.loop": 13, "harness.agent": 14,
    "harness.results": 15, "harness.report": 16, "harness.run": 17, "harness": 18,
    "miner": 20,
    "calibrate": 30,
    "cli": 40,
}
"""A group may import groups on lower floors and itself; nothing on its own floor or above."""

HARNESS_VOCABULARY = {"harness.errors", "harness.modes", "harness.names", "harness.config"}
HARNESS_TOP = {"harness.run", "harness.tasksource", "harness.checks", "harness.workers"}


def group(module: str) -> str:
    """The room a dotted module name belongs to."""
    parts = module.split(".")
    if parts[0] in ("miner", "calibrate", "cli"):
        return parts[0]
    if module in HARNESS_VOCABULARY:
        return "harness.vocabulary"
    if module in HARNESS_TOP:
        return "harness.run"
    if len(parts) >= 2 and ".".join(parts[:2]) in FLOORS:
        return ".".join(parts[:2])
    return parts[0]


def modules() -> dict[str, Path]:
    found = {"cli": ROOT / "cli.py"}
    for package in ("taskset", "harness", "miner", "calibrate"):
        for path in (ROOT / package).rglob("*.py"):
            if "_pytest_plugin" in path.parts:
                continue  # runs inside the task's interpreter, imports nothing of ours
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, top_level_only: bool = False) -> set[str]:
    """Our modules that ``name`` imports (``from a import b`` counts ``a.b`` when that is a module)."""
    known = modules()
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in known}
    return {module for module in found if module in known and module != name}


def test_every_import_goes_down():
    """A module imports only its own room or rooms on lower floors (taskset depends on nothing of ours)."""
    upward = []
    for name, path in modules().items():
        mine = group(name)
        for target in imports(name, path):
            theirs = group(target)
            if theirs == mine or theirs == "taskset":  # the public names, `from taskset import Task`
                if theirs == "taskset" and mine.startswith("taskset."):
                    upward.append(f"{name} -> {target}")
                continue
            if FLOORS[theirs] >= FLOORS[mine]:
                upward.append(f"{name} ({mine}) -> {target} ({theirs})")
    assert upward == []


def test_no_module_imports_in_a_circle():
    """No cycle among modules through their top-level imports (a cycle is a room with two doors to itself)."""
    graph = {name: imports(name, path, top_level_only=True) for name, path in modules().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if target.startswith(node + "."):
                continue  # a package's __init__ importing its own modules is how a package is made
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]) if target in trail else target)
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_every_sub_package_says_what_it_owns():
    """Each sub-package's docstring names what it owns and what it may import."""
    for package in ("taskset", "harness"):
        for init in (ROOT / package).glob("*/__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            assert "Owns" in doc and "import" in doc.lower(), init


def test_no_module_is_a_god_module():
    """No module of ours passes ~400 lines: split along its seams before it does."""
    big = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 420}
    big.pop("cli", None)  # click wiring for four commands: long by nature, no logic (tests/test_cli.py)
    assert big == {}
