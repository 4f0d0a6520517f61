"""The public surface: `import taskset` is cheap and its `__all__` is literal, sorted and complete."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import taskset

ROOT = Path(__file__).resolve().parents[1]
# Modules whose public classes and functions users reach through `import taskset`.
# Building blocks of ensure_environment that its own tests reach into; not part of the API.
INTERNAL = {"taskset.env.environment.make_plan", "taskset.env.environment.fingerprint"}
PUBLIC_MODULES = ("errors", "record", "store", "interop.swebench", "evaluation.verdict", "workspace.workspace",
                  "env.environment", "workspace.testfiles")


def test_all_is_a_sorted_literal():
    """__all__ is written out (not computed) and sorted, so a diff shows what the API gained."""
    tree = ast.parse((ROOT / "taskset" / "__init__.py").read_text())
    (assign,) = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"]
    names = [elt.value for elt in assign.value.elts]
    assert names == sorted(names)
    assert all(hasattr(taskset, name) for name in names)


def test_all_is_complete():
    """Every public class and function of the public modules is exported."""
    import importlib

    missing = []
    for name in PUBLIC_MODULES:
        module = importlib.import_module(f"taskset.{name}")
        for attr, value in vars(module).items():
            if attr.startswith("_") or not (inspect.isclass(value) or inspect.isfunction(value)):
                continue
            qualified = f"taskset.{name}.{attr}"
            if value.__module__ == module.__name__ and attr not in taskset.__all__ and qualified not in INTERNAL:
                missing.append(qualified)
    assert missing == [], f"not exported from taskset: {missing}"


def test_import_is_side_effect_free(tmp_path):
    """Importing taskset creates no cache directory and starts no subprocess."""
    env = {**os.environ, "LOOPCTL_CACHE": str(tmp_path / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    code = "import subprocess; subprocess.Popen = None; import taskset; print(len(taskset.__all__))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "xdg").exists()


HEAVY = ("uv", "filelock", "taskset.env.environment", "taskset.env.install", "taskset.env.deps", "taskset.env.depfiles",
         "taskset.env.pythons", "taskset.files.dirlock", "pydriller", "git", "rich", "jinja2", "openai", "click")
"""What `import taskset` must not load: the environment builder and its tools, and other packages' stacks."""


def test_import_loads_no_builder_and_no_heavy_dependency():
    """`import taskset` is cheap for real: the modules it loads are measured, not promised in a comment."""
    code = "import sys; import taskset; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert not {name for name in loaded if name.split(".")[0] in HEAVY or name in HEAVY}
    assert "taskset.record" in loaded and "taskset.evaluation.verdict" in loaded


def test_lazy_names_resolve_to_their_modules():
    """Every lazily loaded name is in __all__, reads as its module's object, and is typed for checkers."""
    import importlib

    assert set(taskset._HOME) <= set(taskset.__all__)
    for name, module in taskset._HOME.items():
        assert getattr(taskset, name) is getattr(importlib.import_module(module), name)
    tree = ast.parse((ROOT / "taskset" / "__init__.py").read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]
    typed = {node.module: tuple(alias.name for alias in node.names) for node in block.body}
    assert typed == taskset._LAZY


def test_unknown_names_are_attribute_errors():
    """A name taskset does not have is an AttributeError, as on any module."""
    import pytest

    with pytest.raises(AttributeError, match="no_such_name"):
        taskset.no_such_name  # noqa: B018


def test_calibrate_all_is_a_sorted_complete_literal():
    """calibrate's public API is literal, sorted and complete, like taskset's."""
    import calibrate

    tree = ast.parse((ROOT / "calibrate" / "__init__.py").read_text())
    (assign,) = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"]
    names = [elt.value for elt in assign.value.elts]
    assert names == sorted(names) and all(hasattr(calibrate, name) for name in names)
    imported = {alias.asname or alias.name for n in tree.body if isinstance(n, ast.ImportFrom) for alias in n.names}
    assert imported == set(names)
