"""Where a project's test dependencies live: pure functions over a source tree, no subprocess.

Sources, in the order they are read: the project's extras named test/tests/testing/dev
(pyproject, flit's ``requires-extra``, poetry's extras, setup.cfg, setup.py via ``ast``, and the
``features`` of hatch's test environments and ``extras`` of tox's), requirements files for tests and development, tox
``deps``, PEP 735 dependency groups, tool tables (poetry ``dev-dependencies`` and groups, pdm
``dev-dependencies``, hatch environments, Pipfile ``[dev-packages]``, ``tests_require``), and the
pytest plugins the pytest config implies (``addopts``, ``required_plugins``). ``setup.py`` is
parsed, never executed. Also here: the interpreters a tree asks for (``python_needs``) and the
distribution a missing module most likely comes from (``distribution_for``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from taskset.env import depfiles as files
from taskset.env import specs
from taskset.env.cimatrix import ci_minors
from taskset.env.pythons import PythonNeeds, pytest_floor
from taskset.env.requirements import normalize, requirement_extras, requirement_name, split_words

TEST_EXTRAS = ("test", "tests", "testing", "dev")
"""Extra and dependency-group names that hold test dependencies (an extra named dev only when no
test-named one exists: it usually adds linters and doc tools, pinned to what failed to build later)."""

REQUIREMENT_GLOBS = (
    "requirements-dev*.txt",
    "requirements_dev*.txt",
    "dev-requirements*.txt",
    "requirements-test*.txt",
    "requirements_test*.txt",
    "test-requirements*.txt",
    "test_requirements*.txt",
    "tests/requirements*.txt",
    "requirements/test*.txt",
    "requirements/dev*.txt",
    "requirements/ci*.txt",
    "requirements/*test*.txt",
    "requirements-ci*.txt",
    "*tests-requirements*.txt",
    "dev_requirements*.txt",
    "testing-requirements*.txt",
    "testing_requirements*.txt",
    "test/requirements*.txt",
)
"""Requirements files for tests and development, relative to the project root."""

DEPENDENCY_GLOBS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "tox.ini",
    "pytest.ini",
    "requirements*.txt",
    "*requirements*.txt",
    "requirements/*.txt",
    "tests/requirements*.txt",
    "test/requirements*.txt",
    "constraints*.txt",
    "Pipfile",
    "hatch.toml",
    "poetry.lock",
    "pdm.lock",
    "uv.lock",
    "Pipfile.lock",
)
"""Files whose content decides what an environment holds: they make up its fingerprint."""

PLUGIN_OPTIONS = (
    # (option, plugin, prefix?) -- a prefix matches every option starting with it
    ("--cov", "pytest-cov", True),
    ("--no-cov", "pytest-cov", False),
    ("-n", "pytest-xdist", False),
    ("--numprocesses", "pytest-xdist", False),
    ("--dist", "pytest-xdist", False),
    ("--timeout", "pytest-timeout", True),
    ("--benchmark", "pytest-benchmark", True),
    ("--asyncio-mode", "pytest-asyncio", False),
    ("--mypy", "pytest-mypy", True),
    ("--flake8", "pytest-flake8", False),
    ("--doctest-plus", "pytest-doctestplus", False),
    ("--doctest-rst", "pytest-doctestplus", False),
    ("--reruns", "pytest-rerunfailures", True),
    ("--html", "pytest-html", False),
    ("--black", "pytest-black", False),
    ("--isort", "pytest-isort", False),
    ("--pylint", "pytest-pylint", False),
    ("--mpl", "pytest-mpl", True),
    ("--remote-data", "pytest-remotedata", False),
    ("--ds", "pytest-django", False),
    ("--randomly", "pytest-randomly", True),
    ("--hypothesis", "hypothesis", True),
    ("--forked", "pytest-forked", False),
    ("--mock-use-standalone-module", "pytest-mock", False),
)
"""pytest options that only exist when a plugin is installed."""


@dataclass(frozen=True)
class ProjectDeps:
    """What a source tree says its tests need."""

    name: str = ""
    """The project's own distribution name ("" when it cannot be read statically)."""
    installable: bool = False
    """Whether the tree is a project pip can install (setup.py, or pyproject with a build system)."""
    build_backend: str = ""
    """pyproject ``[build-system] build-backend`` ("" for legacy setup.py projects)."""
    build_requires: tuple[str, ...] = ()
    """pyproject ``[build-system] requires``."""
    flit_metadata: bool = False
    """An old ``[tool.flit.metadata]`` project (flit_core 4 dropped that table)."""
    extras: tuple[str, ...] = ()
    """The project's extras to install with it (those named in TEST_EXTRAS, plus self-references)."""
    extra_requirements: tuple[str, ...] = ()
    """What those extras require (installed through the extras; read here for the pytest choice)."""
    requirements: tuple[str, ...] = ()
    """Other test requirements: files, tox deps, dependency groups, implied plugins."""
    minversion: str = ""
    """pytest ``minversion`` from the project's pytest config."""
    runtime: tuple[str, ...] = ()
    """The project's own dependencies, read statically (installed alone when the project cannot be built)."""
    sources: tuple[str, ...] = ()
    """Every file read, relative to the root (the fingerprint covers them)."""
    skipped: tuple[str, ...] = ()
    """Lines left out, each with the reason (``"-e . (editable self-reference)"``)."""


