"""Pure: a project versioned from git metadata, and the variables that give its build a version.

A workspace holds no history and no tags, so setuptools-scm (and hatch-vcs, flit_scm, which use
it) versions the project ``0.1.dev1`` -- or fails -- and the resolver then backtracks whatever
requires the project at a real version (a plugin, a test tool pinning ``project>=2``) years back.
The miner reads the version from the mined repository's tags at the base commit
(``taskset.workspace.provenance.tag_version``) and the builds get it through the variables these
tools read instead of asking git. Read statically: nothing of the tree runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from taskset.env.cimatrix import read_head
from taskset.env.requirements import normalize

_GIT_VERSIONED = re.compile(
    r"setuptools[_-]scm|hatch[_-]vcs|use_scm_version|flit[_-]scm|poetry[_-]dynamic[_-]versioning"
    r"|setuptools[_-]git[_-]versioning|\bpbr\s*=\s*True|\[tool\.pdm\.version\][^\[]*source\s*=\s*[\"']scm[\"']"
    r"|\[tool\.hatch\.version\][^\[]*source\s*=\s*[\"']vcs[\"']",
    re.IGNORECASE,
)
BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
"""Where a tree says how it is versioned."""
READ_LIMIT = 512 * 1024
"""Bytes of one build file read."""


def git_versioned(source: Path) -> bool:
    """Whether the tree at ``source`` takes its version from git metadata (tags) when built."""
    return any(_GIT_VERSIONED.search(read_head(Path(source) / name, READ_LIMIT)) for name in BUILD_FILES)


def pretend_variables(name: str, version: str) -> dict[str, str]:
    """The environment variables that hand ``version`` to the build of the project ``name`` instead
    of git: setuptools-scm's (generic, and per distribution from 6.0 on; hatch-vcs and flit_scm
    read them too), pbr's, pdm-backend's and poetry-dynamic-versioning's. {} without a version."""
    if not version:
        return {}
    found = {
        "SETUPTOOLS_SCM_PRETEND_VERSION": version,
        "PBR_VERSION": version,
        "PDM_BUILD_SCM_VERSION": version,
        "POETRY_DYNAMIC_VERSIONING_BYPASS": version,
    }
    if name:
        # setuptools-scm's own spelling: the normalized name, upper case, "-" as "_"
        found[f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{normalize(name).replace('-', '_').upper()}"] = version
    return found
