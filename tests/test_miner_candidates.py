"""Candidate detection, the source/test split, message signals and revision ranges (no venvs)."""

from __future__ import annotations

import pytest

from miner.candidates import Candidate, classify, list_commits
from miner.errors import BadRevision, NoTestsError
from miner.rejections import Reason, Rejection
from miner.signals import score, signals
from miner.source import open_source
from miner.split import diff, sides
from taskset.errors import RepositoryError
from taskset.workspace.testfiles import TestFileConventions

SRC = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TEST = "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


@pytest.fixture
def history(make_repo):
    """base (root) -> docs -> fix (source+tests+data+changelog) -> feature (source only)."""
    repo = make_repo()
    shas = {
        "base": repo.commit("Initial",
                            {"pkg/__init__.py": "", "pkg/calc.py": SRC,
                             "tests/test_old.py": "def test_x():\n    pass\n"},
                            date="2024-01-01T10:00:00+00:00"),
        "docs": repo.commit("Document add", {"README.md": "add\n"}, date="2024-01-02T10:00:00+00:00"),
        "fix": repo.commit("Fix add returning the difference (closes #3)", {
            "pkg/calc.py": FIXED, "tests/test_calc.py": TEST, "tests/data/cases.bin": "\x00\x01",
            "CHANGELOG.md": "fixed add\n", "docs/calc.rst": "add\n", "tests/test_old.py": None,
        }, date="2024-01-03T10:00:00+00:00"),
        "feature": repo.commit("Add mul", {"pkg/mul.py": "def mul(a, b):\n    return a * b\n"},
                               date="2024-01-04T10:00:00+00:00"),
    }
    return repo, shas


def _classified(repo_path, **kwargs):
    source = open_source(str(repo_path), **kwargs)
    return source, {c.sha: classify(c) for c in list_commits(source.git_dir, source.revisions)}


def test_candidates_change_source_and_tests(history):
    """A candidate changes non-test Python source and Python tests; every other commit says why not."""
    repo, shas = history
    _, found = _classified(repo.path)
    assert isinstance(found[shas["fix"]], Candidate)
    assert found[shas["base"]].reason is Reason.NOT_A_CANDIDATE  # root: no parent
    assert found[shas["docs"]].reason is Reason.NOT_A_CANDIDATE
    assert found[shas["feature"]].reason is Reason.NO_TEST_CHANGE


def test_split_excludes_docs_and_keeps_every_test_side_change(history):
    """The gold patch holds source only; the test patch holds data files and deletions too."""
    repo, shas = history
    _, found = _classified(repo.path)
    fix = found[shas["fix"]]
    assert fix.sides.source == ("pkg/calc.py",)
    assert set(fix.sides.tests) == {"tests/test_calc.py", "tests/data/cases.bin", "tests/test_old.py"}
    assert set(fix.sides.ignored) == {"CHANGELOG.md", "docs/calc.rst"}


def test_test_patch_is_binary_safe_and_includes_deletions(history):
    """The test patch is a full-index binary diff: data files and deleted tests survive it."""
    repo, shas = history
    source, found = _classified(repo.path)
    fix = found[shas["fix"]]
    text = diff(source.git_dir, fix.parent, fix.sha, fix.sides.tests)
    assert "GIT binary patch" in text
    assert "deleted file mode" in text
    gold = diff(source.git_dir, fix.parent, fix.sha, fix.sides.source)
    assert "+    return a + b" in gold and "CHANGELOG" not in gold and "tests/" not in gold


def test_since_and_until_dates_are_inclusive(history):
    """--since/--until dates include their whole day, like PyDriller's from/to."""
    repo, shas = history
    _, found = _classified(repo.path, since="2024-01-02", until="2024-01-03")
    assert set(found) == {shas["docs"], shas["fix"]}


