"""A workspace: the tree at ``base_commit`` with no history past it, where candidates are tried.

Only the objects of the base tree are copied out of the mirror (a self-contained pack), then
committed once with a fixed identity and date. No clone, no alternates, no hardlinks: nothing
inside the workspace can lead to the fix commit or the gold patch.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from taskset import tempdirs
from taskset.diffpaths import patch_paths, strip_level, symlink_targets
from taskset.errors import EditRefused, InfraCause, InfrastructureError, PatchError, WorkspaceError
from taskset.pathsafety import (
    blocked_reason,
    clear_way,
    normalise,
    resolved_relative,
    shadow_reason,
    symlink_reason,
    unsafe_reason,
)
from taskset.pytestconfig import CONFIG_NAMES
from taskset.repos import last_line, mirror, resolve_revision, run_git
from taskset.testfiles import is_test_path
from taskset.walk import walk

_IDENTITY = {
    "GIT_AUTHOR_NAME": "loopctl",
    "GIT_AUTHOR_EMAIL": "loopctl@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+00:00",
    "GIT_COMMITTER_NAME": "loopctl",
    "GIT_COMMITTER_EMAIL": "loopctl@localhost",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+00:00",
}
# Pinned so a caller's git config cannot translate line ends, start a gc or flatten symlinks.
_CONFIG = "[core]\n\tautocrlf = false\n\tsymlinks = true\n[gc]\n\tauto = 0\n"
# Build and test debris that must never show up in ws.diff().
_EXCLUDES = "__pycache__/\n*.py[cod]\n.pytest_cache/\n*.egg-info/\n"
_BYTECODE_SUFFIXES = (".pyc", ".pyo")

_SYMLINK = -1
_Snapshot = tuple[bytes, int] | None  # (content, mode) of a file, (target, _SYMLINK) of a link, None if absent


# Files whose pytest sections (addopts, plugins, testpaths) change how the tests run, wherever
# they sit: pytest reads the one nearest the tests.
TEST_CONFIG_FILES = CONFIG_NAMES

# Errors that say the machine failed a write, not that the candidate's path is bad.
_MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


class Workspace:
    """A throwaway work tree at one commit; use as a context manager so it is always removed."""

    def __init__(self, path: Path, base_commit: str, test_paths: tuple[str, ...], snapshot: dict[str, _Snapshot]):
        self.path = path
        """The work tree (a fresh git repository with exactly one commit)."""
        self.base_commit = base_commit
        self.test_paths = test_paths
        """Every path the test patch touches, repository-relative."""
        self._snapshot = snapshot
        self._import_roots: tuple[str, ...] = ()
        self._taken_names: frozenset[str] = frozenset()

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, git_dir: Path, base_commit: str, test_patch: str = "", root: Path | None = None) -> Workspace:
        """Materialise ``base_commit`` of ``git_dir`` in a new temp dir and apply ``test_patch``."""
        git_dir = Path(git_dir)
        sha = resolve_revision(git_dir, base_commit)
        if root is not None:
            Path(root).mkdir(parents=True, exist_ok=True)
        path = tempdirs.make("ws", root)
        try:
            _export(git_dir, sha, path)
            ws = cls(path, sha, (), {})
            if test_patch.strip():
                ws.test_paths = tuple(ws.apply_patch(test_patch, what="test patch", allow_tests=True))
            guarded = dict.fromkeys(ws.test_paths + tuple(_config_files(path)) + TEST_CONFIG_FILES)
            ws._snapshot = {rel: _read(path / rel) for rel in guarded}
        except BaseException:
            _remove_tree(path)
            raise
        return ws

    @classmethod
    def for_task(cls, task, root: Path | None = None) -> Workspace:
        """The workspace for a task: its base commit plus its test patch, from the cached mirror."""
        git_dir = mirror(task.clone_location, update=False)
        if not _has_commit(git_dir, task.base_commit):
            git_dir = mirror(task.clone_location)  # the cached mirror predates the task: fetch once
        return cls.create(git_dir, task.base_commit, task.test_patch, root=root)

    def close(self) -> None:
        """Delete the work tree; safe to call twice, and never raises (a leftover is only disk space)."""
        tempdirs.remove(self.path)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, base={self.base_commit[:12]})"

    # --- queries ---------------------------------------------------------------------------

    def is_protected(self, path: str) -> bool:
        """True for the test patch's paths and anything the test-file conventions call a test."""
        rel = normalise(path)
        return rel in self.test_paths or is_test_path(rel)

    def diff(self, exclude_tests: bool = False) -> str:
        """The workspace's changes against its base commit, as a git diff (binary-safe).

        With ``exclude_tests`` the test patch's paths are left out: what a candidate changed.
        """
        add = self._git("add", "-A")
        if add.returncode != 0:
            raise WorkspaceError(f"{self.path}: git add failed: {last_line(add.stderr)}")
        skip = [f":(exclude,literal){rel}" for rel in self.test_paths] if exclude_tests else []
        args = ["diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-renames", "HEAD"]
        done = self._git(*args, "--", ".", *skip)
        if done.returncode != 0:
            raise WorkspaceError(f"{self.path}: git diff failed: {last_line(done.stderr)}")
        return done.stdout.decode("utf-8", errors="replace")

    def guard_imports(self, import_roots: tuple[str, ...], taken: frozenset[str]) -> None:
        """From now on, refuse candidate paths that would create a new top-level module named in ``taken``.

        ``import_roots`` are the workspace folders the test run puts on ``sys.path``; ``taken``
        the names of the standard library, the environment's packages and pytest's own.
        """
        self._import_roots = tuple(dict.fromkeys(("",) + tuple(import_roots)))
        self._taken_names = frozenset(taken)

    # --- changes ---------------------------------------------------------------------------

    def apply_patch(self, diff: str, what: str = "patch", allow_tests: bool = False) -> list[str]:
        """Apply a unified/git diff after checking every path it names; returns those paths.

        Raises EditRefused (nothing applied) for an unsafe or protected path, PatchError when
        git cannot apply it. An empty diff changes nothing.
        """
        if not diff.strip():
            return []
        if not diff.endswith("\n"):
            diff += "\n"  # models drop the final newline; git calls that a corrupt patch
        strip = strip_level(diff)
        candidates = [diff]
        if "\r\n" in diff:
            candidates.append(diff.replace("\r\n", "\n"))  # a diff mangled to CRLF by its transport
        output = ""
        for text in candidates:
            try:
                payload = text.encode("utf-8", errors="surrogateescape")
            except UnicodeEncodeError:
                raise PatchError(what, "the diff is not valid text (a lone surrogate)") from None
            paths = self._check_all(self._named_paths(text, strip, what), allow_tests)
            if not allow_tests:  # the test patch comes from the repository's history, trusted like its tree
                self._check_links(text, strip)
            args = ["apply", f"-p{strip}", "--whitespace=nowarn", "--recount"]
            check = self._git(*args, "--check", input=payload)
            if check.returncode == 0:
                done = self._git(*args, input=payload)
                if done.returncode != 0:
                    raise PatchError(what, done.stderr.decode("utf-8", errors="replace"))
                if not allow_tests:
                    self._check_applied_links(paths)
                return paths
            output = check.stderr.decode("utf-8", errors="replace")
        raise PatchError(what, output)

    def apply_edits(self, files: Mapping[str, str | bytes | None], allow_tests: bool = False) -> list[str]:
        """Write whole files (None deletes); every path is checked before any is written."""
        paths = self._check_all(list(files), allow_tests)
        for rel, original in zip(paths, files, strict=True):
            problem = blocked_reason(self.path, rel)
            if problem:
                raise EditRefused(original, problem, kind=EditRefused.UNSAFE)
        payloads = [_encode(original, content) for original, content in files.items()]
        for rel, data in zip(paths, payloads, strict=True):
            try:
                _replace(self.path / rel, data)
            except OSError as exc:
                if exc.errno in _MACHINE_ERRNOS:
                    raise InfrastructureError(f"{self.path}: cannot write edits: {exc}",
                                              cause=InfraCause.DISK) from None
                raise EditRefused(rel, f"cannot be written: {exc.strerror or exc}", kind=EditRefused.UNSAFE) from None
        return paths

    def clear_bytecode(self) -> int:
        """Delete every ``__pycache__`` dir and ``*.pyc``/``*.pyo`` file outside ``.git``; returns the count."""
        return clear_bytecode(self.path)

    def restore_test_files(self) -> None:
        """Put every test-patch path back exactly as the test patch left it (content, mode, absence).

        The files that configure pytest (``TEST_CONFIG_FILES``, anywhere in the tree) go back too,
        and any the candidate added are removed: a fix may edit packaging, but its ``addopts``
        never reach the verdict run.
        """
        for rel in _config_files(self.path):
            if rel not in self._snapshot:
                (self.path / rel).unlink(missing_ok=True)
        for rel, saved in self._snapshot.items():
            target = self.path / rel
            clear_way(self.path, rel)
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                _remove_tree(target)
            if saved is not None:
                _write(target, saved[0], saved[1])

    # --- internals -------------------------------------------------------------------------

    def _git(self, *args: str, input: bytes | None = None):
        _reset_git_controls(self.path)
        return run_git(["-C", str(self.path), *args], input=input)

    def _named_paths(self, diff: str, strip: int, what: str) -> list[str]:
        """Paths from our own header parse plus git's own reading of the patch (``--numstat``)."""
        payload = diff.encode("utf-8", errors="surrogateescape")
        done = self._git("apply", f"-p{strip}", "--recount", "--numstat", "-z", input=payload)
        try:
            parsed = patch_paths(diff, strip)
        except ValueError as exc:
            raise PatchError(what, f"unreadable file header: {exc}") from None
        if done.returncode != 0 and not parsed:
            raise PatchError(what, done.stderr.decode("utf-8", errors="replace"))
        by_git = []
        for record in done.stdout.split(b"\0"):
            fields = record.split(b"\t", 2)
            if len(fields) == 3 and fields[2]:
                by_git.append(fields[2].decode("utf-8", errors="surrogateescape"))
        if not parsed and not by_git:
            raise PatchError(what, "no file headers (diff --git, ---/+++) found")
        return list(dict.fromkeys(parsed + by_git))

    def _check_applied_links(self, paths: list[str]) -> None:
        """After git applied a diff: every symlink it left among ``paths`` must stay inside (whatever
        spelling of the mode line got it past the header check)."""
        for rel in paths:
            target = self.path / rel
            if target.is_symlink():
                problem = symlink_reason(self.path, rel, os.readlink(target))
                if problem:
                    raise EditRefused(rel, problem, kind=EditRefused.UNSAFE)

    def _check_links(self, diff: str, strip: int) -> None:
        """Refuse a diff that would create a symlink pointing outside the work tree or into .git."""
        for link, target in symlink_targets(diff, strip):
            problem = symlink_reason(self.path, link, target)
            if problem:
                raise EditRefused(link, problem, kind=EditRefused.UNSAFE)

    def _check_all(self, paths: list[str], allow_tests: bool) -> list[str]:
        """Normalised paths, or EditRefused for the first unsafe (then the first protected) one."""
        normalised = []
        for original in paths:
            try:
                problem = unsafe_reason(self.path, original)
                if not problem and not allow_tests and self._taken_names:
                    problem = shadow_reason(self.path, normalise(original), self._import_roots, self._taken_names)
            except (OSError, RuntimeError, ValueError) as exc:  # a name the file system itself rejects
                problem = f"cannot be checked: {exc}"
            if problem:
                raise EditRefused(original, problem, kind=EditRefused.UNSAFE)
            normalised.append(normalise(original))
        if not allow_tests:
            for original, rel in zip(paths, normalised, strict=True):
                resolved = resolved_relative(self.path, rel)
                if self.is_protected(rel) or (resolved and self.is_protected(resolved)):
                    raise EditRefused(original, "the path belongs to the task's tests", kind=EditRefused.TOUCHES_TESTS)
        return normalised


