"""Bare mirrors of the repositories we mine, kept in the cache: cloned once, fetched later.

Everything loopctl does to a repository happens in its own mirror under
``cache_dir()/repos/``, never in the user's repository: a local source is only ever read
(``clone --mirror --no-hardlinks``, then ``fetch``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from taskset.errors import RepositoryError
from taskset.files.cache import cache_dir

# A caller's GIT_DIR (say, inside a git hook) must not redirect our git commands.
_LEAKY_GIT_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)")  # git@github.com:owner/name.git
_BUNDLE_HEADERS = (b"# v2 git bundle", b"# v3 git bundle")


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git args`` with a clean git environment; never raises on a non-zero exit."""
    full_env = {k: v for k, v in os.environ.items() if k not in _LEAKY_GIT_VARS}
    full_env["GIT_TERMINAL_PROMPT"] = "0"  # a private URL must fail, not wait for a password
    # A replace ref (refs/replace/<base> -> <fix>) planted in a mirror must never swap the trees we read.
    full_env["GIT_NO_REPLACE_OBJECTS"] = "1"
    full_env.update(env or {})
    # No terminal and no stdin: ssh asking about a host key must fail, never hang an unattended run.
    stdin = None if input is not None else subprocess.DEVNULL
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=full_env, input=input, stdin=stdin, capture_output=True, start_new_session=True
        )
    except FileNotFoundError:
        raise RepositoryError("git", "the git executable was not found on PATH") from None


