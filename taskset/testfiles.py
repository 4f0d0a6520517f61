"""Which repository paths are tests: the rule the miner splits fixes by and the evaluator protects.

Pure string work on POSIX-style repository paths (as git prints them); no filesystem access,
because the miner asks about thousands of paths per repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache


@dataclass(frozen=True)
class TestFileConventions:
    """Where a project keeps its tests: directory names and file-name globs."""

    __test__ = False  # a production class, not a pytest test class

    directories: tuple[str, ...] = ("tests", "test", "testing")
    """A path with any of these as a directory component is a test path, data files included."""
    file_globs: tuple[str, ...] = ("test_*.py", "*_test.py", "conftest.py")
    """A file whose base name matches any of these is a test file, wherever it lives."""


DEFAULT = TestFileConventions()


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
    return any(fnmatchcase(name, pattern) for pattern in conventions.file_globs)