def test_since_and_until_revisions_are_inclusive(history):
    """--since/--until revisions include the named commits themselves."""
    repo, shas = history
    _, found = _classified(repo.path, since=shas["docs"], until=shas["fix"])
    assert set(found) == {shas["docs"], shas["fix"]}


def test_commit_option_mines_exactly_the_named_commits(history):
    """--commit names exact commits; nothing else is walked."""
    repo, shas = history
    _, found = _classified(repo.path, commits=[shas["fix"][:10]])
    assert list(found) == [shas["fix"]]


def test_merges_are_diffed_against_their_first_parent(make_repo):
    """With merges, a merge commit is classified by its first-parent diff."""
    repo = make_repo()
    repo.commit("Initial", {"pkg/calc.py": SRC, "tests/test_a.py": "def test_a():\n    pass\n"})
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("Fix add", {"pkg/calc.py": FIXED, "tests/test_calc.py": TEST})
    repo.git("checkout", "-q", "main")
    repo.commit("Unrelated docs", {"README.md": "x\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
    merge = repo.git("rev-parse", "HEAD")
    source = open_source(str(repo.path))
    without = {c.sha for c in list_commits(source.git_dir, source.revisions)}
    assert merge not in without
    with_merges = {c.sha: c for c in list_commits(source.git_dir, source.revisions, merges=True)}
    assert set(with_merges[merge].paths) == {"pkg/calc.py", "tests/test_calc.py"}
    assert isinstance(classify(with_merges[merge]), Candidate)


def test_configurable_test_conventions(make_repo):
    """Test-file conventions are configurable: a project's spec/ folder can be its tests."""
    repo = make_repo()
    repo.commit("Initial", {"pkg/calc.py": SRC, "spec/check_calc.py": "x = 1\n"})
    commit = list_commits(repo.path / ".git", ["HEAD"])[0]
    spec = TestFileConventions(directories=("spec",), file_globs=("check_*.py",))
    assert sides(commit.paths, spec).tests == ("spec/check_calc.py",)
    assert sides(commit.paths).tests == ()


def test_message_signals():
    """Fix, bug, regression, crash and issue references score; the score never decides alone."""
    assert {"fix", "closes-issue", "reference"} <= set(signals("Fixes #12: crash in parser"))
    assert score("Fix regression in bug tracker (#4)") > score("Fix typo") > score("Add feature")
    assert score("Add feature") == 0


def test_unknown_branch_is_one_clear_error(history):
    """An unknown --branch fails with the option and value named."""
    repo, _ = history
    with pytest.raises(BadRevision, match="--branch 'nope'"):
        open_source(str(repo.path), branch="nope")


def test_unknown_since_is_one_clear_error(history):
    """A --since that is neither a revision nor an ISO date is refused."""
    repo, _ = history
    with pytest.raises(BadRevision, match="--since"):
        open_source(str(repo.path), since="last tuesday-ish")


def test_repository_without_tests_is_refused(make_repo):
    """A repository with no test files cannot prove any fix: refused before anything is written."""
    repo = make_repo()
    repo.commit("Initial", {"pkg/calc.py": SRC})
    with pytest.raises(NoTestsError):
        open_source(str(repo.path))


def test_empty_repository_is_refused(make_repo):
    """An empty repository is bad input."""
    repo = make_repo()
    with pytest.raises(RepositoryError, match="empty"):
        open_source(str(repo.path))


def test_not_a_repository_is_refused(tmp_path):
    """A directory that is not a repository is bad input."""
    (tmp_path / "plain").mkdir()
    with pytest.raises(RepositoryError, match="not a git repository"):
        open_source(str(tmp_path / "plain"))


def test_non_candidate_rejection_names_the_changed_paths(history):
    """A non-candidate rejection is data: its detail lists what the commit changed."""
    repo, shas = history
    _, found = _classified(repo.path)
    rejection = found[shas["docs"]]
    assert isinstance(rejection, Rejection) and "README.md" in rejection.detail
