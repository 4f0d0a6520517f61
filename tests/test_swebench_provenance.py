"""Honest metadata: the repository's own version at a commit, and a public URL that is never a local path."""

from __future__ import annotations

import pytest

from taskset.workspace.provenance import public_url, release_version


def test_version_comes_from_the_commits_packaging_metadata(sample_repo, sample_commits):
    """calclib's pyproject says 0.1.0 until the release commit bumps it to 0.2.0."""
    shas = list(sample_commits.values())
    assert release_version(sample_repo / ".git", shas[0]) == "0.1.0"
    assert release_version(sample_repo / ".git", shas[-1]) == "0.2.0"


@pytest.mark.parametrize(
    "files,expected",
    [
        ({"setup.cfg": "[metadata]\nname = x\nversion = 3.1.4\n"}, "3.1.4"),
        ({"setup.py": "from setuptools import setup\nsetup(name='x', version='2.0.1')\n"}, "2.0.1"),
        ({"pyproject.toml": '[tool.poetry]\nname = "x"\nversion = "1.2"\n'}, "1.2"),
        ({"pyproject.toml": '[project]\nname = "x"\ndynamic = ["version"]\n',
          "src/x/__init__.py": '__version__ = "4.5.6"\n'},
         "4.5.6"),
    ],
)
def test_each_kind_of_packaging_metadata_is_read(make_repo, files, expected):
    """setup.cfg, a literal setup.py, poetry, and a package's __version__ behind a dynamic version."""
    repo = make_repo()
    sha = repo.commit("project", {"README": "x\n", **files})
    assert release_version(repo.path / ".git", sha) == expected


def test_without_metadata_the_nearest_tag_is_the_version(make_repo):
    """A dynamic version (setuptools-scm) falls back to the nearest tag at or before the commit."""
    repo = make_repo()
    repo.commit("one", {"pyproject.toml": '[project]\nname = "x"\ndynamic = ["version"]\n'})
    repo.git("tag", "v1.7.0")
    later = repo.commit("two", {"x.py": "A = 1\n"})
    repo.commit("three", {"x.py": "A = 2\n"})
    repo.git("tag", "v1.8.0")
    assert release_version(repo.path / ".git", later) == "1.7.0"


def test_no_version_anywhere_is_empty_not_python(make_repo):
    """Nothing to read: the version is unknown (""), never filled with the interpreter's."""
    repo = make_repo()
    sha = repo.commit("one", {"x.py": "A = 1\n"})
    assert release_version(repo.path / ".git", sha) == ""


@pytest.mark.parametrize(
    "location,expected",
    [
        ("https://github.com/encode/httpx", "https://github.com/encode/httpx"),
        ("https://user:token@github.com/encode/httpx.git", "https://github.com/encode/httpx.git"),
        ("git@github.com:encode/httpx.git", "https://github.com/encode/httpx.git"),
        ("ssh://git@gitlab.com/group/proj.git", "https://gitlab.com/group/proj.git"),
        ("file:///srv/git/proj.git", ""),
    ],
)
def test_public_url_of_a_url(location, expected):
    """The clone URL, without credentials; ssh remotes as https; file:// is private to one machine."""
    assert public_url(location) == expected


def test_a_local_clone_is_known_by_its_origin_and_a_bare_path_by_nothing(make_repo, sample_bundle):
    """A local path is never a public URL: its origin remote is used, else nothing."""
    repo = make_repo()
    repo.commit("one", {"x.py": "A = 1\n"})
    assert public_url(str(repo.path)) == ""
    repo.git("remote", "add", "origin", "git@github.com:octo/lib.git")
    assert public_url(str(repo.path)) == "https://github.com/octo/lib.git"
    assert public_url(str(sample_bundle)) == ""


def test_mined_tasks_record_version_and_no_local_path_as_repo_url(mined_sample, sample_repo):
    """The miner records the project's version at base_commit and keeps its own clone path apart."""
    import taskset

    for task in taskset.load(mined_sample[0]):
        assert task.version == "0.1.0"
        assert task.repo_url == ""  # the sample has no public home
        assert task.repo_source == str(sample_repo)
        assert task.environment.python.startswith("3.")