def clear_bytecode(root: Path) -> int:
    """Delete every ``__pycache__`` dir and ``*.pyc``/``*.pyo`` file under ``root`` outside ``.git``.

    The one bytecode walk: the runner uses it for plain directories too.
    """
    root = Path(root)
    removed = 0
    for top, dirs, files in walk(root):
        if Path(top) == root and ".git" in dirs:
            dirs.remove(".git")
        for name in [d for d in dirs if d == "__pycache__"]:
            dirs.remove(name)
            _remove_tree(Path(top) / name)
            removed += 1
        for name in files:
            if name.endswith(_BYTECODE_SUFFIXES):
                (Path(top) / name).unlink(missing_ok=True)
                removed += 1
    return removed


def _config_files(root: Path) -> list[str]:
    """Relative paths of every pytest configuration file under ``root`` (``.git`` skipped)."""
    found = []
    for top, dirs, files in walk(root):
        if Path(top) == root and ".git" in dirs:
            dirs.remove(".git")
        rel_top = os.path.relpath(top, root)
        found += [name if rel_top == "." else f"{rel_top}/{name}" for name in files if name in CONFIG_NAMES]
    return found


def _export(git_dir: Path, sha: str, path: Path) -> None:
    """Copy only the base tree's objects into a new repository and commit that tree once."""
    mirror_git = ["--git-dir", str(git_dir)]
    tree_id = _must(run_git([*mirror_git, "rev-parse", f"{sha}^{{tree}}"]), "read the base tree").decode().strip()
    objects = _must(run_git([*mirror_git, "rev-list", "--objects", tree_id]), "list the tree")
    # No delta search (--window=0): it costs more than the smaller pack saves for a one-off copy.
    pack = _must(run_git([*mirror_git, "pack-objects", "--stdout", "-q", "--window=0"], input=objects), "pack")
    _must(run_git(["init", "-q", "--template=", str(path)]), "initialise the workspace")
    (path / ".git" / "config").write_bytes(_full_config())
    (path / ".git" / "info").mkdir(exist_ok=True)
    (path / ".git" / "info" / "exclude").write_text(_EXCLUDES)
    ws = ["-C", str(path)]
    # One pack file, not hundreds of loose objects: index-pack is several times faster.
    _must(run_git([*ws, "index-pack", "--stdin"], input=pack), "copy the tree's objects")
    commit = _must(run_git([*ws, "commit-tree", tree_id, "-m", "loopctl workspace"], env=_IDENTITY), "commit")
    _must(run_git([*ws, "update-ref", "HEAD", commit.decode().strip()]), "set HEAD")
    _must(run_git([*ws, "read-tree", "-u", "--reset", "HEAD"]), "check out the tree")


