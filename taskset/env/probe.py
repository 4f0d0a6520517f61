"""What a test environment's interpreter says about itself, asked once per process.

The runner needs to know where the interpreter's standard library lives (to show it inside the
sandbox), which pytest it will run (which configuration files that pytest reads), and which
top-level module names the environment and the standard library own (a candidate may not
create a module that shadows one). Asking is also the first check that a cached environment
still works: an interpreter that does not start, or a pytest that does not import, is an
``InfrastructureError`` (a damaged cache), never a verdict on a candidate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from taskset.errors import InfraCause, InfrastructureError

PROBE_TIMEOUT = 120.0

# Runs on every interpreter an environment may use (3.6 on): standard library plus pytest.
_SCRIPT = r"""
import json, os, site, sys
names = set()
dirs = []
try:
    dirs = list(site.getsitepackages())
except AttributeError:
    pass
for folder in dirs:
    try:
        entries = os.listdir(folder)
    except OSError:
        continue
    for entry in entries:
        if entry.endswith((".dist-info", ".egg-info", ".pth")) or entry == "__pycache__":
            continue
        names.add(entry.split(".", 1)[0])
stdlib = sorted(getattr(sys, "stdlib_module_names", ()))
out = {"version": "%d.%d.%d" % sys.version_info[:3], "base_prefix": sys.base_prefix, "prefix": sys.prefix,
       "site": dirs, "top_level": sorted(names), "stdlib": stdlib, "executable": os.path.realpath(sys.executable)}
try:
    import pytest
    out["pytest"] = pytest.__version__
except Exception as exc:
    out["pytest_error"] = "%s: %s" % (type(exc).__name__, exc)
sys.stdout.write(json.dumps(out))
"""


@dataclass(frozen=True)
class EnvFacts:
    """An environment's interpreter, as it describes itself."""

    version: str
    """The interpreter's full version (``3.11.7``)."""
    base_prefix: Path
    """Where its standard library lives (the base interpreter of the venv)."""
    prefix: Path
    """The venv itself."""
    executable: Path
    """The real interpreter binary (symlinks followed)."""
    pytest_version: tuple[int, ...]
    top_level: frozenset[str]
    """Top-level module names installed in the environment's site-packages."""
    stdlib: frozenset[str]
    """Top-level module names of the standard library."""


_cache: dict[tuple, EnvFacts] = {}


def probe(python: str | Path) -> EnvFacts:
    """The facts of the interpreter at ``python``; InfrastructureError when it does not run or lacks pytest."""
    python = Path(python)
    key = _stamp(python)
    if key in _cache:
        return _cache[key]
    facts = _ask(python)
    _cache[key] = facts
    return facts


def forget(python: str | Path) -> None:
    """Drop the remembered facts of ``python``: the next probe asks the interpreter again."""
    for key in [k for k in _cache if k[0] == str(Path(python))]:
        del _cache[key]


def _stamp(python: Path) -> tuple:
    """Changes when the interpreter or its venv is replaced (then the facts are asked again)."""
    parts: list = [str(python)]
    for path in (python, python.parent.parent / "pyvenv.cfg"):
        try:
            info = os.stat(path)
            parts += [info.st_ino, info.st_mtime_ns, info.st_size]
        except OSError:
            parts.append(None)
    return tuple(parts)


def _ask(python: Path) -> EnvFacts:
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    try:
        done = subprocess.run([str(python), "-I", "-B", "-c", _SCRIPT], capture_output=True, cwd="/",
                              env=environ, stdin=subprocess.DEVNULL, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"{python}: the interpreter did not answer in {PROBE_TIMEOUT:.0f} s",
                                  cause=InfraCause.CACHE) from None
    except OSError as exc:
        raise InfrastructureError(f"{python}: the environment's interpreter cannot start ({exc.strerror or exc})",
                                  cause=InfraCause.CACHE) from None
    text = done.stdout.decode("utf-8", "replace")
    try:
        data = json.loads(text) if done.returncode == 0 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        detail = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise InfrastructureError(f"{python}: the environment's interpreter does not run ({detail})",
                                  cause=InfraCause.CACHE, output=done.stderr.decode("utf-8", "replace"))
    if "pytest" not in data:
        raise InfrastructureError(f"{python}: pytest does not import in the environment ({data.get('pytest_error')})",
                                  cause=InfraCause.CACHE)
    stdlib = frozenset(data.get("stdlib") or ()) or frozenset(sys.stdlib_module_names)
    return EnvFacts(
        version=str(data["version"]),
        base_prefix=Path(data["base_prefix"]),
        prefix=Path(data["prefix"]),
        executable=Path(data["executable"]),
        pytest_version=_version_tuple(str(data["pytest"])),
        top_level=frozenset(data.get("top_level") or ()),
        stdlib=stdlib,
    )


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return Version(text).release
    except InvalidVersion:
        return (0,)
