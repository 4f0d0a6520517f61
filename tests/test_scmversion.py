"""A version from git metadata (issue 23): which trees take it from tags, and which variables hand a
build the tag's version. Pure, no venv (the end-to-end case is in tests/test_miner_era.py)."""

from __future__ import annotations

from taskset.env import scmversion


def test_trees_versioned_from_git_metadata_are_recognised(tmp_path):
    """setuptools-scm (pyproject table, setup.py keyword), hatch-vcs, pbr; a literal version is not."""
    cases = {
        "scm": ("pyproject.toml", '[build-system]\nrequires = ["setuptools", "setuptools_scm[toml]>=3.4"]\n'),
        "setup": ("setup.py", "from setuptools import setup\nsetup(use_scm_version=True)\n"),
        "hatch": ("pyproject.toml", '[tool.hatch.version]\nsource = "vcs"\n'),
        "pbr": ("setup.py", "import setuptools\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n"),
        "plain": ("pyproject.toml", '[project]\nname = "calc"\nversion = "1.0"\n'),
    }
    for folder, (name, text) in cases.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(text)
    found = {folder: scmversion.git_versioned(tmp_path / folder) for folder in cases}
    assert found == {"scm": True, "setup": True, "hatch": True, "pbr": True, "plain": False}


def test_only_variables_naming_the_project_reach_an_install_that_builds_others():
    """A generic SETUPTOOLS_SCM_PRETEND_VERSION would version every setuptools-scm sdist built beside
    the project (pytest-black claimed zipp's 3.1.0 and the resolution failed); the generic ones go
    only to a build of the project alone."""
    shared = scmversion.pretend_variables("jaraco.functools", "3.1.0")
    assert shared["SETUPTOOLS_SCM_PRETEND_VERSION_FOR_JARACO_FUNCTOOLS"] == "3.1.0"
    assert shared["POETRY_DYNAMIC_VERSIONING_OVERRIDE"] == "jaraco.functools=3.1.0"
    generic = ("SETUPTOOLS_SCM_PRETEND_VERSION", "PBR_VERSION", "PDM_BUILD_SCM_VERSION", "PDM_PEP517_SCM_VERSION",
               "POETRY_DYNAMIC_VERSIONING_BYPASS", "UV_DYNAMIC_VERSIONING_BYPASS")
    assert not set(generic) & set(shared)
    alone = scmversion.pretend_variables("zipp", "3.1.0", alone=True)
    assert {alone[name] for name in generic} == {"3.1.0"}
    assert scmversion.pretend_variables("zipp", "") == {} == scmversion.pretend_variables("", "1.0")
