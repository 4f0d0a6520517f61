"""Hermetic test setup: pinned git identities and dates, caches under pytest's tmp, no API keys.

Environments (virtualenvs from the package index) are expensive, so the loopctl cache and uv's
cache live in one session-wide tmp directory: the first test that needs an environment builds it,
the rest reuse it, exactly as a user's warm cache would.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

# A suite started in the background of a non-interactive shell (``cmd &``, nohup) inherits SIGINT
# ignored, and so does every process it starts (an ignored signal stays ignored across exec): the
# Ctrl-C tests' interrupts would reach nobody. A handler, unlike SIG_IGN, is reset to the default
# by exec, so each process the tests start takes Ctrl-C as a user's terminal would deliver it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET")
KEPT = ("LOOPCTL_SANDBOX", "LOOPCTL_HARBOR_VENV")
"""Kept from the caller: which sandbox the suite runs tests in (CI runs it once per kind); the
Python 3.12 venv with Harbor that CI made once (tests/test_harbor.py)."""


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """A cache directory shared by every test of the session."""
    return tmp_path_factory.mktemp("loopctl-cache")


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Loop Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.invalid",
    "GIT_COMMITTER_NAME": "Loop Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.invalid",
    "GIT_AUTHOR_DATE": "2024-03-01T12:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-03-01T12:00:00+00:00",
}
"""The commit identity and dates every test repository is made with (reproducible shas)."""


def pin_environment(patch: pytest.MonkeyPatch, root: Path, session_cache: Path) -> None:
    """Pin what makes runs differ between machines and strip what must never leak into tests.

    ``root`` holds the private HOME and git config; the caches are the session's.
    """
    for name in list(os.environ):
        if name.endswith(SECRET_SUFFIXES) or (name.startswith(("GIT_", "LOOPCTL_")) and name not in KEPT):
            patch.delenv(name, raising=False)
    identity = {
        **GIT_IDENTITY,
        "GIT_CONFIG_GLOBAL": str(root / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LOOPCTL_CACHE": str(session_cache / "loopctl"),
        "UV_CACHE_DIR": str(session_cache / "uv"),
        "HOME": str(root / "home"),
    }
    for name, value in identity.items():
        patch.setenv(name, value)
    (root / "home").mkdir(exist_ok=True)
    (root / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n"
                                    "[user]\n\tname = Loop Tester\n\temail = tester@example.invalid\n")


@pytest.fixture(scope="session", autouse=True)
def hermetic_session(tmp_path_factory, session_cache):
    """The same pins for fixtures of every scope: session and module fixtures run before ``hermetic``.

    Without it, a module-scoped fixture that commits with git depends on the machine's global
    identity (``git commit`` exits 128 under an empty HOME).
    """
    with pytest.MonkeyPatch.context() as patch:
        pin_environment(patch, tmp_path_factory.mktemp("hermetic"), session_cache)
        yield


@pytest.fixture(autouse=True)
def hermetic(monkeypatch, tmp_path, session_cache):
    """Per test: its own HOME and git config under its tmp_path, on top of the session's pins."""
    pin_environment(monkeypatch, tmp_path, session_cache)


class GitRepo:
    """A real git repository in a tmp dir, built commit by commit."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        """Run git in the repository and return its stdout."""
        done = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, with None, delete) files relative to the repository root."""
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def commit(self, message: str, files: dict[str, str | None], date: str | None = None) -> str:
        """Write files, commit everything, return the new commit's sha."""
        self.write(files)
        self.git("add", "-A")
        env = {}
        if date:
            env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        subprocess.run(
            ["git", "commit", "-q", "-m", message],
            cwd=self.path,
            check=True,
            env={**os.environ, **env},
        )
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def make_repo(tmp_path):
    """Factory: ``make_repo("name")`` gives an empty GitRepo under tmp_path."""

    def factory(name: str = "repo") -> GitRepo:
        return GitRepo(tmp_path / name)

    return factory


# --- environment fixtures (taskset.env.environment) ---
# ``python_project_env``: one real environment (uv venv + pytest, resolved as of a fixed date) for
# a minimal flat-layout project, built once per session in the session cache. Any flat project
# whose tests need only pytest can run in it: environments never hold the project, the runner
# imports it from the workspace. Never install into it; build your own with
# ``ensure_environment`` (same session cache: the second build of anything is a cache hit).
PROJECT_ENV_DATE = "2025-06-01"


