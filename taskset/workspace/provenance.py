"""Honest metadata about where a task comes from: the repository's own version and its public URL.

SWE-bench's ``version`` is the repository's release at ``base_commit`` (``"2.0"`` for requests
2.0.1), never the Python version; ``repo_url`` is somewhere anyone can clone from, never a path
on the miner's machine. Both are computed once, when the miner builds the Task.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from taskset.workspace.mirrors import is_url, run_git

_VERSION = re.compile(r"\d+(?:\.\d+)*(?:[-._+]?[A-Za-z0-9]+)*")
_ASSIGNED = re.compile(r"""^__version__\s*(?::\s*str\s*)?=\s*['"]([^'"]+)['"]""", re.M)
_SETUP_PY = re.compile(r"""\bversion\s*=\s*['"]([^'"]+)['"]""")
_SCP = re.compile(r"^(?:[^@/:]+@)?([^/:]+):(?!//)(.+)$")
_VERSION_FILES = ("__init__.py", "_version.py", "version.py", "__about__.py", "__version__.py")


def release_version(git_dir: str | Path, commit: str) -> str:
    """The repository's own version at ``commit``: packaging metadata first, else the nearest tag; ``""`` if none.

    Read from the commit's tree (``pyproject.toml`` ``[project]``/``[tool.poetry]``, ``setup.cfg``,
    a literal ``version=`` in ``setup.py``, a ``__version__`` in the package), so a dynamic
    version (setuptools-scm) falls through to ``git describe --tags``.
    """
    tree = _Tree(Path(git_dir), commit)
    for finder in (_from_pyproject, _from_setup_cfg, _from_setup_py, _from_package):
        found = finder(tree)
        if found and _VERSION.fullmatch(found):
            return found
    return _nearest_tag(tree)


def tag_version(git_dir: str | Path, commit: str) -> str:
    """The version of the nearest tag at or before ``commit`` (``v1.2.0`` -> ``1.2.0``), as PEP 440
    normalizes it; "" when no tag reads as a version. What setuptools-scm would find in a full clone
    (less the distance), handed to builds of a history-free workspace that has no tags."""
    from packaging.version import InvalidVersion, Version

    found = _nearest_tag(_Tree(Path(git_dir), commit))
    try:
        return str(Version(found)) if found else ""
    except InvalidVersion:
        return ""


def public_url(location: str, clone_dir: str | Path | None = None) -> str:
    """Where anyone can clone the repository from, or ``""`` when that is not known.

    A network URL passed to ``--repo`` is it (credentials removed; ``git@host:o/n`` becomes
    ``https://host/o/n``). For a local clone, its ``origin`` remote is used when that is a network
    URL. Paths, ``file://`` URLs and bundles are private to one machine and never returned.
    """
    if is_url(location):
        return _publishable(location)
    path = Path(clone_dir or location).expanduser()
    if not path.is_dir():
        return ""  # a bundle, or gone
    done = run_git(["config", "--get", "remote.origin.url"], cwd=path,
                   env={"GIT_CEILING_DIRECTORIES": str(path.absolute().parent)})
    remote = done.stdout.decode("utf-8", errors="replace").strip() if done.returncode == 0 else ""
    return _publishable(remote) if remote and is_url(remote) else ""


def _publishable(url: str) -> str:
    scp = _SCP.match(url) if "://" not in url else None
    if scp:
        url = f"https://{scp.group(1)}/{scp.group(2)}"
    parts = urlsplit(url)
    if parts.scheme in ("", "file") or not parts.hostname:
        return ""
    scheme = "https" if parts.scheme in ("ssh", "git+ssh", "git") else parts.scheme
    host = parts.hostname + (f":{parts.port}" if parts.port and scheme == parts.scheme else "")
    return urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))


class _Tree:
    """Files of one commit, read with ``git show`` (no checkout)."""

    def __init__(self, git_dir: Path, commit: str):
        self.git_dir = git_dir
        self.commit = commit

    def read(self, path: str) -> str | None:
        done = run_git(["--git-dir", str(self.git_dir), "show", f"{self.commit}:{path}"])
        return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None

    def files(self, depth: int = 3) -> list[str]:
        done = run_git(["--git-dir", str(self.git_dir), "ls-tree", "-r", "-z", "--name-only", self.commit])
        names = done.stdout.decode("utf-8", errors="replace").split("\0") if done.returncode == 0 else []
        return [name for name in names if name and name.count("/") < depth]


def _from_pyproject(tree: _Tree) -> str:
    text = tree.read("pyproject.toml")
    if text is None:
        return ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ""
    project = data.get("project", {})
    for value in (project.get("version"), data.get("tool", {}).get("poetry", {}).get("version")):
        if isinstance(value, str):
            return value.strip()
    return ""


def _from_setup_cfg(tree: _Tree) -> str:
    text = tree.read("setup.cfg")
    if text is None:
        return ""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return ""
    value = parser.get("metadata", "version", fallback="").strip()
    return "" if value.startswith(("attr:", "file:")) else value


def _from_setup_py(tree: _Tree) -> str:
    text = tree.read("setup.py")
    found = _SETUP_PY.search(text or "")
    return found.group(1).strip() if found else ""


def _from_package(tree: _Tree) -> str:
    """A literal ``__version__`` in a top-level or ``src/`` package (shallowest file first)."""
    candidates = [name for name in tree.files() if name.rsplit("/", 1)[-1] in _VERSION_FILES
                  and not name.startswith(("tests/", "test/", "docs/"))]
    for name in sorted(candidates, key=lambda n: (n.count("/"), n)):
        found = _ASSIGNED.search(tree.read(name) or "")
        if found:
            return found.group(1).strip()
    return ""


def _nearest_tag(tree: _Tree) -> str:
    done = run_git(["--git-dir", str(tree.git_dir), "describe", "--tags", "--abbrev=0", tree.commit])
    tag = done.stdout.decode("utf-8", errors="replace").strip() if done.returncode == 0 else ""
    found = re.search(r"\d+(?:\.\d+)+[A-Za-z0-9.+-]*", tag)
    return found.group(0) if found else ""
