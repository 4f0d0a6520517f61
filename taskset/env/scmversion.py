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
    r"|uv[_-]dynamic[_-]versioning|setuptools[_-]git[_-]versioning|\bpbr\s*=\s*True|\[tool\.pdm\.version\][^\[]*source\s*=\s*[\"']scm[\"']"
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


def pretend_variables(name: str, version: str, alone: bool = False) -> dict[str, str]:
    """The environment variables that hand ``version`` to the build of the project ``name`` instead
    of git; {} without a version or a name.

    Only variables naming the distribution, in an install that builds others too: a generic
    ``SETUPTOOLS_SCM_PRETEND_VERSION`` reaches every sdist built beside the project (pytest-black
    then claims the project's version, and the resolution fails on its inconsistent metadata).
    Those are setuptools-scm's ``_FOR_<NAME>`` (6.1 on, and only when the caller passes the
    distribution's name: setuptools' own integration does; hatch-vcs and flit_scm never do) and
    poetry-dynamic-versioning's ``OVERRIDE``. ``alone`` (the project is the only thing built: its
    own wheel, ``taskset.env.ownwheel``, and the per-tree build) adds the generic ones, which
    every release reads: setuptools-scm's (so hatch-vcs, flit_scm and setuptools-scm-git-archive),
    pbr's, pdm-backend's and pdm-pep517's, poetry- and uv-dynamic-versioning's ``BYPASS``.
    """
    if not version or not name:
        return {}
    found = {"POETRY_DYNAMIC_VERSIONING_OVERRIDE": f"{name}={version}"}
    # setuptools-scm's spellings: the PEP 503 name with "_" (7 on), the name as written (6.x)
    for spelling in (normalize(name).replace("-", "_"), name.replace("-", "_")):
        found[f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{spelling.upper()}"] = version
    if alone:
        found.update({"SETUPTOOLS_SCM_PRETEND_VERSION": version, "PBR_VERSION": version,
                      "PDM_BUILD_SCM_VERSION": version, "PDM_PEP517_SCM_VERSION": version,
                      "POETRY_DYNAMIC_VERSIONING_BYPASS": version, "UV_DYNAMIC_VERSIONING_BYPASS": version})
    return found
