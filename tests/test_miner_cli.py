"""Bad input to ``mine``: one clear line, exit code 2, nothing written in the output directory."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import cli


def _mine(*args: str):
    return CliRunner().invoke(cli, ["mine", *args])


def _assert_refused(result, out, needle: str):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], result.output
    assert not out.exists()


@pytest.fixture
def tiny(make_repo):
    repo = make_repo()
    repo.commit("Initial", {"pkg/calc.py": "X = 1\n", "tests/test_calc.py": "def test_x():\n    pass\n"})
    return repo


def test_path_that_is_not_a_repository(tmp_path):
    """A plain directory is refused with one line, exit 2, no output directory."""
    (tmp_path / "plain").mkdir()
    _assert_refused(_mine("--repo", str(tmp_path / "plain"), "--out", str(tmp_path / "ts")), tmp_path / "ts",
                    "not a git repository")


def test_url_that_cannot_be_cloned(tmp_path):
    """A URL git cannot clone is refused with one line, exit 2."""
    url = "file://" + str(tmp_path / "nowhere.git")
    _assert_refused(_mine("--repo", url, "--out", str(tmp_path / "ts")), tmp_path / "ts", "cannot clone")


def test_empty_repository(make_repo, tmp_path):
    """An empty repository is refused."""
    repo = make_repo("empty")
    _assert_refused(_mine("--repo", str(repo.path), "--out", str(tmp_path / "ts")), tmp_path / "ts", "empty")


def test_repository_with_no_tests(make_repo, tmp_path):
    """A repository without test files is refused before anything is written."""
    repo = make_repo("notests")
    repo.commit("Initial", {"pkg/calc.py": "X = 1\n"})
    _assert_refused(_mine("--repo", str(repo.path), "--out", str(tmp_path / "ts")), tmp_path / "ts", "no test files")


def test_unknown_branch(tiny, tmp_path):
    """An unknown --branch is refused."""
    _assert_refused(_mine("--repo", str(tiny.path), "--branch", "nope", "--out", str(tmp_path / "ts")),
                    tmp_path / "ts", "--branch 'nope'")


def test_unknown_revision(tiny, tmp_path):
    """An unknown --commit is refused."""
    _assert_refused(_mine("--repo", str(tiny.path), "--commit", "deadbeef", "--out", str(tmp_path / "ts")),
                    tmp_path / "ts", "--commit 'deadbeef'")


def test_bundle_is_accepted(tiny, tmp_path):
    """A git bundle is a repository too: mined (here: only the root commit, not a candidate)."""
    bundle = tmp_path / "tiny.bundle"
    tiny.git("bundle", "create", str(bundle), "--all")
    result = _mine("--repo", str(bundle), "--out", str(tmp_path / "ts"), "--json")
    assert result.exit_code == 0, result.output
    assert '"not-a-candidate": 1' in result.output


def test_mine_has_help():
    """The command documents itself."""
    result = _mine("--help")
    assert result.exit_code == 0 and "--since" in result.output and "--max-candidates" in result.output
