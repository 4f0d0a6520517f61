"""Workspace: the base tree without history, safe edits and patches, protected tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import GIT_IDENTITY, GitRepo
from taskset.errors import EditRefused, PatchError, RepositoryError
from taskset.record import Task
from taskset.workspace.mirrors import mirror
from taskset.workspace.workspace import Workspace

GOLD_LINE = "return a + b  # gold-fix-7c1e"
BASE_FILES = {
    "src/calc.py": "def add(a, b):\n    return a - b\n",
    "src/other.py": "VALUE = 1\n",
    "tests/test_calc.py": "from src.calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n",
    "tests/data/old.txt": "obsolete\n",
    "README.md": "calc\n",
}
FIX_FILES = {
    "src/calc.py": f"def add(a, b):\n    {GOLD_LINE}\n",
    "tests/test_calc.py": BASE_FILES["tests/test_calc.py"] + "\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "tests/data/new.txt": "fresh\n",
    "tests/data/old.txt": None,
}


class Project:
    """A repository with a buggy base commit and its fix; the patches split as the miner splits them."""

    def __init__(self, repo):
        self.repo = repo
        self.base = repo.commit("base", BASE_FILES)
        self.fix = repo.commit("fix add", FIX_FILES)
        self.test_patch = repo.git("diff", self.base, self.fix, "--", "tests") + "\n"
        self.gold = repo.git("diff", self.base, self.fix, "--", "src") + "\n"
        self.git_dir = mirror(str(repo.path))


@pytest.fixture(scope="module")
def project(tmp_path_factory, session_cache):
    """A mirrored project with base and fix commits, built once per module (tests never change it)."""
    pinned = {
        **GIT_IDENTITY,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "LOOPCTL_CACHE": str(session_cache / "loopctl"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in pinned.items():
            patch.setenv(name, value)
        return Project(GitRepo(tmp_path_factory.mktemp("project") / "proj"))


@pytest.fixture
def ws(project, tmp_path):
    """A workspace at the project's base commit with the fix's test patch applied."""
    with Workspace.create(project.git_dir, project.base, project.test_patch, root=tmp_path / "ws") as workspace:
        yield workspace


def git(path: Path, *args: str) -> str:
    """stdout of git in a work tree."""
    return subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, check=True).stdout


# --- history and content --------------------------------------------------------------------


def test_nothing_reveals_the_fix(project, ws):
    """No commit, object, ref or file in the workspace leads to the fix commit or the gold patch."""
    assert len(git(ws.path, "log", "--all", "--oneline").splitlines()) == 1
    objects = git(ws.path, "cat-file", "--batch-all-objects", "--batch-check")
    fixed_blob = project.repo.git("rev-parse", f"{project.fix}:src/calc.py")
    for secret in (project.fix, project.base, fixed_blob):
        assert secret not in objects
    contents = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=ws.path, capture_output=True, check=True
    ).stdout
    assert b"gold-fix-7c1e" not in contents  # packed objects are compressed: grep alone would miss them
    refs = git(ws.path, "for-each-ref") + git(ws.path, "reflog", "--all")
    assert project.fix not in refs and project.fix[:7] not in refs
    for path in ws.path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert project.fix.encode() not in data, path
            assert b"gold-fix-7c1e" not in data, path


def test_base_tree_and_test_patch(project, ws):
    """The work tree is the base commit's source plus the fix's test files (added, changed, deleted)."""
    assert (ws.path / "src/calc.py").read_text() == BASE_FILES["src/calc.py"]
    assert (ws.path / "tests/test_calc.py").read_text() == FIX_FILES["tests/test_calc.py"]
    assert (ws.path / "tests/data/new.txt").read_text() == "fresh\n"
    assert not (ws.path / "tests/data/old.txt").exists()
    assert set(ws.test_paths) == {"tests/test_calc.py", "tests/data/new.txt", "tests/data/old.txt"}
    assert ws.base_commit == project.base


def test_modes_and_symlinks_survive(make_repo, tmp_path):
    """Executable bits and committed symlinks are exported as they are in the commit."""
    repo = make_repo("modes")
    (repo.path / "run.sh").parent.mkdir(parents=True, exist_ok=True)
    repo.write({"run.sh": "#!/bin/sh\n", "target.txt": "t\n"})
    os.chmod(repo.path / "run.sh", 0o755)
    os.symlink("target.txt", repo.path / "alias.txt")
    sha = repo.commit("modes", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        assert os.access(ws.path / "run.sh", os.X_OK)
        assert os.readlink(ws.path / "alias.txt") == "target.txt"
        assert ws.diff() == ""


def test_unknown_base_commit(project, tmp_path):
    """A base commit missing from the mirror is a RepositoryError, and no temp dir is left behind."""
    with pytest.raises(RepositoryError, match="unknown revision"):
        Workspace.create(project.git_dir, "f" * 40, root=tmp_path / "roots")
    assert not list((tmp_path / "roots").glob("*"))


def test_test_patch_that_does_not_apply(project, tmp_path):
    """A test patch that does not apply is a PatchError and the workspace is removed."""
    root = tmp_path / "roots"
    with pytest.raises(PatchError, match="test patch"):
        Workspace.create(project.git_dir, project.fix, project.test_patch, root=root)
    assert list(root.iterdir()) == []


def test_close_removes_the_tree(project, tmp_path):
    """Leaving the with-block deletes the work tree."""
    with Workspace.create(project.git_dir, project.base, root=tmp_path) as ws:
        path = ws.path
        assert path.is_dir()
    assert not path.exists()
    ws.close()  # twice is harmless


def test_for_task_fetches_a_stale_mirror(make_repo, tmp_path):
    """for_task uses the cached mirror, fetching only when it lacks the task's base commit."""
    project = Project(make_repo("proj"))
    newer = project.repo.commit("later", {"src/other.py": "VALUE = 2\n"})
    task = Task(
        instance_id="local__proj-" + newer[:12],
        repo="local/proj",
        repo_url=str(project.repo.path),
        base_commit=newer,
        fix_commit=newer,
        created_at="2024-03-01T12:00:00+00:00",
        patch="",
        test_patch="",
        problem_statement="",
        FAIL_TO_PASS=(),
        PASS_TO_PASS=(),
    )
    with Workspace.for_task(task, root=tmp_path) as ws:
        assert (ws.path / "src/other.py").read_text() == "VALUE = 2\n"


