"""Test environments: a cached virtualenv per dependency fingerprint, built with uv.

(Being built: the Environment value below is the contract the runner and evaluator use.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taskset.record import EnvironmentSpec


@dataclass(frozen=True)
class Environment:
    """A ready virtualenv: run tests with ``python``, never with the host interpreter."""

    path: Path
    """The venv directory (inside the cache)."""
    python: Path
    """The venv's interpreter."""
    spec: EnvironmentSpec
    """What was installed: python version, install steps, resolution date, frozen requirements."""