# Files in .git through which code under test could make our next git command run its commands
# (a clean/smudge filter, fsmonitor, hooks) or read objects from elsewhere (alternates).
_GIT_FORBIDDEN = ("info/attributes", "info/grafts", "objects/info/alternates", "objects/info/http-alternates")


def _reset_git_controls(path: Path) -> None:
    """Put the workspace's git configuration back as created, before every git command we run in it.

    Tests run with the workspace writable (and without a sandbox, its ``.git`` too): what they
    left there must never reach a git process of ours, which runs unconfined.
    """
    git = path / ".git"
    if not git.is_dir() or git.is_symlink():
        raise WorkspaceError(f"{path}: .git is no longer the workspace's repository")
    for rel, content in ((".git/config", _full_config()), (".git/info/exclude", _EXCLUDES.encode())):
        target = path / rel
        if target.is_symlink() or not target.is_file() or target.read_bytes() != content:
            target.unlink(missing_ok=True)
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(content)
    for rel in _GIT_FORBIDDEN:
        (git / rel).unlink(missing_ok=True)
    hooks = git / "hooks"
    if hooks.is_symlink() or hooks.is_file():
        hooks.unlink()
    elif hooks.is_dir():
        for hook in hooks.iterdir():
            _remove_tree(hook) if hook.is_dir() and not hook.is_symlink() else hook.unlink()


