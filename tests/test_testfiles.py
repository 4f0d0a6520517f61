"""is_test_path: the one rule for which repository paths are tests."""

from __future__ import annotations

import dataclasses

import pytest

from taskset.workspace.testfiles import DEFAULT, TestFileConventions, is_test_module, is_test_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_api.py", True),
        ("tests/helpers.py", True),
        ("tests/data/sample.json", True),
        ("test/unit/thing.py", True),
        ("pkg/testing/fixtures.py", True),
        ("src/pkg/tests/test_x.py", True),
        ("test_top.py", True),
        ("pkg/test_module.py", True),
        ("pkg/module_test.py", True),
        ("conftest.py", True),
        ("src/conftest.py", True),
        ("./tests/x.txt", True),
        ("src/pkg/module.py", False),
        ("src/pkg/testament.py", False),
        ("src/pkg/contest.py", False),
        ("tests", False),
        ("docs/tests.rst", False),
        ("pkg/attest/module.py", False),
        ("test_data.txt", False),
        ("README.md", False),
        ("", False),
    ],
)
def test_is_test_path_table(path, expected):
    """A path under tests/, test/ or testing/ is a test (data files too).

    So is test_*.py, *_test.py or conftest.py anywhere.
    """
    assert is_test_path(path) is expected


def test_custom_conventions():
    """Conventions are a frozen value: a project with a specs/ folder can say so."""
    specs = TestFileConventions(directories=("specs",), file_globs=("*_spec.py",))
    assert is_test_path("specs/a.txt", specs)
    assert is_test_path("pkg/thing_spec.py", specs)
    assert not is_test_path("tests/test_a.py", specs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.directories = ()  # type: ignore[misc]


def test_conventions_class_is_not_collected():
    """A production class named Test* must tell pytest it is not a test class."""
    assert TestFileConventions.__test__ is False


def test_backslash_paths():
    """A Windows-style separator is read as a directory separator."""
    assert is_test_path("tests\\data\\x.bin")


def test_a_root_test_py_is_test_code_only_when_it_defines_tests():
    """A root ``test.py``/``tests.py`` that defines tests is a test path (pytest's default
    ``python_files`` misses it); one that defines none, and a ``test.py`` below the root, are not."""
    from taskset.workspace.testfiles import with_root_modules

    tests = "import unittest\n\nclass Checks(unittest.TestCase):\n    def test_it(self):\n        pass\n"
    found = with_root_modules(DEFAULT, {"test.py": tests, "tests.py": "print('run me')\n"})
    assert is_test_path("test.py", found) and is_test_module("test.py", found, tests)
    assert not is_test_path("tests.py", found) and not is_test_path("pkg/test.py", found)
    assert with_root_modules(DEFAULT, {"test.py": None}) == DEFAULT
