"""is_test_path: the one rule for which repository paths are tests."""

from __future__ import annotations

import dataclasses

import pytest

from taskset.workspace.testfiles import DEFAULT, TestFileConventions, is_test_path


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