# --- safety ---------------------------------------------------------------------------------


UNSAFE = [
    ("/etc/passwd", "absolute path"),
    ("../outside.py", "'..' component"),
    ("src/../../outside.py", "'..' component"),
    (".git/config", "inside .git"),
    ("src/.git/hooks/pre-commit", "inside .git"),
    (".GIT/config", "inside .git"),
    ("escape/evil.py", "outside the workspace"),
    ("", "empty path"),
    ("./", "empty path"),
    ("src/a\0b.py", "NUL byte"),
]


@pytest.fixture
def escaping_ws(make_repo, tmp_path):
    """A workspace whose tree commits a symlink ``escape -> <a dir outside>``."""
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = make_repo("linky")
    repo.write({"src/ok.py": "x = 1\n"})
    os.symlink(str(outside), repo.path / "escape")
    sha = repo.commit("link", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path / "ws") as ws:
        yield ws, outside


@pytest.mark.parametrize(("path", "reason"), UNSAFE)
def test_unsafe_edits_refused(escaping_ws, path, reason):
    """Edits may only touch paths inside the work tree and outside .git; each refusal names why."""
    ws, outside = escaping_ws
    with pytest.raises(EditRefused, match=reason) as info:
        ws.apply_edits({path: "pwned\n"})
    assert info.value.kind == "unsafe-edit"
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(("path", "reason"), [case for case in UNSAFE if "\0" not in case[0] and case[0].strip("./")])
def test_unsafe_patches_refused(escaping_ws, path, reason):
    """A diff naming an unsafe path is refused before git apply runs, even with allow_tests."""
    ws, outside = escaping_ws
    diff = f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+pwned\n"
    if path.startswith("/"):
        diff = f"--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n+pwned\n"
    with pytest.raises(EditRefused, match=reason) as info:
        ws.apply_patch(diff, allow_tests=True)
    assert info.value.kind == "unsafe-edit"
    assert list(outside.iterdir()) == []


