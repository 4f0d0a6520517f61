"""Reading ``setup.py`` without running it: the literal keyword arguments of its ``setup(...)`` call.

Module-level names, ``NAME['key'] = ...`` additions to dict literals and list ``+`` are resolved;
anything computed at run time is left out, since it is unknowable without executing setup.py.
"""

from __future__ import annotations

import ast
from typing import Any


def setup_kwargs(tree: ast.Module) -> dict[str, Any]:
    """The literal keyword arguments of the first ``setup(...)`` call in ``tree``."""
    assigned: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and (
            item := _item_of_dict(node.targets[0], assigned)
        ):
            # EXTRAS['dev'] = EXTRAS['tests'] + [...]: the dict literal gains that key
            # (evaluated now, against the dict as it was: the value may read the dict itself)
            name, table, key = item
            try:
                value = ast.Constant(_literal(node.value, assigned, 0))
            except (ValueError, TypeError, KeyError, RecursionError):
                continue
            assigned[name] = ast.Dict(keys=[*table.keys, key], values=[*table.values, value])
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "setup":
            found = {}
            for keyword in call.keywords:
                if keyword.arg is None:  # setup(**options): not followed
                    continue
                try:
                    found[keyword.arg] = _literal(keyword.value, assigned, 0)
                except (ValueError, TypeError, KeyError, RecursionError):
                    continue  # computed at run time: unknowable without executing setup.py
            return found
    return {}


def requirement_files(tree: ast.Module) -> list[str]:
    """The ``.txt`` files setup.py names, when its ``install_requires`` is computed rather than
    literal ([] otherwise): ``open('requirements.txt').read().splitlines()`` and helpers like it
    read the project's dependencies from one of them."""
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "setup":
            named = any(k.arg == "install_requires" for k in call.keywords)
            if not named or "install_requires" in setup_kwargs(tree):
                return []
            return list(dict.fromkeys(node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                                      and isinstance(node.value, str) and node.value.endswith(".txt")))
    return []


def _item_of_dict(target: ast.expr, assigned: dict[str, ast.expr]) -> tuple[str, ast.Dict, ast.Constant] | None:
    """``NAME['key']`` where NAME is a module-level dict literal: (NAME, the literal, 'key'), else None."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        table = assigned.get(target.value.id)
        if isinstance(table, ast.Dict) and isinstance(target.slice, ast.Constant):
            return target.value.id, table, target.slice
    return None


def _literal(node: ast.expr, names: dict[str, ast.expr], depth: int) -> Any:
    """A literal, with module-level names and list ``+`` resolved (``TESTS + ["x"]``)."""
    if depth > 20:
        raise ValueError("too deep")
    if isinstance(node, ast.Name):
        return _literal(names[node.id], names, depth + 1)
    if isinstance(node, ast.Subscript):
        return _literal(node.value, names, depth + 1)[_literal(node.slice, names, depth + 1)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, names, depth + 1) + _literal(node.right, names, depth + 1)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(item, names, depth + 1) for item in node.elts]
    if isinstance(node, ast.Dict):
        keys = [k for k in node.keys if k is not None]
        if len(keys) != len(node.keys):  # {**other}
            raise ValueError("dict unpacking")
        return {_literal(k, names, depth + 1): _literal(v, names, depth + 1)
                for k, v in zip(keys, node.values, strict=True)}
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" and not node.args:
        return {kw.arg: _literal(kw.value, names, depth + 1) for kw in node.keywords if kw.arg}
    return ast.literal_eval(node)
