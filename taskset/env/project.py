"""The project's own files in a freshly built environment: found, copied out, taken out, checked gone.

An environment is shared by every tree whose dependency files match, so it may keep no version of
the project (docs/environments.md): the ladder installs the project (its build runs and its
dependencies resolve as its metadata says), then ``Installer.take_out_project`` copies what the
build produced that the tree lacks (a ``_version.py`` from setuptools-scm or hatch-vcs, a C
extension: cached per tree by ``taskset.env.treebuild``), uninstalls the project and checks
with :func:`leftovers` that nothing of it is left in site-packages. Then its metadata alone goes
back (:func:`keep_metadata`, :func:`restore_metadata`): a project that reads its own version
(``importlib.metadata.version(__name__)``, common from 2019 on) imports from the workspace and
still finds its distribution. The metadata holds no code: name, version, requirements, entry points
(less any ``pytest11`` plugin, which pytest would load as the environment's own).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from taskset.env import layout
from taskset.env.requirements import normalize, requirement_name

GENERATED_LIMIT = 64 * 1024
"""Bytes of one generated ``.py`` module kept (version files are a few lines)."""
EXTENSION_LIMIT = 256 * 1024 * 1024
"""Bytes of one compiled extension module kept."""
EXTENSION_SUFFIXES = (".so", ".pyd")
"""Compiled extension modules (``_speedups.cpython-311-x86_64-linux-gnu.so``)."""


def site_packages(venv: Path) -> list[Path]:
    """The environment's site-packages folders (or ``venv`` itself: a ``--target`` folder)."""
    found = sorted(Path(venv).glob("lib/python*/site-packages"))
    return found or [Path(venv)]


def find_dist(site: Path, source: Path, name: str = "") -> Path | None:
    """The project's ``*.dist-info`` in ``site``: the one installed from ``source`` (its
    ``direct_url.json``), else the one named ``name``."""
    uri = Path(source).resolve().as_uri().rstrip("/")
    infos = sorted(Path(site).glob("*.dist-info"))
    for info in infos:
        try:
            direct = json.loads((info / "direct_url.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(direct, dict) and str(direct.get("url", "")).rstrip("/") == uri:
            return info
    wanted = normalize(name) if name else ""
    return next((info for info in infos if wanted and normalize(dist_name(info)) == wanted), None)


def dist_name(info: Path) -> str:
    """The distribution name of a ``name-1.0.dist-info`` folder."""
    return info.name.removesuffix(".dist-info").rsplit("-", 1)[0]


def recorded(info: Path) -> list[str]:
    """The site-relative paths a dist-info's RECORD lists (scripts outside site-packages start with ``..``)."""
    try:
        text = (info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [row.split(",", 1)[0] for row in text.splitlines() if row.strip()]


def built_files(site: Path, info: Path, source: Path) -> dict[str, Path]:
    """Modules the project's build wrote that its tree lacks: repository-relative path -> file in ``site``.

    Generated ``.py`` files (``_version.py``) and compiled extensions, placed where the tree's
    package of the same name is (under ``src/`` or at the top); a top-level extension goes into the
    tree's first import root. Tests import the workspace's code; without these it fails to import.
    """
    tracked = tracked_files(source)
    roots = tuple(source / entry for entry in layout.pythonpath(source))
    found: dict[str, Path] = {}
    for rel in recorded(info):
        extension = rel.endswith(EXTENSION_SUFFIXES)
        if rel.startswith("..") or ".dist-info/" in rel or not (extension or rel.endswith(".py")):
            continue
        package = rel.rsplit("/", 1)[0] if "/" in rel else ""
        if package:
            base = next((b for b in roots if (b / package).is_dir()), None)
        else:  # a top-level module: only an extension is worth placing (a .py would be tracked)
            base = roots[0] if extension else None
        if base is None:
            continue
        target = (base / rel).relative_to(source).as_posix()
        # a build hook may have written it into the tree just now: what git tracks decides
        absent = target not in tracked if tracked is not None else not (base / rel).exists()
        limit = EXTENSION_LIMIT if extension else GENERATED_LIMIT
        path = site / rel
        if absent and path.is_file() and path.stat().st_size <= limit:
            found[target] = path
    return found


def leftovers(site: Path, source: Path, info_name: str, files: list[str]) -> list[str]:
    """What of the project is still in ``site`` after its uninstall, or []: files its RECORD listed,
    its dist-info, a ``.pth`` or ``.egg-link`` naming its tree."""
    site = Path(site)
    left = [rel for rel in files if not rel.startswith("..") and ((site / rel).exists() or (site / rel).is_symlink())]
    if info_name and (site / info_name).exists():
        left.append(info_name)
    tree = str(Path(source).resolve())
    for link in [*site.glob("*.pth"), *site.glob("*.egg-link")]:
        try:
            if tree in link.read_text(encoding="utf-8", errors="replace"):
                left.append(link.name)
        except OSError:
            continue
    return sorted(set(left))


def tracked_files(source: Path) -> set[str] | None:
    """The files git tracks in ``source`` (None when it is not a work tree)."""
    done = subprocess.run(["git", "-C", str(source), "ls-files", "-z"], capture_output=True)
    if done.returncode != 0:
        return None
    return set(done.stdout.decode("utf-8", errors="surrogateescape").split("\0")) - {""}


METADATA_FILES = ("METADATA", "entry_points.txt", "top_level.txt", "INSTALLER")
"""What of a dist-info goes back after the uninstall: the distribution's description, no file of code."""


def keep_metadata(info: Path) -> dict[str, bytes]:
    """The metadata files of ``info`` to put back after the uninstall (``pytest11`` entry points left out)."""
    kept = {}
    for name in METADATA_FILES:
        try:
            data = (info / name).read_bytes()
        except OSError:
            continue
        kept[name] = _without_pytest_plugins(data) if name == "entry_points.txt" else data
    return kept


def restore_metadata(site: Path, info_name: str, kept: dict[str, bytes]) -> None:
    """Write a metadata-only ``info_name`` into ``site``: the kept files and a RECORD naming just them."""
    if "METADATA" not in kept:
        return
    info = Path(site) / info_name
    info.mkdir()
    for name, data in kept.items():
        (info / name).write_bytes(data)
    rows = [f"{info_name}/{name},," for name in (*kept, "RECORD")]
    (info / "RECORD").write_text("\n".join(rows) + "\n", encoding="utf-8")


def required_by(site: Path, name: str) -> list[str]:
    """The distributions in ``site`` that require ``name`` outside any extra (``Requires-Dist``):
    a project pytest itself needs (iniconfig, pluggy, packaging ...) cannot simply be taken out."""
    wanted = normalize(name)
    found = []
    for info in sorted(Path(site).glob("*.dist-info")):
        try:
            text = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if not line.startswith("Requires-Dist:") or "extra==" in "".join(line.split()):
                continue
            if normalize(requirement_name(line.split(":", 1)[1].strip())) == wanted:
                found.append(dist_name(info))
                break
    return found


def _without_pytest_plugins(data: bytes) -> bytes:
    """entry_points.txt without its ``[pytest11]`` section (a plugin in the workspace is the candidate's)."""
    lines, skipping = [], False
    for line in data.decode("utf-8", errors="replace").splitlines():
        if line.strip().startswith("["):
            skipping = line.strip() == "[pytest11]"
        if not skipping:
            lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8")