def _root_requirements(reader: files.Reader, root: Path, installable: bool) -> list[str]:
    """A root requirements.txt: the dependencies of a tree that is not a package, or, when it names
    pytest, the project's development requirements (httpx keeps its test deps there)."""
    path = root / "requirements.txt"
    if not path.is_file():
        return []
    if installable:
        # Probe with a scratch reader: a file we end up not using must not count as read (tox's
        # `-r requirements.txt` would then be skipped) nor report its lines as skipped.
        probe = files.Reader(root).requirements_file(path)
        if not any(re.match(r"pytest\b", line, re.I) for line in probe):
            return []
    return reader.requirements_file(path)


def scan(root: Path) -> ProjectDeps:
    """Read every place ``root`` keeps test dependencies; never runs anything."""
    reader = files.Reader(root)
    meta = reader.project_metadata()
    name = meta.get("name", "")
    extras_table = reader.extras()
    chosen = [extra for extra in TEST_EXTRAS if extra in extras_table]
    if "dev" in chosen and len(chosen) > 1:
        chosen.remove("dev")  # dev = tests + lint + docs: the tests' own extra will do
    chosen += [f for f in reader.hatch_features() + reader.tox_extras() if f in extras_table and f not in chosen]
    extra_reqs = [req for extra in chosen for req in extras_table[extra]]
    found: list[str] = []
    for pattern in REQUIREMENT_GLOBS:
        for path in sorted(root.glob(pattern)):
            found += reader.requirements_file(path)
    found += _root_requirements(reader, root, bool(meta.get("installable")))
    found += reader.tox_deps()
    found += reader.dependency_groups(TEST_EXTRAS)
    found += reader.tool_groups(TEST_EXTRAS)
    config = reader.pytest_config()
    found += implied_plugins(config.get("addopts", ""))
    found += config.get("required_plugins", [])
    self_extras, requirements = _split_self(found, name, reader.skipped)
    self_extras += [e for e in reader.self_extras if e in extras_table]
    return ProjectDeps(
        name=name,
        installable=bool(meta.get("installable")),
        build_backend=meta.get("build_backend", ""),
        build_requires=tuple(meta.get("build_requires", ())),
        flit_metadata=bool(meta.get("flit_metadata")),
        extras=tuple(dict.fromkeys(chosen + self_extras)),
        extra_requirements=tuple(extra_reqs),
        requirements=tuple(_dedupe(requirements)),
        minversion=config.get("minversion", ""),
        runtime=tuple(reader.runtime_requirements()),
        sources=tuple(sorted(reader.read)),
        skipped=tuple(reader.skipped),
    )


def dependency_files(root: Path) -> list[Path]:
    """The files whose content decides ``root``'s environment (sorted, existing only)."""
    found = {path for pattern in DEPENDENCY_GLOBS for path in root.glob(pattern) if path.is_file()}
    return sorted(found)


def implied_plugins(addopts: str | list[str]) -> list[str]:
    """The plugins ``addopts`` needs: ``--cov`` means pytest-cov, ``-n 4`` pytest-xdist, ..."""
    tokens = addopts if isinstance(addopts, list) else split_words(addopts)
    plugins: list[str] = []
    for token in tokens:
        option = token.split("=", 1)[0]
        for flag, plugin, prefix in PLUGIN_OPTIONS:
            short = flag == "-n" and token.startswith("-n") and token[2:].strip().isalnum() and token[2:] != ""
            if option == flag or short or (prefix and option.startswith(flag)):
                plugins.append(plugin)
                break
    return list(dict.fromkeys(plugins))


