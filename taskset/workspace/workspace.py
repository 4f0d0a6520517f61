"""A workspace: the tree at ``base_commit`` with no history past it, where candidates are tried.

Its repository holds the base tree's objects and one commit (``gitdir``): no clone, no alternates,
no hardlinks, so nothing inside the workspace can lead to the fix commit or the gold patch. Every
path of an edit or a diff is checked (``pathsafety``) before anything is written (``files``).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path

from taskset.errors import EditRefused, InfraCause, InfrastructureError, PatchError, WorkspaceError
from taskset.files import tempdirs
from taskset.files.walk import walk
from taskset.workspace.diffpaths import patch_paths, strip_level, symlink_targets
from taskset.workspace.files import (
    Snapshot,
    clear_bytecode,
    encode_edit,
    remove_tree,
    replace_file,
    snapshot_of,
    write_file,
)
from taskset.workspace.gitdir import export_tree, has_commit, reset_git_controls
from taskset.workspace.mirrors import last_line, mirror, resolve_revision, run_git
from taskset.workspace.pathsafety import (
    blocked_reason,
    clear_way,
    normalise,
    resolved_relative,
    shadow_reason,
    symlink_reason,
    unsafe_reason,
)
from taskset.workspace.pytestconfig import CONFIG_NAMES
from taskset.workspace.testfiles import is_test_path

# Files whose pytest sections (addopts, plugins, testpaths) change how the tests run, wherever
# they sit: pytest reads the one nearest the tests.
TEST_CONFIG_FILES = CONFIG_NAMES

# Errors that say the machine failed a write, not that the candidate's path is bad.
_MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


class Workspace:
    """A throwaway work tree at one commit; use as a context manager so it is always removed."""

    def __init__(self, path: Path, base_commit: str, test_paths: tuple[str, ...], snapshot: dict[str, Snapshot]):
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
            export_tree(git_dir, sha, path)
            ws = cls(path, sha, (), {})
            if test_patch.strip():
                ws.test_paths = tuple(ws.apply_patch(test_patch, what="test patch", allow_tests=True))
            guarded = dict.fromkeys(ws.test_paths + tuple(_config_files(path)) + TEST_CONFIG_FILES)
            ws._snapshot = {rel: snapshot_of(path / rel) for rel in guarded}
        except BaseException:
            remove_tree(path)
            raise
        return ws

    @classmethod
    def for_task(cls, task, root: Path | None = None) -> Workspace:
        """The workspace for a task: its base commit plus its test patch, from the cached mirror."""
        git_dir = mirror(task.clone_location, update=False)
        if not has_commit(git_dir, task.base_commit):
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

    def restored_files(self) -> dict[str, Snapshot]:
        """What ``restore_test_files`` puts back: each path's (content, mode), link, or None for absent."""
        return dict(self._snapshot)

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
        payloads = [encode_edit(original, content) for original, content in files.items()]
        for rel, data in zip(paths, payloads, strict=True):
            try:
                replace_file(self.path / rel, data)
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
                remove_tree(target)
            if saved is not None:
                write_file(target, saved[0], saved[1])

    # --- internals -------------------------------------------------------------------------

    def _git(self, *args: str, input: bytes | None = None):
        reset_git_controls(self.path)
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


def _config_files(root: Path) -> list[str]:
    """Relative paths of every pytest configuration file under ``root`` (``.git`` skipped)."""
    found = []
    for top, dirs, files in walk(root):
        if Path(top) == root and ".git" in dirs:
            dirs.remove(".git")
        rel_top = os.path.relpath(top, root)
        found += [name if rel_top == "." else f"{rel_top}/{name}" for name in files if name in CONFIG_NAMES]
    return found


