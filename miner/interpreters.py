"""Which interpreter a candidate is validated on: ``--python`` as given, or for ``auto`` the one of
its commit's era (``taskset.env.pythons.choose``), then the older ones its needs admit when no
environment can be built on it."""

from __future__ import annotations

import functools
from pathlib import Path

from taskset.env import deps, pythons
from taskset.errors import EnvironmentBuildError


class NoInterpreter(Exception):
    """No installed interpreter fits the commit (internal: becomes a ``no-interpreter`` rejection)."""


def interpreters(python: str, tree: Path, date: str) -> list[str | Path]:
    """``python`` as given, or for ``auto`` the installed interpreter that fits the commit at ``tree``
    followed by the older ones its needs admit (newest first): the ones to build on if it cannot."""
    if python != pythons.AUTO:
        return [python]
    choice = pythons.choose(deps.python_needs(tree), date, _installed())
    if choice.interpreter is None:
        have = ", ".join(i.minor for i in _installed()) or "none"
        raise NoInterpreter(f"needs Python {choice.needed or '?'} ({choice.reason}); installed: {have}")
    return [choice.interpreter.path, *(older.path for older in choice.older)]


def environment_on(candidates: list[str | Path], tree: Path, date: str, version: str):
    """The environment for ``tree`` on the first of ``candidates`` it can be built on: (that
    interpreter, the environment, a ``python-fallback:`` remedy naming the versions passed over or ()).

    A build failure (not a test failure) on one interpreter is often its era's: a setup.py that
    refuses a newer Python, a C extension of the time. An environment that only the ``source-tree``
    rung could build (the project itself did not build) is kept in case no older interpreter
    builds the project; else the last one's failure is the rejection.
    """
    from taskset.env.environment import ensure_environment

    failed: list[str] = []
    kept = None
    for python in candidates:
        try:
            env = ensure_environment(tree, python=python, resolution_date=date, version=version)
        except EnvironmentBuildError:
            if python == candidates[-1] and kept is None:
                raise
            failed.append(pythons.interpreter(python).version)
            continue
        passed_over = (f"python-fallback:{','.join(failed)}",) if failed else ()
        if env.spec.remedy != "source-tree":
            return python, env, passed_over
        kept = kept or (python, env, passed_over)
        failed.append(env.spec.python)
    assert kept is not None  # the loop returns or raises unless a source-tree environment was kept
    return kept


@functools.cache
def _installed() -> list:
    return pythons.available()