def choose_pytest(deps: ProjectDeps, python_version: str) -> str:
    """The pytest requirement both the interpreter and the project accept.

    The floor ``pytest_floor`` gives (the runner's and the interpreter's) and the project's
    ``minversion`` raise the lower bound; a project pin is kept only if, together with that floor
    and the pins kept before it, some release still satisfies it (``pytest~=7.1.0`` cannot run on
    3.11: dropped).
    """
    floor = _max_version(pytest_floor(python_version) or "", deps.minversion)
    bound = [f">={floor}"] if floor else []
    clauses: list[str] = []
    for req in deps.extra_requirements + deps.requirements:
        if normalize(requirement_name(req)) != "pytest":
            continue
        trial = clauses + [c for c in specs.specifier(req) if c not in clauses]
        if specs.satisfiable(trial + bound):
            clauses = trial
    if floor and not specs.bounded_below(clauses, floor):
        clauses.append(f">={floor}")
    return "pytest" + ",".join(clauses)


def without_pytest(requirements: tuple[str, ...]) -> tuple[str, ...]:
    """``requirements`` less pytest itself (the chosen pytest requirement replaces it)."""
    return tuple(r for r in requirements if normalize(requirement_name(r)) != "pytest")


def _split_self(reqs: list[str], name: str, skipped: list[str]) -> tuple[list[str], list[str]]:
    """Self-references become extras of the project install; everything else stays a requirement."""
    extras: list[str] = []
    kept: list[str] = []
    for req in reqs:
        if name and normalize(requirement_name(req)) == normalize(name):
            extras += requirement_extras(req)
            skipped.append(f"{req} (the project itself)")
        else:
            kept.append(req)
    return extras, kept


def _dedupe(reqs: list[str]) -> list[str]:
    return list(dict.fromkeys(r.strip() for r in reqs if r.strip()))


def _max_version(a: str, b: str) -> str:
    """The higher of two versions; one that is not a version loses ("" when neither is)."""
    va, vb = specs.parse_version(a) if a else None, specs.parse_version(b) if b else None
    if va is None or vb is None:
        return a if va is not None else (b if vb is not None else "")
    return a if va >= vb else b


def python_needs(root: Path) -> PythonNeeds:
    """What ``root`` says about its interpreters: requires-python, the classifiers' minors, its CI's minors."""
    requires, classifiers = files.Reader(root).python_needs()
    return PythonNeeds(requires=requires, classifiers=classifiers, ci=ci_minors(root))


MODULE_DISTRIBUTIONS = {
    "yaml": "PyYAML", "dateutil": "python-dateutil", "PIL": "Pillow", "bs4": "beautifulsoup4",
    "sklearn": "scikit-learn", "attr": "attrs", "OpenSSL": "pyOpenSSL", "Crypto": "pycryptodome",
    "jwt": "PyJWT", "serial": "pyserial", "dotenv": "python-dotenv", "git": "GitPython", "zmq": "pyzmq",
    "cv2": "opencv-python", "jose": "python-jose", "magic": "python-magic", "nacl": "PyNaCl",
    "pkg_resources": "setuptools", "hamcrest": "PyHamcrest", "markdown": "Markdown", "google": "protobuf",
    "Levenshtein": "python-Levenshtein", "jinja2": "Jinja2", "memcache": "python-memcached",
    "MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary", "socks": "PySocks", "usb": "pyusb",
    "win32api": "pywin32", "dns": "dnspython", "ldap": "python-ldap", "snappy": "python-snappy",
    "lzo": "python-lzo", "Bio": "biopython", "skimage": "scikit-image", "docx": "python-docx",
}
"""Import names whose distribution is called something else (the usual suspects)."""


def distribution_for(root: Path, module: str) -> str:
    """The requirement to install for a missing top-level ``module``: a line the project itself
    names for it (any of its files: extras, groups, docs or lint requirements), else the usual
    distribution of that import name, else the name itself."""
    top = module.split(".", 1)[0]
    wanted = {normalize(top), normalize(MODULE_DISTRIBUTIONS.get(top, top))}
    if top.startswith("pytest_"):
        wanted.add(normalize(top.replace("_", "-")))
    for req in files.Reader(root).all_requirements():
        if normalize(requirement_name(req)) in wanted:
            return req.split(";", 1)[0].strip()
    return MODULE_DISTRIBUTIONS.get(top, top.replace("_", "-") if top.startswith("pytest_") else top)