@functools.cache
def _full_config() -> bytes:
    """The workspace's .git/config as ``git init`` plus ours writes it (the same for every workspace)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="loopctl-config-") as tmp:
        _must(run_git(["init", "-q", "--template=", tmp]), "initialise a scratch repository")
        with open(Path(tmp) / ".git" / "config", "a", encoding="utf-8") as config:
            config.write(_CONFIG)
        return (Path(tmp) / ".git" / "config").read_bytes()


def _must(done, doing: str) -> bytes:
    if done.returncode != 0:
        raise WorkspaceError(f"cannot {doing}: {last_line(done.stderr)}")
    return done.stdout


def _has_commit(git_dir: Path, rev: str) -> bool:
    return run_git(["--git-dir", str(git_dir), "cat-file", "-e", f"{rev}^{{commit}}"]).returncode == 0


def _read(path: Path) -> _Snapshot:
    if path.is_symlink():
        return os.fsencode(os.readlink(path)), _SYMLINK
    if path.is_file():
        return path.read_bytes(), path.stat().st_mode & 0o777
    return None


def _encode(path: str, content: object) -> bytes | None:
    """An edit's content as bytes (None stays None: a deletion); other types are a caller's bug."""
    if content is None or isinstance(content, bytes):
        return content
    if isinstance(content, str):
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError:
            raise EditRefused(path, "the content is not valid text (a lone surrogate)",
                              kind=EditRefused.UNSAFE) from None
    raise TypeError(f"edit to {path!r}: content must be str, bytes or None, not {type(content).__name__}")


def _replace(target: Path, data: bytes | None) -> None:
    """Write (keeping an existing file's mode) or delete one file; a symlink is replaced, not followed."""
    if data is None:
        if target.is_symlink() or target.exists():
            target.unlink()
        return
    mode = target.stat().st_mode & 0o777 if target.is_file() and not target.is_symlink() else 0o644
    _write(target, data, mode)


def _write(target: Path, data: bytes, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()  # replace the link itself; never write through it
    if mode == _SYMLINK:
        os.symlink(os.fsdecode(data), target)
        return
    with open(target, "wb") as handle:
        handle.write(data)
    os.chmod(target, mode)


def _remove_tree(path: Path) -> None:
    def retry(func, name, _exc):
        os.chmod(os.path.dirname(name), stat.S_IRWXU)
        func(name)

    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=retry)