def last_line(output: bytes) -> str:
    """The last non-empty line of a command's output, decoded leniently (for one-line errors)."""
    lines = [line.strip() for line in output.decode("utf-8", errors="replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1] if lines else "(no output)"


def error_line(output: bytes) -> str:
    """The line of git's output that says what went wrong (its first ``fatal:``/``error:`` line),
    else the last line: git ends "does not appear to be a git repository" with advice."""
    lines = [line.strip() for line in output.decode("utf-8", errors="replace").splitlines() if line.strip()]
    flagged = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return (flagged[0] if flagged else lines[-1] if lines else "(no output)").removeprefix("fatal: ")


def is_url(location: str) -> bool:
    """True for ``scheme://`` URLs and scp-style ``user@host:path`` remotes."""
    if _URL.match(location):
        return True
    return bool(_SCP.match(location)) and not Path(location).exists()


def repo_name(location: str) -> str:
    """``owner/name`` for a URL; ``local/<dirname or bundle stem>`` for local paths and bundles."""
    if location.startswith("file://"):
        return _local_name(Path(location[len("file://") :]))
    if not is_url(location):
        return _local_name(_local_path(location))
    path = _URL.sub("", location, count=1) if _URL.match(location) else location.split(":", 1)[1]
    parts = [_strip_git(p) for p in path.split("/") if p]
    if _URL.match(location):
        parts = parts[1:]  # the host
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return f"local/{parts[-1] if parts else 'repository'}"


def _local_name(path: Path) -> str:
    if path.suffix == ".bundle" or path.is_file():
        name = path.stem  # a bundle
    elif path.name == ".git":
        name = path.parent.name
    else:
        name = _strip_git(path.name)
    return f"local/{name or 'repository'}"


def mirror(location: str, update: bool = True) -> Path:
    """A bare mirror of ``location`` in the cache: cloned on first use, fetched when ``update``.

    ``location`` is an https/ssh/file:// URL, a working tree, a bare repository or a git bundle.
    Raises RepositoryError (one line) when it is not a repository, cannot be cloned or is empty.
    """
    key = _normalise(location)
    dest = cache_dir() / "repos" / f"{_slug(repo_name(location))}-{_short_hash(key)}"
    if not update and _healthy(dest):
        return dest
    from filelock import FileLock  # loaded when a mirror is needed, not by `import taskset`

    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock"):
        if dest.exists() and not _healthy(dest):
            # a damaged mirror (HEAD or refs gone, not a repository any more) is the cache's
            # fault, not the repository's: move it aside and clone again
            _discard(dest)
        if (dest / "HEAD").is_file():
            if update:
                _fetch(location, dest)
        else:
            _clone(location, _clone_source(location), dest)
    return dest


def resolve_revision(git_dir: Path, rev: str) -> str:
    """The full sha of the commit ``rev`` names in ``git_dir``; RepositoryError if there is none."""
    if not rev or rev.startswith("-"):
        raise RepositoryError(str(git_dir), f"unknown revision {rev!r}")
    done = run_git(["--git-dir", str(git_dir), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
    if done.returncode != 0:
        if run_git(["--git-dir", str(git_dir), "rev-parse", "--git-dir"]).returncode != 0:
            raise RepositoryError(str(git_dir), "not a git repository")
        raise RepositoryError(str(git_dir), f"unknown revision {rev!r}")
    return done.stdout.decode("ascii", errors="replace").strip()


def _normalise(location: str) -> str:
    """The cache key: one mirror for ``.../name``, ``.../name/`` and ``.../name.git`` of a remote."""
    if is_url(location):
        url = location.rstrip("/")
        return url if url.startswith("file://") else _strip_git(url)
    return str(_local_path(location))


def _local_path(location: str) -> Path:
    return Path(location).expanduser().absolute()


def _strip_git(name: str) -> str:
    return name[: -len(".git")] if name.endswith(".git") and name != ".git" else name


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name.replace("/", "__")).strip("-.") or "repository"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()[:12]


def _clone_source(location: str) -> str:
    """What to hand ``git clone``: the URL, the bundle file, or the repository's own git dir."""
    if is_url(location):
        return location
    path = _local_path(location)
    if not path.exists():
        raise RepositoryError(location, "no such file or directory")
    if path.is_file():
        if path.suffix != ".bundle" and not _looks_like_bundle(path):
            raise RepositoryError(location, "not a git repository or bundle")
        return str(path)
    # The ceiling stops git from finding an enclosing repository above ``path``.
    done = run_git(
        ["rev-parse", "--absolute-git-dir"],
        cwd=path,
        env={"GIT_CEILING_DIRECTORIES": str(path.parent)},
    )
    if done.returncode != 0:
        raise RepositoryError(location, "not a git repository")
    return done.stdout.decode("utf-8", errors="surrogateescape").strip()


def _looks_like_bundle(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    return head.startswith(_BUNDLE_HEADERS)


def _clone(location: str, source: str, dest: Path) -> None:
    """Clone into a temp dir beside ``dest``, check it has commits, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        target = staging / "mirror.git"
        done = run_git(["clone", "--mirror", "--no-hardlinks", "--quiet", "--", source, str(target)])
        if done.returncode != 0:
            problem = "bundle invalid" if Path(source).is_file() else "cannot clone"
            raise RepositoryError(location, f"{problem}: {error_line(done.stderr)}")
        if not _has_commits(target):
            raise RepositoryError(location, "empty repository (no commits)")
        os.rename(target, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch(location: str, dest: Path) -> None:
    done = run_git(["--git-dir", str(dest), "fetch", "--prune", "--quiet", "origin"])
    if done.returncode != 0:
        raise RepositoryError(location, f"cannot fetch: {last_line(done.stderr)}")


def _healthy(git_dir: Path) -> bool:
    """A bare repository git can read, with at least one ref."""
    return (git_dir / "HEAD").is_file() and _has_commits(git_dir)


def _discard(path: Path) -> None:
    """Remove a damaged cache entry: renamed aside first, so a crash midway never leaves half of it in place."""
    aside = path.with_name(f".{path.name}.damaged.{os.getpid()}")
    try:
        os.rename(path, aside)
    except OSError:
        aside = path
    shutil.rmtree(aside, ignore_errors=True)
    if path.exists():
        raise RepositoryError(str(path), "damaged mirror could not be removed; delete it and retry")


def _has_commits(git_dir: Path) -> bool:
    done = run_git(["--git-dir", str(git_dir), "for-each-ref", "--count=1", "--format=%(objectname)"])
    return done.returncode == 0 and bool(done.stdout.strip())