def test_edit_through_symlink_into_git_refused(make_repo, tmp_path):
    """A symlink pointing at .git cannot be used to write into it."""
    repo = make_repo("gitlink")
    repo.write({"a.py": "x\n"})
    os.symlink(".git", repo.path / "meta")
    sha = repo.commit("link", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        with pytest.raises(EditRefused, match="into .git"):
            ws.apply_edits({"meta/config": "pwned\n"})


def test_edits_to_tests_refused(ws):
    """A candidate cannot edit test-patch paths or anything that looks like a test."""
    for path in ("tests/test_calc.py", "tests/data/old.txt", "src/test_helpers.py", "conftest.py"):
        with pytest.raises(EditRefused) as info:
            ws.apply_edits({path: "def test_add():\n    pass\n"})
        assert info.value.kind == "edits-touch-tests"
    assert (ws.path / "tests/test_calc.py").read_text() == FIX_FILES["tests/test_calc.py"]


def test_diff_touching_tests_refused(project, ws):
    """A diff that touches a test file is refused whole, even when it also fixes the source."""
    cheat = project.gold + (
        "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1 +1 @@\n"
        "-from src.calc import add\n+add = lambda a, b: a + b\n"
    )
    with pytest.raises(EditRefused) as info:
        ws.apply_patch(cheat)
    assert info.value.kind == "edits-touch-tests"
    assert (ws.path / "src/calc.py").read_text() == BASE_FILES["src/calc.py"]


def test_rename_hiding_a_test_refused(ws):
    """Renaming a test file away touches it, though only the new name appears after +++."""
    diff = (
        "diff --git a/tests/test_calc.py b/src/moved.py\nsimilarity index 100%\n"
        "rename from tests/test_calc.py\nrename to src/moved.py\n"
    )
    with pytest.raises(EditRefused) as info:
        ws.apply_patch(diff)
    assert info.value.kind == "edits-touch-tests"
    assert (ws.path / "tests/test_calc.py").exists()


def test_edit_sets_are_all_or_nothing(ws):
    """One refused path in an edit set means none of the set is written."""
    with pytest.raises(EditRefused):
        ws.apply_edits({"src/calc.py": "fixed\n", "src/new.py": "new\n", "../evil.py": "x\n"})
    assert (ws.path / "src/calc.py").read_text() == BASE_FILES["src/calc.py"]
    assert not (ws.path / "src/new.py").exists()
    with pytest.raises(EditRefused, match="is a file"):
        ws.apply_edits({"src/new.py": "new\n", "README.md/x.py": "x\n"})
    assert not (ws.path / "src/new.py").exists()


def test_allow_tests(ws):
    """allow_tests lets the evaluator's own machinery write test paths."""
    assert ws.apply_edits({"tests/test_calc.py": "changed\n"}, allow_tests=True) == ["tests/test_calc.py"]


# --- edits and patches ----------------------------------------------------------------------


def test_apply_edits_writes_and_deletes(ws):
    """Whole-file edits create parents, replace content and delete with None."""
    touched = ws.apply_edits({"src/calc.py": "fixed\n", "./src/deep/new.py": "new\n", "src/other.py": None})
    assert touched == ["src/calc.py", "src/deep/new.py", "src/other.py"]
    assert (ws.path / "src/calc.py").read_text() == "fixed\n"
    assert (ws.path / "src/deep/new.py").read_text() == "new\n"
    assert not (ws.path / "src/other.py").exists()


def test_gold_patch_applies(project, ws):
    """The fix's own source diff applies and is reported by diff()."""
    assert ws.apply_patch(project.gold, what="gold patch") == ["src/calc.py"]
    assert GOLD_LINE in (ws.path / "src/calc.py").read_text()
    assert GOLD_LINE in ws.diff()


def test_empty_diff_is_a_no_op(ws):
    """An empty or blank diff changes nothing and touches no path."""
    assert ws.apply_patch("") == []
    assert ws.apply_patch("\n  \n") == []


def test_patch_that_does_not_apply(ws):
    """A diff whose context does not match is a PatchError carrying git's message; nothing changes."""
    diff = "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1,2 +1,2 @@\n def nope():\n-    pass\n+    return 1\n"
    with pytest.raises(PatchError, match="patch does not apply"):
        ws.apply_patch(diff)
    assert (ws.path / "src/calc.py").read_text() == BASE_FILES["src/calc.py"]


def test_garbage_is_a_patch_error(ws):
    """Text with no file headers is a PatchError, not a silent no-op."""
    with pytest.raises(PatchError):
        ws.apply_patch("I fixed it, trust me.\n")


def test_new_file_deletion_and_rename(ws):
    """New files, deletions and renames apply; every touched path (both rename ends) is returned."""
    diff = (
        "diff --git a/src/added.py b/src/added.py\nnew file mode 100644\n--- /dev/null\n+++ b/src/added.py\n"
        "@@ -0,0 +1 @@\n+ADDED = True\n"
        "diff --git a/README.md b/README.md\ndeleted file mode 100644\n--- a/README.md\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-calc\n"
        "diff --git a/src/other.py b/src/renamed.py\nsimilarity index 100%\n"
        "rename from src/other.py\nrename to src/renamed.py\n"
    )
    assert set(ws.apply_patch(diff)) == {"src/added.py", "README.md", "src/other.py", "src/renamed.py"}
    assert (ws.path / "src/added.py").read_text() == "ADDED = True\n"
    assert not (ws.path / "README.md").exists()
    assert (ws.path / "src/renamed.py").read_text() == "VALUE = 1\n"


def test_model_style_diffs(ws):
    """A diff without a/ b/ prefixes, without its final newline, or with CRLF line ends still applies."""
    plain = "--- src/calc.py\n+++ src/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b"
    assert ws.apply_patch(plain) == ["src/calc.py"]
    crlf = "--- a/src/other.py\r\n+++ b/src/other.py\r\n@@ -1 +1 @@\r\n-VALUE = 1\r\n+VALUE = 2\r\n"
    assert ws.apply_patch(crlf) == ["src/other.py"]
    assert (ws.path / "src/other.py").read_bytes() == b"VALUE = 2\n"


def test_crlf_files_patch_cleanly(make_repo, tmp_path):
    """A file stored with CRLF line ends is patched byte-exactly (no newline translation)."""
    repo = make_repo("crlf")
    (repo.path / "win.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    sha = repo.commit("crlf", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        diff = "--- a/win.py\n+++ b/win.py\n@@ -1,2 +1,2 @@\n a = 1\r\n-b = 2\r\n+b = 3\r\n"
        ws.apply_patch(diff)
        assert (ws.path / "win.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


def test_removed_line_looking_like_a_header(make_repo, tmp_path):
    """A removed line reading '-- tests/x' inside a hunk is content, not a header naming a test."""
    repo = make_repo("dashes")
    sha = repo.commit("doc", {"notes.txt": "keep\n-- tests/test_x.py\n"})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        diff = "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n keep\n--- tests/test_x.py\n+++ tests/test_y.py\n"
        assert ws.apply_patch(diff) == ["notes.txt"]
        assert (ws.path / "notes.txt").read_text() == "keep\n++ tests/test_y.py\n"


def test_quoted_paths(ws):
    """git's C-quoted names (spaces, non-ASCII) are decoded before they are checked."""
    diff = (
        'diff --git "a/src/caf\\303\\251 x.py" "b/src/caf\\303\\251 x.py"\nnew file mode 100644\n'
        '--- /dev/null\n+++ "b/src/caf\\303\\251 x.py"\n@@ -0,0 +1 @@\n+X = 1\n'
    )
    assert ws.apply_patch(diff) == ["src/café x.py"]
    assert (ws.path / "src/café x.py").read_text() == "X = 1\n"


# --- bytecode, restore, diff ----------------------------------------------------------------


def test_clear_bytecode(ws):
    """Every __pycache__ and stray .pyc/.pyo goes; nothing under .git is touched."""
    (ws.path / "src/__pycache__").mkdir()
    (ws.path / "src/__pycache__/calc.cpython-311.pyc").write_bytes(b"stale")
    (ws.path / "tests/__pycache__").mkdir()
    (ws.path / "old.pyc").write_bytes(b"stale")
    (ws.path / "src/legacy.pyo").write_bytes(b"stale")
    (ws.path / ".git/keep.pyc").write_bytes(b"not ours")
    assert ws.clear_bytecode() == 4
    assert not list(ws.path.glob("**/__pycache__"))
    assert not (ws.path / "old.pyc").exists() and not (ws.path / "src/legacy.pyo").exists()
    assert (ws.path / ".git/keep.pyc").exists()
    assert ws.clear_bytecode() == 0


def test_restore_test_files(ws):
    """restore_test_files undoes a candidate's changes to test-patch paths: edited, deleted, re-added."""
    ws.apply_edits(
        {"tests/test_calc.py": "def test_add():\n    pass\n", "tests/data/new.txt": None,
         "tests/data/old.txt": "back\n"},
        allow_tests=True,
    )
    ws.restore_test_files()
    assert (ws.path / "tests/test_calc.py").read_text() == FIX_FILES["tests/test_calc.py"]
    assert (ws.path / "tests/data/new.txt").read_text() == "fresh\n"
    assert not (ws.path / "tests/data/old.txt").exists()


def test_restore_replaces_symlinked_test_dir(ws, tmp_path):
    """A test directory swapped for a symlink is replaced by a real one; nothing is written through it."""
    import shutil

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(ws.path / "tests")
    os.symlink(str(elsewhere), ws.path / "tests")
    ws.restore_test_files()
    assert not (ws.path / "tests").is_symlink()
    assert (ws.path / "tests/test_calc.py").read_text() == FIX_FILES["tests/test_calc.py"]
    assert list(elsewhere.iterdir()) == []


def test_diff_ignores_bytecode(ws):
    """diff() reports source changes against the base commit, never __pycache__ debris."""
    ws.apply_edits({"src/other.py": "VALUE = 3\n"})
    (ws.path / "src/__pycache__").mkdir()
    (ws.path / "src/__pycache__/other.cpython-311.pyc").write_bytes(b"\0\1")
    text = ws.diff()
    assert "+VALUE = 3" in text
    assert "__pycache__" not in text
    assert "tests/test_calc.py" in text  # the test patch is part of the workspace's changes


@pytest.mark.parametrize(
    ("target", "reason"),
    [("/etc", "absolute path"), ("../../..", "outside the workspace"), ("../.git", "into .git")],
)
def test_patch_creating_escaping_symlink_refused(ws, target, reason):
    """A candidate diff may not plant a symlink leading out of the work tree or into .git."""
    diff = (
        "diff --git a/src/link b/src/link\nnew file mode 120000\n--- /dev/null\n+++ b/src/link\n"
        f"@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
    )
    with pytest.raises(EditRefused, match=reason) as info:
        ws.apply_patch(diff)
    assert info.value.kind == "unsafe-edit"
    assert not (ws.path / "src/link").is_symlink()


def test_patch_creating_inner_symlink_allowed(ws):
    """A symlink that stays inside the work tree is an ordinary change."""
    diff = (
        "diff --git a/src/alias.py b/src/alias.py\nnew file mode 120000\n--- /dev/null\n+++ b/src/alias.py\n"
        "@@ -0,0 +1 @@\n+other.py\n\\ No newline at end of file\n"
    )
    assert ws.apply_patch(diff) == ["src/alias.py"]
    assert os.readlink(ws.path / "src/alias.py") == "other.py"


def test_windows_style_paths(ws):
    """A drive-letter path is absolute; a colon elsewhere in a name is an ordinary character."""
    with pytest.raises(EditRefused, match="absolute path"):
        ws.apply_edits({"C:/Windows/evil.py": "x\n"})
    assert ws.apply_edits({"src/a:b.txt": "ok\n"}) == ["src/a:b.txt"]


def test_diff_without_tests(ws):
    """diff(exclude_tests=True) is the candidate's own change, without the test patch."""
    ws.apply_edits({"src/other.py": "VALUE = 4\n"})
    text = ws.diff(exclude_tests=True)
    assert "+VALUE = 4" in text
    assert "tests/" not in text


def test_edit_through_symlink_to_a_test_refused(make_repo, tmp_path):
    """Writing a source path that is a symlink to a test file is an edit to the test."""
    repo = make_repo("alias")
    repo.write({"tests/test_a.py": "def test_a():\n    assert False\n"})
    os.symlink("tests/test_a.py", repo.path / "helper.py")
    sha = repo.commit("alias", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        with pytest.raises(EditRefused) as info:
            ws.apply_edits({"helper.py": "def test_a():\n    pass\n"})
        assert info.value.kind == "edits-touch-tests"


def test_miscounted_hunk_cannot_hide_a_test_header(ws):
    """A hunk header announcing more lines than it has cannot swallow the next file's header."""
    diff = (
        "diff --git a/src/other.py b/src/other.py\n--- a/src/other.py\n+++ b/src/other.py\n"
        "@@ -1 +1,40 @@\n-VALUE = 1\n+VALUE = 2\n"
        "diff --git a/tests/test_calc.py b/tests/test_calc.py\n--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n"
        "@@ -1 +1 @@\n-from src.calc import add\n+add = lambda a, b: a + b\n"
    )
    with pytest.raises(EditRefused) as info:
        ws.apply_patch(diff)
    assert info.value.kind == "edits-touch-tests"


def test_edit_through_dangling_symlink_refused(make_repo, tmp_path):
    """A write whose parent is a dangling symlink is refused before anything is written."""
    repo = make_repo("dangling")
    repo.write({"a.py": "x\n"})
    os.symlink("missing_dir", repo.path / "gone")
    sha = repo.commit("dangling", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        with pytest.raises(EditRefused, match="dangling symlink"):
            ws.apply_edits({"a.py": "y\n", "gone/new.py": "z\n"})
        assert (ws.path / "a.py").read_text() == "x\n"


def test_edit_content_type_checked_first(ws):
    """Content that is not str, bytes or None is a TypeError, raised before any file is written."""
    with pytest.raises(TypeError):
        ws.apply_edits({"src/calc.py": "fixed\n", "src/other.py": 5})  # type: ignore[dict-item]
    assert (ws.path / "src/calc.py").read_text() == BASE_FILES["src/calc.py"]


def test_edits_keep_the_executable_bit(make_repo, tmp_path):
    """Rewriting an executable script keeps it executable; bytes content is written verbatim."""
    repo = make_repo("exe")
    repo.write({"run.py": "#!/usr/bin/env python\n"})
    os.chmod(repo.path / "run.py", 0o755)
    sha = repo.commit("exe", {})
    with Workspace.create(mirror(str(repo.path)), sha, root=tmp_path) as ws:
        ws.apply_edits({"run.py": b"#!/usr/bin/env python3\r\n"})
        assert os.access(ws.path / "run.py", os.X_OK)
        assert (ws.path / "run.py").read_bytes() == b"#!/usr/bin/env python3\r\n"


def test_a_killed_runs_temporaries_are_reclaimed_by_the_next(tmp_path):
    """Folders of a process that is gone are removed by the next run; a live process's are kept."""
    from taskset.files import tempdirs

    never_a_pid = int(Path("/proc/sys/kernel/pid_max").read_text())  # pids stay below pid_max
    stale = tmp_path / f"loopctl-ws-{never_a_pid}-abc"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub").chmod(0o500)
    live = tmp_path / f"loopctl-run-{os.getpid()}-xyz"
    live.mkdir()
    other = tmp_path / "loopctl-ws-notours"
    other.mkdir()
    fresh = tempdirs.make("ws", tmp_path)
    assert not stale.exists() and live.exists() and other.exists() and fresh.exists()
