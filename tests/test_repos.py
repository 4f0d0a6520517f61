"""repos: bare mirrors in the cache from paths, bundles and URLs; one-line errors."""

from __future__ import annotations

import subprocess
import threading

import pytest

from taskset.errors import RepositoryError
from taskset.files.cache import cache_dir
from taskset.workspace.mirrors import mirror, repo_name, resolve_revision, run_git


def git_in(git_dir, *args):
    """stdout of git run against a bare repository."""
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def origin(make_repo):
    """A working tree with two commits."""
    repo = make_repo("origin")
    repo.commit("first", {"pkg/mod.py": "x = 1\n"})
    repo.commit("second", {"pkg/mod.py": "x = 2\n"})
    return repo


def test_mirror_from_working_tree(origin):
    """A working tree becomes a bare mirror under cache_dir()/repos/, readable name first."""
    git_dir = mirror(str(origin.path))
    assert git_dir.parent == cache_dir() / "repos"
    assert git_dir.name.startswith("local__origin-")
    assert git_in(git_dir, "rev-parse", "--is-bare-repository").strip() == "true"
    assert resolve_revision(git_dir, "main") == origin.git("rev-parse", "HEAD")


def test_second_call_fetches_new_commits(origin):
    """A later call reuses the same mirror and fetches what the source gained since."""
    first = mirror(str(origin.path))
    new = origin.commit("third", {"pkg/mod.py": "x = 3\n"})
    second = mirror(str(origin.path))
    assert second == first
    assert resolve_revision(second, "main") == new


def test_update_false_reuses_cache(origin):
    """With update=False a cached mirror is returned as is, without contacting the source."""
    git_dir = mirror(str(origin.path))
    origin.commit("third", {"pkg/mod.py": "x = 3\n"})
    assert mirror(str(origin.path), update=False) == git_dir
    with pytest.raises(RepositoryError):
        resolve_revision(git_dir, origin.git("rev-parse", "HEAD"))


def test_user_repository_is_not_written(origin):
    """Mirroring only reads the user's repository: its refs, config and object files are unchanged."""
    before = sorted(p.relative_to(origin.path) for p in (origin.path / ".git").rglob("*"))
    config = (origin.path / ".git" / "config").read_text()
    mirror(str(origin.path))
    mirror(str(origin.path))
    assert sorted(p.relative_to(origin.path) for p in (origin.path / ".git").rglob("*")) == before
    assert (origin.path / ".git" / "config").read_text() == config


def test_mirror_from_bundle(origin, tmp_path):
    """A git bundle file is cloned like a repository; its name comes from the bundle's stem."""
    bundle = tmp_path / "proj.bundle"
    origin.git("bundle", "create", str(bundle), "--all")
    git_dir = mirror(str(bundle))
    assert git_dir.name.startswith("local__proj-")
    assert resolve_revision(git_dir, "main") == origin.git("rev-parse", "HEAD")


def test_mirror_from_file_url(origin):
    """A file:// URL is cloned over git's transport."""
    git_dir = mirror(f"file://{origin.path}")
    assert resolve_revision(git_dir, "main") == origin.git("rev-parse", "HEAD")


def test_mirror_from_bare_repository(origin, tmp_path):
    """A bare repository is a valid source."""
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin.path), str(bare)], check=True)
    git_dir = mirror(str(bare))
    assert git_dir.name.startswith("local__bare-")
    assert resolve_revision(git_dir, "main") == origin.git("rev-parse", "HEAD")


