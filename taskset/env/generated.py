"""Modules a project's build writes that its source tree lacks (``_version.py`` and the like)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from taskset.env.requirements import normalize

GENERATED_LIMIT = 64 * 1024
"""Bytes of one generated module kept (version files are a few lines)."""


def generated_modules(venv: Path, project_name: str, source: Path) -> dict[str, str]:
    """Modules the project's build wrote that its source tree lacks (``_version.py`` from hatch-vcs or
    setuptools-scm): repository-relative path -> content, read from the installed copy's RECORD.

    Tests import the workspace's code first; without these files ``import pkg`` fails there.
    """
    if not project_name:
        return {}
    tracked = _tracked(source)
    wanted = normalize(project_name)
    for info in sorted(venv.glob("lib/python*/site-packages/*.dist-info")):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if normalize(name) != wanted or not (info / "RECORD").is_file():
            continue
        found: dict[str, str] = {}
        site = info.parent
        for row in (info / "RECORD").read_text(encoding="utf-8", errors="replace").splitlines():
            rel = row.split(",", 1)[0]
            if not rel.endswith(".py") or rel.startswith("..") or "/" not in rel or ".dist-info/" in rel:
                continue
            package, name = rel.rsplit("/", 1)
            for base in (source / "src", source):
                if (base / package).is_dir():
                    target = (base / rel).relative_to(source).as_posix()
                    # a build hook may have written it into the tree just now: what git tracks decides
                    absent = target not in tracked if tracked is not None else not (base / rel).exists()
                    if absent and (site / rel).is_file() and (site / rel).stat().st_size <= GENERATED_LIMIT:
                        found[(base / rel).relative_to(source).as_posix()] = (site / rel).read_text(encoding="utf-8",
                                                                                                  errors="replace")
                    break
        return found
    return {}


def _tracked(source: Path) -> set[str] | None:
    """The files git tracks in ``source`` (None when it is not a work tree)."""
    done = subprocess.run(["git", "-C", str(source), "ls-files", "-z"], capture_output=True)
    if done.returncode != 0:
        return None
    return set(done.stdout.decode("utf-8", errors="surrogateescape").split("\0")) - {""}
