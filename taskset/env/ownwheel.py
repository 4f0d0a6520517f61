"""The project's own wheel, built alone before an install that builds other distributions too.

A tree versioned from git metadata gets its version at the base commit through the pretend
variables (``taskset.env.scmversion``), but only the ones naming the distribution may reach an
install that also builds dependencies from sdist. hatch-vcs (every release) calls setuptools-scm
without the distribution's name, so it reads only the generic ``SETUPTOOLS_SCM_PRETEND_VERSION``;
setuptools-scm before 6.1 and pdm-backend read only their generic ones too. Built with the
generic variables it ignored, attrs became ``0.1.dev1`` and the resolver backtracked hypothesis
(``attrs>=22.2``) to a 2017 release that cannot import on 3.12. So the project is built first, on
its own (nothing else is built in that command: the generic variables reach it alone), into a
wheel, and the install names that wheel: its metadata is static, the version the tag's.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from taskset.env import scmversion
from taskset.errors import EnvironmentBuildError

if TYPE_CHECKING:
    from taskset.env.install import Installer, Plan

FOLDER = ".loopctl/own-wheel"
"""Where in the venv the wheel is built (removed once the install is done)."""
RUNGS = ("normal", "no-build-isolation", "capped-backend")
"""The rungs whose project build uv does with settings ``uv build`` has too (pip's and the
source tree's do not build the project this way)."""


def discard(venv: Path) -> None:
    """Remove the project's wheel from the environment once installed: it is the tree's code, and an
    environment holds none (``taskset.env.project``)."""
    shutil.rmtree(Path(venv) / FOLDER, ignore_errors=True)


def prebuilt(installer: Installer, plan: Plan, source: Path, rung: str, settings: list[str]) -> Path | None:
    """The wheel of the project at ``source`` built alone with its version at the base commit, with
    ``settings`` (the install's resolution date and ``rung``'s build options, as the install passes
    them to uv); None when the plan has no version to give (or no name to give it under) or the
    wheel does not build (then the install builds the tree itself, as before, and reports the
    failure in its own words)."""
    if not (plan.project and plan.project_name and plan.version and rung in RUNGS):
        return None
    folder = installer.venv / FOLDER
    built = sorted(folder.glob("*.whl"))
    if built:  # a relaxation retries the install in the same venv: the project did not change
        return built[0]
    args = ["build", "--wheel", "--out-dir", str(folder), "--python", str(installer.python), *settings]
    alone = scmversion.pretend_variables(plan.project_name, plan.version, alone=True)
    try:
        installer.run(args + [str(source)], f"{rung}:own-wheel", build_env=alone)
    except EnvironmentBuildError:
        return None
    built = sorted(folder.glob("*.whl"))
    return built[0] if built else None
