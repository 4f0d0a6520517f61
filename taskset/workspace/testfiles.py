"""Which repository paths are tests: the rule the miner splits fixes by and the evaluator protects.

Pure string work on POSIX-style repository paths (as git prints them); no filesystem access,
because the miner asks about thousands of paths per repository. A project's own pytest settings
(``python_files``, ``testpaths``, ``python_classes``, ``python_functions``) extend the built-in
conventions: ``pytest_naming`` reads them from the config files' text, ``with_naming`` merges them.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import lru_cache

PYTEST_CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
"""Where pytest looks for its settings, in its own order of precedence (the first with a section wins)."""

ROOT_TEST_MODULES = ("test.py", "tests.py")
"""Root modules pytest's default ``python_files`` misses that projects still keep their tests in
(run as ``python test.py`` or named on pytest's command line): test code when they define tests."""

SOURCE_ROOTS = (".", "src", "lib")
"""``testpaths`` entries that hold the project's code too (doctests): never test directories."""


@dataclass(frozen=True)
class TestFileConventions:
    """Where a project keeps its tests: directory names and file-name globs."""

    __test__ = False  # a production class, not a pytest test class

    directories: tuple[str, ...] = ("tests", "test", "testing")
    """A path with any of these as a directory component is a test path, data files included."""
    file_globs: tuple[str, ...] = ("test_*.py", "*_test.py", "conftest.py")
    """A file whose base name matches any of these is a test file, wherever it lives."""
    paths: tuple[str, ...] = ()
    """Repository-relative directories whose whole content is tests (pytest ``testpaths``)."""
    scoped_globs: tuple[str, ...] = ()
    """File-name globs that name test modules only inside a test directory or path (``python_files = *.py``)."""
    classes: tuple[str, ...] = ("Test",)
    """pytest ``python_classes``: prefixes or globs of test class names."""
    functions: tuple[str, ...] = ("test",)
    """pytest ``python_functions``: prefixes or globs of test function names."""


DEFAULT = TestFileConventions()


@dataclass(frozen=True)
class PytestNaming:
    """What a project's pytest configuration says about test names (empty: nothing configured)."""

    python_files: tuple[str, ...] = ()
    testpaths: tuple[str, ...] = ()
    python_classes: tuple[str, ...] = ()
    python_functions: tuple[str, ...] = ()
    doctest_modules: bool = False
    """``addopts`` has ``--doctest-modules``: ``testpaths`` may name the project's code, collected for doctests."""
    source: str = ""
    """The config file the settings came from."""


def is_test_path(path: str, conventions: TestFileConventions = DEFAULT) -> bool:
    """True when ``path`` is under a test directory or its file name follows a test-file glob."""
    return _is_test_path(path.replace("\\", "/"), conventions)


@lru_cache(maxsize=65536)
def _is_test_path(path: str, conventions: TestFileConventions) -> bool:
    parts = [part for part in path.split("/") if part and part != "."]
    if not parts:
        return False
    *folders, name = parts
    if any(folder in conventions.directories for folder in folders):
        return True
    if conventions.paths and any(_under("/".join(parts), root) for root in conventions.paths):
        return True
    return any(fnmatchcase(name, pattern) for pattern in conventions.file_globs)


def is_test_module(path: str, conventions: TestFileConventions = DEFAULT, text: str | None = None) -> bool:
    """A test-side ``.py`` file pytest would collect tests from (never conftest.py or __init__.py).

    Its name follows a test-file glob; or, inside a test directory, a scoped glob; or, given its
    ``text``, it defines tests (a unittest ``TestCase``, or classes and functions named as the
    conventions say): ``tests/time.py`` of a project run with ``setup.py test`` is a test module.
    """
    path = path.replace("\\", "/")
    name = path.rsplit("/", 1)[-1]
    if not name.endswith(".py") or name in ("conftest.py", "__init__.py"):
        return False
    if any(fnmatchcase(name, glob) for glob in conventions.file_globs):
        return True
    if not is_test_path(path, conventions):
        return False
    if any(fnmatchcase(name, glob) for glob in conventions.scoped_globs):
        return True
    return text is not None and _defines_tests(text, conventions)


_CLASS = re.compile(r"^class\s+(\w+)\s*(?:\(([^)]*)\))?\s*:", re.M)
_FUNCTION = re.compile(r"^(?:[ \t]*)(?:async\s+)?def\s+(\w+)\s*\(", re.M)


def _defines_tests(text: str, conventions: TestFileConventions = DEFAULT) -> bool:
    """Whether module source ``text`` defines something pytest collects as a test."""
    for match in _CLASS.finditer(text):
        name, bases = match.group(1), match.group(2) or ""
        if "TestCase" in bases or _named(name, conventions.classes):
            return True
    return any(_named(m.group(1), conventions.functions) for m in _FUNCTION.finditer(text))


def _named(name: str, patterns: tuple[str, ...]) -> bool:
    """pytest's rule for python_classes/python_functions: a glob if it has glob characters, else a prefix."""
    return any(fnmatchcase(name, p) if any(c in p for c in "*?[") else name.startswith(p) for p in patterns)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def pytest_naming(texts: Mapping[str, str | None]) -> PytestNaming:
    """The naming settings of the first config file (in pytest's order) that has a pytest section.

    ``texts`` maps config file names (``PYTEST_CONFIG_FILES``) to their content (None: absent).
    A file that does not parse is passed over, as pytest itself would fail on it anyway.
    """
    for name in PYTEST_CONFIG_FILES:
        text = texts.get(name)
        if text is None:
            continue
        section = _pytest_section(name, text)
        if section is None:
            continue
        return PytestNaming(
            python_files=_words(section.get("python_files")),
            testpaths=_words(section.get("testpaths")),
            python_classes=_words(section.get("python_classes")),
            python_functions=_words(section.get("python_functions")),
            doctest_modules="--doctest-modules" in _words(section.get("addopts")),
            source=name,
        )
    return PytestNaming()


def _pytest_section(name: str, text: str) -> Mapping[str, object] | None:
    if name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
        section = data.get("tool", {}).get("pytest", {}).get("ini_options")
        return section if isinstance(section, dict) else None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    wanted = "tool:pytest" if name == "setup.cfg" else "pytest"
    if parser.has_section(wanted):
        return dict(parser.items(wanted))
    if name in ("pytest.ini", ".pytest.ini"):
        return {}  # pytest.ini wins even without a [pytest] section
    return None


def _words(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value if str(v).strip())
    return ()


def with_root_modules(base: TestFileConventions, texts: Mapping[str, str | None]) -> TestFileConventions:
    """``base`` with each ``ROOT_TEST_MODULES`` file that defines tests taken as a test path.

    ``texts`` maps those names to the root file's content (None: absent). Only the root file is
    meant: ``pkg/test.py`` is as likely a module of the project's own.
    """
    found = tuple(name for name in ROOT_TEST_MODULES
                  if name not in base.paths and (text := texts.get(name)) is not None and _defines_tests(text, base))
    return replace(base, paths=base.paths + found) if found else base


def testpath_entries(naming: PytestNaming) -> tuple[str, ...]:
    """The repository-relative paths ``testpaths`` names, normalised (``./tests/`` is ``tests``, ``./``
    is ``.``); globs and entries outside the repository (``../shared``, ``/abs``) left out."""
    entries = (posixpath.normpath(e) for e in naming.testpaths if e and not any(c in e for c in "*?["))
    return tuple(dict.fromkeys(e for e in entries if not e.startswith(("/", ".."))))


def _doctested_code(naming: PytestNaming, packages: Collection[str]) -> tuple[str, ...]:
    """The ``testpaths`` entries that are the project's code run for doctests, not tests.

    Only under ``--doctest-modules`` (without it pytest collects nothing but test files from a
    testpath): an entry that is a package (``packages``: the entries that hold an ``__init__.py``)
    or a single module. ``testpaths = docs mypkg tests`` keeps ``tests`` a test directory and
    ``mypkg`` code, whatever the repository is called.
    """
    if not naming.doctest_modules:
        return ()
    return tuple(e for e in testpath_entries(naming) if e in packages or e.endswith(".py"))


def with_naming(base: TestFileConventions, naming: PytestNaming, project: str = "",
                packages: Collection[str] = ()) -> TestFileConventions:
    """``base`` extended by a project's pytest naming (the built-in conventions stay the fallback).

    A configured glob that mentions "test" names test files anywhere; any other (``*.py``,
    ``check_*.py``) only inside test directories. ``testpaths`` become test paths, except the
    source roots, the project's own package and the code it doctests (a package among ``packages``,
    the entries holding an ``__init__.py``, or a module, under ``--doctest-modules``): those are
    collected for doctests, not tests.
    """
    if naming == PytestNaming():
        return base
    globs = [g.rsplit("/", 1)[-1] for g in naming.python_files]
    anywhere = tuple(g for g in globs if "test" in g.lower() and g not in base.file_globs)
    scoped = tuple(g for g in globs if "test" not in g.lower() and g not in base.scoped_globs)
    package = re.sub(r"[-.]", "_", project).lower()
    code = _doctested_code(naming, packages)
    paths = tuple(
        p
        for p in testpath_entries(naming)
        if p not in SOURCE_ROOTS and p.lower() not in (package, f"src/{package}") and p not in code
        and p not in base.paths
    )
    return replace(
        base,
        file_globs=base.file_globs + anywhere,
        scoped_globs=base.scoped_globs + scoped,
        paths=base.paths + paths,
        classes=tuple(dict.fromkeys(base.classes + naming.python_classes)),
        functions=tuple(dict.fromkeys(base.functions + naming.python_functions)),
    )