def write_minimal_project(root: Path, name: str = "loopctl_sample_env", extras: str = "") -> Path:
    """A tiny installable project: pyproject (optional ``[project.optional-dependencies]`` body) + one module."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\n\n[tool.setuptools]\npy-modules = ["{name}"]\n'
        + (f"\n[project.optional-dependencies]\n{extras}\n" if extras else "")
    )
    (root / f"{name}.py").write_text("VALUE = 1\n")
    return root


@pytest.fixture(scope="session")
def python_project_env(tmp_path_factory, session_cache):
    """A ready Environment (pytest installed) shared by the whole session; see the comment above."""
    from taskset.env.environment import ensure_environment

    source = write_minimal_project(tmp_path_factory.mktemp("env-project") / "project")
    return ensure_environment(source, resolution_date=PROJECT_ENV_DATE)  # caches: ``hermetic_session``
# --- end environment fixtures ---

# --- sample repository fixtures ---
# The shipped sample (sample/build_sample_repo.py), built once per session. Treat the repository
# as read-only: it is shared by every test; clone it (or use the bundle) to write.
SAMPLE_BUILDER = Path(__file__).resolve().parents[1] / "sample" / "build_sample_repo.py"


def load_script(name: str, path: Path):
    """The script at ``path`` imported by path (it is not in a package), once, as module ``name``."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_sample_builder():
    """The builder module, imported by path (it is a script, not a package)."""
    return load_script("loopctl_sample_builder", SAMPLE_BUILDER)


@pytest.fixture(scope="session")
def sample_module():
    """The builder module: ``GENUINE``, ``DECOYS``, ``ORDINARY``, ``HISTORY``, ``build``."""
    return load_sample_builder()


@pytest.fixture(scope="session")
def _sample_build(tmp_path_factory, sample_module) -> tuple[Path, Path, dict[str, str]]:
    """Build the sample repository and its bundle once: (repo, bundle, subject -> sha)."""
    root = tmp_path_factory.mktemp("sample")
    repo, bundle = root / "calclib", root / "calclib.bundle"
    shas = sample_module.build(repo, bundle)
    return repo, bundle, shas


@pytest.fixture(scope="session")
def sample_repo(_sample_build) -> Path:
    """Path of the built sample repository (a normal clone with a work tree at main)."""
    return _sample_build[0]


@pytest.fixture(scope="session")
def sample_bundle(_sample_build) -> Path:
    """Path of a git bundle holding all of the sample repository's refs."""
    return _sample_build[1]


@pytest.fixture(scope="session")
def sample_commits(_sample_build) -> dict[str, str]:
    """Commit subject -> sha of the sample repository, in history order."""
    return dict(_sample_build[2])


@pytest.fixture(scope="session")
def mined_sample(tmp_path_factory, session_cache, sample_repo) -> tuple[Path, dict]:
    """The sample mined once per session with two jobs: (task set dir, the --json summary).

    Read-only: a test that changes a task set copies this one first (shutil.copytree).
    """
    import json

    from click.testing import CliRunner

    from cli import cli

    out = tmp_path_factory.mktemp("mined") / "ts"
    result = CliRunner().invoke(cli, ["mine", "--repo", str(sample_repo), "--out", str(out), "--jobs", "2",
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)
# --- end sample repository fixtures ---

# --- ray fixtures (only tests that name Ray use them) ---
# One local Ray cluster (2 CPUs) per session, started in this process on first use and shut down
# at the end: Ray takes seconds and about half a gigabyte to start, so no test starts its own.
# Its workers inherit the environment it was started with: the session's caches (the environments
# the local pool built are reused, as on a warm node) and the pinned git identity.


@dataclass(frozen=True)
class RayCluster:
    """The session's Ray cluster: its address, and the environment a driver in a subprocess connects with."""

    address: str
    env: dict


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory, session_cache):
    """Start (once) and connect this process to a 2-CPU local Ray cluster; skip when Ray is not installed."""
    import shutil
    import tempfile

    ray = pytest.importorskip("ray")
    home = tmp_path_factory.mktemp("ray-home")
    temp = tempfile.mkdtemp(prefix="lc-ray-")  # short: Ray's socket paths must fit in 107 bytes
    workers = {
        # the tests' own helpers (units that kill their worker, fake evaluators) import by name there too
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])),
        "LOOPCTL_CACHE": str(session_cache / "loopctl"),
        "UV_CACHE_DIR": str(session_cache / "uv"),
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        **GIT_IDENTITY,
    }
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.endswith(SECRET_SUFFIXES) or (name.startswith(("GIT_", "LOOPCTL_")) and name not in KEPT):
                patch.delenv(name)
        for name, value in workers.items():
            patch.setenv(name, value)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp,
                 logging_level="warning")
    try:
        address = ray.get_runtime_context().gcs_address
        env = {"RAY_ADDRESS": address}
        token = home / ".ray" / "auth_token"  # Ray's own, made by ray.init unless RAY_AUTH_MODE says otherwise
        if token.is_file():
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
        yield RayCluster(address, env)
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
# --- end ray fixtures ---