def test_concurrent_mirrors_do_not_half_clone(origin):
    """Two threads mirroring the same source at once both get the one complete mirror."""
    results, errors = [], []

    def work():
        try:
            results.append(mirror(str(origin.path)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results[0] == results[1]
    assert not [p for p in (cache_dir() / "repos").iterdir() if p.name.endswith(".tmp")]


def test_not_a_repository(tmp_path):
    """A plain directory is refused with 'not a git repository', even inside another repository."""
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepositoryError, match="not a git repository"):
        mirror(str(plain))


def test_subdirectory_of_a_repository_is_not_a_repository(origin):
    """git must not walk up from a subdirectory to the enclosing repository."""
    with pytest.raises(RepositoryError, match="not a git repository"):
        mirror(str(origin.path / "pkg"))


def test_missing_path(tmp_path):
    """A path that does not exist is named as such."""
    with pytest.raises(RepositoryError, match="no such file or directory"):
        mirror(str(tmp_path / "nowhere"))


def test_empty_repository(make_repo):
    """A repository without commits is refused, and no mirror is left in the cache."""
    empty = make_repo("empty")
    with pytest.raises(RepositoryError, match="empty repository"):
        mirror(str(empty.path))
    assert not [p for p in (cache_dir() / "repos").glob("local__empty-*") if p.is_dir()]


def test_invalid_bundle(tmp_path):
    """A *.bundle file git cannot read is reported as an invalid bundle."""
    bad = tmp_path / "bad.bundle"
    bad.write_text("# v2 git bundle\nnot really\n")
    with pytest.raises(RepositoryError, match="bundle invalid"):
        mirror(str(bad))


def test_plain_file_is_not_a_repository(tmp_path):
    """A file that is not a bundle is refused."""
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    with pytest.raises(RepositoryError, match="not a git repository or bundle"):
        mirror(str(notes))


def test_clone_failure_carries_git_message(tmp_path):
    """A URL that cannot be cloned gives 'cannot clone' and git's last stderr line, on one line."""
    with pytest.raises(RepositoryError, match="cannot clone: .+") as info:
        mirror(f"file://{tmp_path}/absent.git")
    assert "\n" not in str(info.value)


def test_unknown_revision(origin):
    """An unknown branch or sha is a RepositoryError naming it; an option-like rev is never run."""
    git_dir = mirror(str(origin.path))
    for rev in ("no-such-branch", "0" * 40, "--all", ""):
        with pytest.raises(RepositoryError, match="unknown revision"):
            resolve_revision(git_dir, rev)


@pytest.mark.parametrize(
    ("location", "name"),
    [
        ("https://github.com/encode/httpx", "encode/httpx"),
        ("https://github.com/encode/httpx.git", "encode/httpx"),
        ("https://github.com/encode/httpx/", "encode/httpx"),
        ("git@github.com:owner/name.git", "owner/name"),
        ("ssh://git@example.org/group/proj.git", "group/proj"),
        ("/srv/code/myproj", "local/myproj"),
        ("/srv/code/myproj/.git", "local/myproj"),
        ("/srv/code/backup.bundle", "local/backup"),
        ("file:///srv/code/other.git", "local/other"),
    ],
)
def test_repo_name(location, name):
    """URLs give owner/name; local paths and bundles give local/<dirname or stem>."""
    assert repo_name(location) == name


def test_second_bundle_fetches(origin, tmp_path):
    """A bundle replaced by a newer one at the same path is fetched into the same mirror."""
    bundle = tmp_path / "proj.bundle"
    origin.git("bundle", "create", str(bundle), "--all")
    first = mirror(str(bundle))
    new = origin.commit("third", {"pkg/mod.py": "x = 3\n"})
    origin.git("bundle", "create", str(bundle), "--all")
    assert mirror(str(bundle)) == first
    assert resolve_revision(first, "main") == new


def test_resolve_in_a_non_repository(tmp_path):
    """resolve_revision on a directory that is not a repository says so, not 'unknown revision'."""
    with pytest.raises(RepositoryError, match="not a git repository"):
        resolve_revision(tmp_path, "main")


def test_callers_git_dir_is_ignored(origin, tmp_path, monkeypatch):
    """A GIT_DIR/GIT_WORK_TREE inherited from the caller (say, a git hook) cannot redirect our git."""
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path))
    git_dir = mirror(str(origin.path))
    assert resolve_revision(git_dir, "main") == origin.git("--git-dir", str(origin.path / ".git"), "rev-parse", "HEAD")


@pytest.mark.parametrize("damage", ["head-deleted", "refs-deleted", "emptied"])
def test_a_damaged_mirror_is_cloned_again(make_repo, damage):
    """A mirror whose HEAD or refs are gone (or that is an empty folder) is re-cloned, not an error forever."""
    import shutil

    from taskset.workspace.mirrors import mirror

    repo = make_repo("src")
    sha = repo.commit("one", {"a.txt": "1\n"})
    dest = mirror(str(repo.path))
    if damage == "head-deleted":
        (dest / "HEAD").unlink()
    elif damage == "refs-deleted":
        shutil.rmtree(dest / "refs")
        (dest / "packed-refs").unlink(missing_ok=True)
    else:
        shutil.rmtree(dest)
        dest.mkdir()
        (dest / "junk").write_text("x")
    for update in (False, True):
        again = mirror(str(repo.path), update=update)
        assert again == dest
        assert run_git(["--git-dir", str(dest), "rev-parse", "HEAD"]).stdout.decode().strip() == sha
