"""The workspace's own git repository: one commit of the base tree, and controls reset before each use.

Only the objects of the base tree are copied out of the mirror (a self-contained pack), then
committed once with a fixed identity and date. Before every git command we run in a workspace,
its configuration goes back to what we wrote: nothing a test left in ``.git`` reaches our git.
"""

from __future__ import annotations

import functools
from pathlib import Path

from taskset.errors import WorkspaceError
from taskset.workspace.files import remove_tree
from taskset.workspace.mirrors import last_line, run_git

IDENTITY = {
    "GIT_AUTHOR_NAME": "loopctl",
    "GIT_AUTHOR_EMAIL": "loopctl@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+00:00",
    "GIT_COMMITTER_NAME": "loopctl",
    "GIT_COMMITTER_EMAIL": "loopctl@localhost",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+00:00",
}
# Pinned so a caller's git config cannot translate line ends, start a gc or flatten symlinks.
CONFIG = "[core]\n\tautocrlf = false\n\tsymlinks = true\n[gc]\n\tauto = 0\n"
# Build and test debris that must never show up in ws.diff().
EXCLUDES = "__pycache__/\n*.py[cod]\n.pytest_cache/\n*.egg-info/\n"


def export_tree(git_dir: Path, sha: str, path: Path) -> None:
    """Copy only the base tree's objects into a new repository and commit that tree once."""
    mirror_git = ["--git-dir", str(git_dir)]
    tree_id = must(run_git([*mirror_git, "rev-parse", f"{sha}^{{tree}}"]), "read the base tree").decode().strip()
    objects = must(run_git([*mirror_git, "rev-list", "--objects", tree_id]), "list the tree")
    # No delta search (--window=0): it costs more than the smaller pack saves for a one-off copy.
    pack = must(run_git([*mirror_git, "pack-objects", "--stdout", "-q", "--window=0"], input=objects), "pack")
    must(run_git(["init", "-q", "--template=", str(path)]), "initialise the workspace")
    (path / ".git" / "config").write_bytes(full_config())
    (path / ".git" / "info").mkdir(exist_ok=True)
    (path / ".git" / "info" / "exclude").write_text(EXCLUDES)
    ws = ["-C", str(path)]
    # One pack file, not hundreds of loose objects: index-pack is several times faster.
    must(run_git([*ws, "index-pack", "--stdin"], input=pack), "copy the tree's objects")
    commit = must(run_git([*ws, "commit-tree", tree_id, "-m", "loopctl workspace"], env=IDENTITY), "commit")
    must(run_git([*ws, "update-ref", "HEAD", commit.decode().strip()]), "set HEAD")
    must(run_git([*ws, "read-tree", "-u", "--reset", "HEAD"]), "check out the tree")


# Files in .git through which code under test could make our next git command run its commands
# (a clean/smudge filter, fsmonitor, hooks) or read objects from elsewhere (alternates).
GIT_FORBIDDEN = ("info/attributes", "info/grafts", "objects/info/alternates", "objects/info/http-alternates")


def reset_git_controls(path: Path) -> None:
    """Put the workspace's git configuration back as created, before every git command we run in it.

    Tests run with the workspace writable (and without a sandbox, its ``.git`` too): what they
    left there must never reach a git process of ours, which runs unconfined.
    """
    git = path / ".git"
    if not git.is_dir() or git.is_symlink():
        raise WorkspaceError(f"{path}: .git is no longer the workspace's repository")
    for rel, content in ((".git/config", full_config()), (".git/info/exclude", EXCLUDES.encode())):
        target = path / rel
        if target.is_symlink() or not target.is_file() or target.read_bytes() != content:
            target.unlink(missing_ok=True)
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(content)
    for rel in GIT_FORBIDDEN:
        (git / rel).unlink(missing_ok=True)
    hooks = git / "hooks"
    if hooks.is_symlink() or hooks.is_file():
        hooks.unlink()
    elif hooks.is_dir():
        for hook in hooks.iterdir():
            remove_tree(hook) if hook.is_dir() and not hook.is_symlink() else hook.unlink()


@functools.cache
def full_config() -> bytes:
    """The workspace's .git/config as ``git init`` plus ours writes it (the same for every workspace)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="loopctl-config-") as tmp:
        must(run_git(["init", "-q", "--template=", tmp]), "initialise a scratch repository")
        with open(Path(tmp) / ".git" / "config", "a", encoding="utf-8") as config:
            config.write(CONFIG)
        return (Path(tmp) / ".git" / "config").read_bytes()


def must(done, doing: str) -> bytes:
    """The stdout of a finished git command, or WorkspaceError naming what we were doing."""
    if done.returncode != 0:
        raise WorkspaceError(f"cannot {doing}: {last_line(done.stderr)}")
    return done.stdout


def has_commit(git_dir: Path, rev: str) -> bool:
    """Whether ``git_dir`` holds commit ``rev``."""
    return run_git(["--git-dir", str(git_dir), "cat-file", "-e", f"{rev}^{{commit}}"]).returncode == 0
