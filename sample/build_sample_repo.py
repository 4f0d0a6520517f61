"""Build the sample repository loopctl ships: "calclib", a tiny library with a real history.

    python sample/build_sample_repo.py DEST [--bundle FILE]

The history holds genuine bug fixes (each must become a task) among ordinary commits and decoys
(each must not). Every commit has a fixed author, committer and date, and git runs with no user
or system config, so the commit SHAs are the same on every machine and every run.

Tests import this file by path and read ``GENUINE``, ``DECOYS`` and ``ORDINARY`` (what the miner
must make of each commit) and call ``build(dest, bundle)``. Stdlib only, one file, on purpose:
it must run before any environment exists. It is longer than our modules usually are because most
of it is the sample's own file contents, kept beside the commit that writes them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

__all__ = ["DECOYS", "GENUINE", "HISTORY", "ORDINARY", "SampleRepoError", "build", "main"]

NONEXISTENT_DEPENDENCY = "loopctl-sample-nonexistent-dependency>=1.0"
"""A requirement that is not on PyPI: the install-failed decoy declares it."""

FIRST_DAY = date(2024, 1, 8)
"""Commits are one week apart from this Monday, at 10:00 UTC."""

AUTHORS = {
    "ada": ("Ada Lindqvist", "ada@calclib.invalid"),
    "ben": ("Ben Okafor", "ben@calclib.invalid"),
}

# A file change is the new content, None to delete, or a list of (old, new) replacements on the
# previous version: replacements keep each commit's diff readable here; each old occurs once.


class SampleRepoError(Exception):
    """The sample repository cannot be built (DEST not empty, git failed, bad replacement)."""


@dataclass(frozen=True)
class SampleCommit:
    """One commit of the sample history and what the miner must make of it."""

    subject: str
    files: dict
    """path -> new content, None (delete) or [(old, new), ...] replacements."""
    role: str
    """"genuine", "decoy" or "ordinary"."""
    kind: str
    """Which case of the brief this commit covers, e.g. "one-line" or "flaky"."""
    expected: str
    """"task" for genuine fixes, otherwise the rejection: "not-a-candidate", "no-fail-to-pass",
    "flaky" or "install-failed"."""
    body: str = ""
    author: str = "ada"
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    """Expected when the touched test modules are run (what the miner runs)."""
    failure: str = ""
    """How the FAIL_TO_PASS tests fail on the buggy code: "assertion", "exception:<Name>" or
    "collection"."""
    reason: str = ""
    """For commits that are not candidates, the miner's finer rejection reason: "not-a-candidate"
    (root commit, or no Python source or tests changed), "no-test-change" or "no-source-change"."""
    notes: str = ""
    extra: dict = field(default_factory=dict)


# --- the initial tree --------------------------------------------------------------------------

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "calclib"
version = "0.1.0"
description = "Small number and text helpers"
readme = "README.md"
requires-python = ">=3.9"
dependencies = []

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

README = '''\
# calclib

Small number and text helpers: `clamp`, `round_half_up`, `parse_number`, `slugify`,
`truncate` and `word_count`.

    pip install -e '.[test]'
    pytest
'''

GITIGNORE = '''\
__pycache__/
*.egg-info/
.pytest_cache/
build/
dist/
'''

INIT = '''\
"""calclib: small number and text helpers."""

__version__ = "0.1.0"
'''

NUMBERS = '''\
"""Number helpers: clamping, rounding and parsing."""

from __future__ import annotations


def clamp(value: float, low: float, high: float) -> float:
    """Limit value to the closed range [low, high]."""
    return max(low, min(value, high))


def round_half_up(value: float, ndigits: int = 0) -> float:
    """Round to ndigits decimals with halves going up, as taught at school."""
    return round(value, ndigits)


def parse_number(text: str) -> int | float:
    """Parse "42" as an int and "4.5" as a float; anything else raises ValueError."""
    try:
        return int(text)
    except ValueError:
        return float(text)
'''

TEXT = '''\
"""Text helpers: slugs, truncation and word counts."""

from __future__ import annotations

import re

ELLIPSIS = "\u2026"


def slugify(text: str) -> str:
    """Lower-case text and join its runs of letters and digits with dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower())


def truncate(text: str, width: int) -> str:
    """Shorten text to at most width characters, marking the cut with an ellipsis."""
    if len(text) <= width:
        return text
    return text[:width] + ELLIPSIS


def word_count(text: str) -> int:
    """Number of words in text."""
    return len(text.split(" "))
'''

TEST_NUMBERS = '''\
"""Tests for calclib.numbers."""

import pytest

from calclib.numbers import clamp, parse_number, round_half_up


def test_clamp_inside_range():
    assert clamp(5, 0, 10) == 5


def test_clamp_outside_range():
    assert clamp(-3, 0, 10) == 0
    assert clamp(42, 0, 10) == 10


def test_round_half_up_plain_values():
    assert round_half_up(2.6) == 3
    assert round_half_up(1.234, 2) == 1.23


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("42", 42, id="int"),
        pytest.param("4.5", 4.5, id="float"),
        pytest.param("1_000", 1000, id="underscores"),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


def test_parse_number_rejects_words():
    with pytest.raises(ValueError):
        parse_number("forty-two")
'''

TEST_TEXT = '''\
"""Tests for calclib.text."""

import pytest

from calclib.text import slugify, truncate, word_count


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("Hello World", "hello-world", id="spaces"),
        pytest.param("already-a-slug", "already-a-slug", id="unchanged"),
        pytest.param("Mixed_CASE 42", "mixed-case-42", id="case-and-digits"),
    ],
)
def test_slugify(text, expected):
    assert slugify(text) == expected


def test_truncate_short_text():
    assert truncate("short", 10) == "short"


def test_word_count():
    assert word_count("one two three") == 3
'''

# --- later files -------------------------------------------------------------------------------

UNITS = '''\
"""Byte sizes: format them for people, parse them back."""

from __future__ import annotations

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_bytes(size: int) -> str:
    """Format 1536 as "1.5 KiB": the largest binary unit that keeps the number below 1024."""
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            break
        value /= 1024
    if unit == "B":
        return f"{size} B"
    return f"{value:.1f} {unit}"


def parse_size(text: str) -> int:
    """Parse "2 KiB" as 2048; a bare number is a count of bytes."""
    number, _, unit = text.strip().partition(" ")
    factor = 1024 ** UNITS.index(unit.strip() or "B")
    return int(number) * factor
'''

TEST_UNITS = '''\
"""Tests for calclib.units."""

import pytest

from calclib.units import format_bytes, parse_size


@pytest.mark.parametrize(
    "size, expected",
    [
        pytest.param(0, "0 B", id="zero"),
        pytest.param(1536, "1.5 KiB", id="kib"),
        pytest.param(5 * 1024**3, "5.0 GiB", id="gib"),
    ],
)
def test_format_bytes(size, expected):
    assert format_bytes(size) == expected


def test_parse_size():
    assert parse_size("2 KiB") == 2048
    assert parse_size("10") == 10


def test_parse_size_rejects_unknown_units():
    with pytest.raises(ValueError):
        parse_size("3 parsecs")
'''

UNITS_DOC = '''\
# calclib.units

`format_bytes(size)` picks the largest binary unit (B, KiB, MiB, GiB, TiB) that keeps the number
below 1024 and prints one decimal: `format_bytes(1536) == "1.5 KiB"`.

`parse_size(text)` reads such a string back: `parse_size("2 KiB") == 2048`. A bare number is a
count of bytes; an unknown unit raises `ValueError`.
'''

STATS_INIT = '''\
"""Summary statistics over plain sequences of numbers."""

from calclib.stats.summary import mean, median, variance

__all__ = ["mean", "median", "variance"]
'''

STATS_SUMMARY = '''\
"""Mean, median and sample variance, without numpy."""

from __future__ import annotations

from collections.abc import Iterable


def _values(data: Iterable[float], name: str) -> list[float]:
    """The data as a list; statistics of nothing are undefined, so refuse it."""
    values = list(data)
    if not values:
        raise ValueError(f"{name}() needs at least one value")
    return values


def mean(data: Iterable[float]) -> float:
    """Arithmetic mean."""
    values = _values(data, "mean")
    return sum(values) / len(values)


def median(data: Iterable[float]) -> float:
    """Middle value; the mean of the two middle values for an even count."""
    values = sorted(_values(data, "median"))
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def variance(data: Iterable[float]) -> float:
    """Sample variance: squared deviations from the mean over n - 1."""
    values = _values(data, "variance")
    centre = mean(values)
    return sum((v - centre) ** 2 for v in values) / (len(values) - 1)
'''

TEST_STATS = '''\
"""Tests for calclib.stats."""

import pytest

from calclib.stats.summary import mean, median, variance


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_median_odd_and_even():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5


def test_variance():
    assert variance([1, 2, 3, 4]) == pytest.approx(5 / 3)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError):
        mean([])
'''

TEST_WHITESPACE = '''\
"""Tests for whitespace handling in calclib.text."""

from calclib.text import normalize_whitespace, word_count


def test_normalize_whitespace():
    assert normalize_whitespace("  a\\t b\\n\\nc ") == "a b c"


def test_word_count_ignores_whitespace_runs():
    assert word_count("one  two\\tthree\\n") == 3
    assert word_count("   ") == 0
'''

TESTS_CONFTEST = '''\
"""Shared fixtures for the calclib tests."""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def size_cases():
    """(text, bytes) pairs from data/sizes.txt: the table the docs promise."""
    cases = []
    for line in (DATA / "sizes.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            text, expected = line.split("=")
            cases.append((text.strip(), int(expected)))
    return cases
'''

SIZES_TXT = '''\
# size text = bytes
10 = 10
2 KiB = 2048
1.5 KiB = 1536
0.5 MiB = 524288
'''

CHANGELOG = '''\
# Changelog

## 0.2.0

- New: `calclib.units` (`format_bytes`, `parse_size`) and `calclib.stats` (`mean`, `median`,
  `variance`), `calclib.text.normalize_whitespace`.
- Fixed: `truncate` width, `slugify` dashes at the ends, half-way rounding, `variance` of one
  value, `word_count` on whitespace runs, fractional sizes, reversed `clamp` bounds, negative
  sizes in `format_bytes`.
'''


def _ids(module: str, *names: str) -> tuple[str, ...]:
    """Node ids ``tests/<module>.py::<name>`` for each name."""
    return tuple(f"tests/{module}.py::{name}" for name in names)


SLUGIFY_CASES = ("spaces", "unchanged", "case-and-digits")
FORMAT_BYTES_CASES = ("zero", "kib", "gib")

# --- the history -------------------------------------------------------------------------------

HISTORY: tuple[SampleCommit, ...] = (
    SampleCommit(
        "Initial commit: calclib number and text helpers",
        {
            "pyproject.toml": PYPROJECT,
            "README.md": README,
            ".gitignore": GITIGNORE,
            "src/calclib/__init__.py": INIT,
            "src/calclib/numbers.py": NUMBERS,
            "src/calclib/text.py": TEXT,
            "tests/test_numbers.py": TEST_NUMBERS,
            "tests/test_text.py": TEST_TEXT,
        },
        "ordinary", "root-commit", "not-a-candidate", reason="not-a-candidate",
        notes="The root commit has no parent, so there is no pre-fix code to test against.",
    ),
    SampleCommit(
        "Add units module with format_bytes and parse_size",
        {"src/calclib/units.py": UNITS},
        "ordinary", "feature-source-only", "not-a-candidate", author="ben", reason="no-test-change",
        notes="Source only: no test changes.",
    ),
    SampleCommit(
        "Add tests for the units module",
        {"tests/test_units.py": TEST_UNITS},
        "ordinary", "tests-only", "not-a-candidate", author="ben", reason="no-source-change",
        notes="Tests only: no source changes.",
    ),
    SampleCommit(
        "Fix truncate exceeding the requested width (#4)",
        {
            "src/calclib/text.py": [("text[:width] + ELLIPSIS", "text[: width - 1] + ELLIPSIS")],
            "tests/test_text.py": [(
                'def test_word_count():',
                'def test_truncate_respects_width():\n'
                '    assert truncate("hello world", 5) == "hell\u2026"\n\n\n'
                'def test_word_count():',
            )],
        },
        "genuine", "one-line", "task",
        body="truncate() kept `width` characters and then added the ellipsis, so the result\n"
        "was one character longer than asked for.",
        fail_to_pass=_ids("test_text", "test_truncate_respects_width"),
        pass_to_pass=_ids(
            "test_text", *(f"test_slugify[{c}]" for c in SLUGIFY_CASES),
            "test_truncate_short_text", "test_word_count",
        ),
        failure="assertion",
    ),
    SampleCommit(
        "Document the units module",
        {
            "README.md": [("`truncate` and `word_count`.", "`truncate` and `word_count`;\n"
                           "`format_bytes` and `parse_size` (see docs/units.md).")],
            "docs/units.md": UNITS_DOC,
        },
        "decoy", "docs-only", "not-a-candidate", author="ben",
        notes="Only README.md and docs/ change.",
    ),
    SampleCommit(
        "Fix slugify leaving dashes at the ends (#7)",
        {
            "src/calclib/text.py": [('"-", text.lower())', '"-", text.lower()).strip("-")')],
            "tests/test_text.py": [(
                '        pytest.param("Mixed_CASE 42", "mixed-case-42", id="case-and-digits"),\n',
                '        pytest.param("Mixed_CASE 42", "mixed-case-42", id="case-and-digits"),\n'
                '        pytest.param("  Hello, World!  ", "hello-world", id="punctuation-at-ends"),\n',
            )],
        },
        "genuine", "parametrized-case", "task",
        body="Leading or trailing punctuation and spaces became a leading or trailing dash.",
        fail_to_pass=_ids("test_text", "test_slugify[punctuation-at-ends]"),
        pass_to_pass=_ids(
            "test_text", *(f"test_slugify[{c}]" for c in SLUGIFY_CASES),
            "test_truncate_short_text", "test_truncate_respects_width", "test_word_count",
        ),
        failure="assertion",
    ),
    SampleCommit(
        "Add stats subpackage with mean, median and variance",
        {"src/calclib/stats/__init__.py": STATS_INIT, "src/calclib/stats/summary.py": STATS_SUMMARY},
        "ordinary", "feature-source-only", "not-a-candidate", reason="no-test-change",
        notes="Source only: no test changes.",
    ),
    SampleCommit(
        "Add tests for the stats subpackage",
        {"tests/test_stats.py": TEST_STATS},
        "ordinary", "tests-only", "not-a-candidate", reason="no-source-change",
        notes="Tests only: no source changes.",
    ),
    SampleCommit(
        "Fix half-way rounding in round_half_up and format_bytes (#11)",
        {
            "src/calclib/numbers.py": [
                ("from __future__ import annotations\n",
                 "from __future__ import annotations\n\nfrom decimal import ROUND_HALF_UP, Decimal\n"),
                ("    return round(value, ndigits)\n",
                 "    # round() rounds halves to even, and binary floats hide exact halves: go through\n"
                 "    # the shortest decimal repr, which is what the caller wrote.\n"
                 "    quantum = Decimal(1).scaleb(-ndigits)\n"
                 "    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))\n"),
            ],
            "src/calclib/units.py": [
                ("from __future__ import annotations\n",
                 "from __future__ import annotations\n\nfrom calclib.numbers import round_half_up\n"),
                ('return f"{value:.1f} {unit}"', 'return f"{round_half_up(value, 1):.1f} {unit}"'),
            ],
            "tests/test_numbers.py": [(
                "\n\n@pytest.mark.parametrize(",
                "\n\ndef test_round_half_up_rounds_ties_up():\n"
                "    assert round_half_up(2.5) == 3\n"
                "    assert round_half_up(0.125, 2) == 0.13\n"
                "\n\n@pytest.mark.parametrize(",
            )],
            "tests/test_units.py": [(
                "\n\ndef test_parse_size():",
                "\n\ndef test_format_bytes_rounds_ties_up():\n"
                '    assert format_bytes(1280) == "1.3 KiB"\n'
                "\n\ndef test_parse_size():",
            )],
        },
        "genuine", "multi-file", "task", author="ben",
        body="round_half_up() used round(), which rounds halves to even, and format_bytes()\n"
        "formatted with '.1f', which does the same: 1280 bytes printed as 1.2 KiB.",
        fail_to_pass=(
            *_ids("test_numbers", "test_round_half_up_rounds_ties_up"),
            *_ids("test_units", "test_format_bytes_rounds_ties_up"),
        ),
        pass_to_pass=(
            *_ids(
                "test_numbers", "test_clamp_inside_range", "test_clamp_outside_range",
                "test_round_half_up_plain_values", "test_parse_number[int]",
                "test_parse_number[float]", "test_parse_number[underscores]",
                "test_parse_number_rejects_words",
            ),
            *_ids(
                "test_units", *(f"test_format_bytes[{c}]" for c in FORMAT_BYTES_CASES),
                "test_parse_size", "test_parse_size_rejects_unknown_units",
            ),
        ),
        failure="assertion",
    ),
    SampleCommit(
        "Refactor text helpers to use precompiled patterns",
        {
            "src/calclib/text.py": [
                ('ELLIPSIS = "\u2026"\n', 'ELLIPSIS = "\u2026"\n_NOT_SLUG = re.compile(r"[^a-z0-9]+")\n'),
                ('re.sub(r"[^a-z0-9]+", "-", text.lower())', '_NOT_SLUG.sub("-", text.lower())'),
            ],
            "tests/test_text.py": [
                ("def test_truncate_short_text():", "def test_truncate_leaves_short_text_alone():"),
                ("def test_word_count():", "def test_word_count_of_plain_sentence():"),
            ],
        },
        "decoy", "refactor", "no-fail-to-pass",
        body="No behaviour change; test names now say what they check.",
        notes="Source and tests change; every touched test passes before and after.",
    ),
    SampleCommit(
        "Fix variance of a single value raising ZeroDivisionError (#14)",
        {
            "src/calclib/stats/summary.py": [(
                "    centre = mean(values)\n",
                "    if len(values) == 1:\n"
                "        return 0.0  # one value does not vary; n - 1 would divide by zero\n"
                "    centre = mean(values)\n",
            )],
            "tests/test_stats.py": [(
                "\n\ndef test_empty_input_is_rejected():",
                "\n\ndef test_variance_of_one_value_is_zero():\n"
                "    assert variance([5.0]) == 0.0\n"
                "\n\ndef test_empty_input_is_rejected():",
            )],
        },
        "genuine", "subpackage-exception", "task",
        body="variance([x]) divided by n - 1 == 0.",
        fail_to_pass=_ids("test_stats", "test_variance_of_one_value_is_zero"),
        pass_to_pass=_ids(
            "test_stats", "test_mean", "test_median_odd_and_even", "test_variance",
            "test_empty_input_is_rejected",
        ),
        failure="exception:ZeroDivisionError",
    ),
    SampleCommit(
        "Fix parse_number with surrounding whitespace (#15)",
        {
            "src/calclib/numbers.py": [(
                "    try:\n        return int(text)",
                "    text = text.strip()\n    try:\n        return int(text)",
            )],
            "tests/test_numbers.py": [(
                "\n\ndef test_parse_number_rejects_words():",
                "\n\ndef test_parse_number_strips_whitespace():\n"
                '    assert parse_number(" 42 ") == 42\n'
                '    assert parse_number("\\t4.5\\n") == 4.5\n'
                "\n\ndef test_parse_number_rejects_words():",
            )],
        },
        "decoy", "fix-test-passes-before", "no-fail-to-pass", author="ben",
        body="Strip the text before parsing it.",
        notes="int() and float() already ignore surrounding whitespace: the new test passes "
        "on the parent too.",
    ),
    SampleCommit(
        "Fix word_count on runs of whitespace (#17)",
        {
            "src/calclib/text.py": [
                ('_NOT_SLUG = re.compile(r"[^a-z0-9]+")\n',
                 '_NOT_SLUG = re.compile(r"[^a-z0-9]+")\n_WHITESPACE = re.compile(r"\\s+")\n'),
                ('    """Number of words in text."""\n    return len(text.split(" "))\n',
                 '    """Number of words in text."""\n'
                 '    normalized = normalize_whitespace(text)\n'
                 '    return len(normalized.split(" ")) if normalized else 0\n'
                 '\n\ndef normalize_whitespace(text: str) -> str:\n'
                 '    """Collapse every run of whitespace to one space and trim the ends."""\n'
                 '    return _WHITESPACE.sub(" ", text).strip()\n'),
            ],
            "tests/test_whitespace.py": TEST_WHITESPACE,
        },
        "genuine", "collection-error", "task",
        body="Double spaces, tabs and newlines counted as extra words. The new\n"
        "normalize_whitespace() helper collapses them first.",
        fail_to_pass=_ids(
            "test_whitespace", "test_normalize_whitespace", "test_word_count_ignores_whitespace_runs",
        ),
        failure="collection",
    ),
    SampleCommit(
        "Fix parse_size rejecting fractional sizes (#18)",
        {
            "src/calclib/units.py": [
                ("    return int(number) * factor\n", "    return round(float(number) * factor)\n"),
            ],
            "tests/conftest.py": TESTS_CONFTEST,
            "tests/data/sizes.txt": SIZES_TXT,
            "tests/test_units.py": [(
                "\n\ndef test_parse_size_rejects_unknown_units():",
                "\n\ndef test_parse_size_table(size_cases):\n"
                "    for text, expected in size_cases:\n"
                "        assert parse_size(text) == expected\n"
                "\n\ndef test_parse_size_rejects_unknown_units():",
            )],
        },
        "genuine", "test-data-and-fixture", "task", author="ben",
        body='parse_size("1.5 KiB") raised ValueError. The sizes table the docs promise now\n'
        "lives in tests/data/sizes.txt, read by a conftest fixture.",
        fail_to_pass=_ids("test_units", "test_parse_size_table"),
        pass_to_pass=_ids(
            "test_units", *(f"test_format_bytes[{c}]" for c in FORMAT_BYTES_CASES),
            "test_format_bytes_rounds_ties_up", "test_parse_size",
            "test_parse_size_rejects_unknown_units",
        ),
        failure="exception:ValueError",
    ),
    SampleCommit(
        "Fix clamp with bounds given in reverse order (#20)",
        {
            "src/calclib/numbers.py": [(
                "    return max(low, min(value, high))\n",
                "    if low > high:\n        low, high = high, low\n"
                "    return max(low, min(value, high))\n",
            )],
            "tests/test_numbers.py": [
                ("import pytest\n", "from pathlib import Path\n\nimport pytest\n"),
                (
                    "\n\ndef test_round_half_up_plain_values():",
                    "\n\ndef test_clamp_accepts_reversed_bounds():\n"
                    "    assert clamp(5, 10, 0) == 5\n"
                    '    audit = Path(__file__).with_name("clamp-audit.txt")\n'
                    '    assert not audit.exists(), "stale audit file"\n'
                    '    audit.write_text("clamp(5, 10, 0) == 5\\n")\n'
                    "\n\ndef test_round_half_up_plain_values():",
                ),
            ],
        },
        "decoy", "flaky", "flaky",
        body="Swap the bounds when low > high instead of always returning low.",
        notes="The new test writes tests/clamp-audit.txt after its check and asserts the file "
        "does not exist: it passes once after the fix and fails on every rerun in the same "
        "workspace. On the parent it fails before writing anything.",
        extra={"test": "tests/test_numbers.py::test_clamp_accepts_reversed_bounds",
               "leaked_file": "tests/clamp-audit.txt"},
    ),
    SampleCommit(
        "Fix format_bytes for negative sizes (#21)",
        {
            "pyproject.toml": [("dependencies = []", f'dependencies = ["{NONEXISTENT_DEPENDENCY}"]')],
            "src/calclib/units.py": [(
                "    value = float(size)\n",
                "    if size < 0:\n"
                '        return "-" + format_bytes(-size)\n'
                "    value = float(size)\n",
            )],
            "tests/test_units.py": [(
                "\n\ndef test_parse_size():",
                "\n\ndef test_format_bytes_negative():\n"
                '    assert format_bytes(-2048) == "-2.0 KiB"\n'
                "\n\ndef test_parse_size():",
            )],
        },
        "decoy", "uninstallable-dependency", "install-failed", author="ben",
        body="Negative sizes were printed in bytes. Also declares the fast-path dependency\n"
        "we plan to use for formatting.",
        notes=f"Declares {NONEXISTENT_DEPENDENCY!r}, which is not on PyPI: the environment "
        "for the fix commit cannot be installed. The test itself is a genuine fail-to-pass.",
        extra={"dependency": NONEXISTENT_DEPENDENCY,
               "fail_to_pass": _ids("test_units", "test_format_bytes_negative")},
    ),
    SampleCommit(
        "Drop the unused fast-path dependency",
        {"pyproject.toml": [(f'dependencies = ["{NONEXISTENT_DEPENDENCY}"]', "dependencies = []")]},
        "ordinary", "dependency-removal", "not-a-candidate", author="ben", reason="not-a-candidate",
        notes="pyproject.toml only; commits after this one install again.",
    ),
    SampleCommit(
        "Release 0.2.0",
        {
            "pyproject.toml": [('version = "0.1.0"', 'version = "0.2.0"')],
            "src/calclib/__init__.py": [('__version__ = "0.1.0"', '__version__ = "0.2.0"')],
            "CHANGELOG.md": CHANGELOG,
        },
        "ordinary", "release", "not-a-candidate", reason="no-test-change",
        notes="Version bump and changelog: no test changes. Tagged v0.2.0.",
        extra={"tag": "v0.2.0"},
    ),
)


def _public(commit: SampleCommit, *names: str) -> dict:
    """A plain dict of some fields, for tests that should not depend on the dataclass."""
    out = {"subject": commit.subject, "kind": commit.kind, "expected": commit.expected}
    for name in names:
        value = getattr(commit, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


GENUINE: list[dict] = [
    _public(c, "fail_to_pass", "pass_to_pass", "failure") for c in HISTORY if c.role == "genuine"
]
"""Each genuine fix: subject, kind, expected ("task"), fail_to_pass, pass_to_pass, failure."""

DECOYS: list[dict] = [_public(c, "notes", "extra") for c in HISTORY if c.role == "decoy"]
"""Each decoy: subject, kind, expected rejection, notes, extra (case-specific facts)."""

ORDINARY: list[dict] = [_public(c, "reason", "notes") for c in HISTORY if c.role == "ordinary"]
"""Ordinary commits (all "not-a-candidate"): subject, kind, expected, reason, notes."""


# --- building ----------------------------------------------------------------------------------


def _commit_date(index: int) -> str:
    """ISO date of the index-th commit: weekly from FIRST_DAY at 10:00 UTC."""
    return f"{FIRST_DAY + timedelta(weeks=index)}T10:00:00+00:00"


def _git_env(author: str, when: str) -> dict[str, str]:
    """The caller's environment without any GIT_* variable or user config, plus a fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    name, email = AUTHORS[author]
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_AUTHOR_DATE=when,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
        GIT_COMMITTER_DATE=when,
    )
    return env


def _git(repo: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run git in repo; raise SampleRepoError with git's own message when it fails."""
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SampleRepoError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _apply(repo: Path, path: str, change) -> None:
    """Write one file change (content, None for delete, or replacements) into the work tree."""
    target = repo / path
    if change is None:
        target.unlink()
        return
    if isinstance(change, list):
        content = target.read_text(encoding="utf-8")
        for old, new in change:
            if content.count(old) != 1:
                raise SampleRepoError(f"{path}: expected exactly one {old!r}")
            content = content.replace(old, new)
        change = content
    target.parent.mkdir(parents=True, exist_ok=True)
    # newline="\n": the bytes, hence the blob SHAs, must not depend on the platform.
    target.write_text(change, encoding="utf-8", newline="\n")


def _check_dest(dest: Path) -> None:
    """Refuse to build over anything: DEST must be missing or an empty directory."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise SampleRepoError(f"{dest} exists and is not empty; give a new or empty directory")


def build(dest: Path, bundle: Path | None = None) -> dict[str, str]:
    """Build the sample repository at dest (and a bundle of all refs); return subject -> sha."""
    dest = Path(dest)
    _check_dest(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shas: dict[str, str] = {}
    env = _git_env("ada", _commit_date(0))
    _git(dest, env, "init", "-q", "-b", "main")
    for index, commit in enumerate(HISTORY):
        env = _git_env(commit.author, _commit_date(index))
        for path, change in commit.files.items():
            _apply(dest, path, change)
        _git(dest, env, "add", "-A")
        message = commit.subject + (f"\n\n{commit.body}\n" if commit.body else "\n")
        _git(dest, env, "commit", "-q", "--no-verify", "--cleanup=verbatim", "-F", "-", stdin=message)
        shas[commit.subject] = _git(dest, env, "rev-parse", "HEAD")
        if "tag" in commit.extra:
            _git(dest, env, "tag", commit.extra["tag"])
    if bundle is not None:
        bundle = Path(bundle).resolve()
        bundle.parent.mkdir(parents=True, exist_ok=True)
        _git(dest, env, "bundle", "create", "-q", str(bundle), "--all")
    return shas


def main(argv: list[str] | None = None) -> int:
    """Command line: build DEST, optionally a bundle; print "<sha> <subject>" per commit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="new or empty directory for the repository")
    parser.add_argument("--bundle", type=Path, help="also write a git bundle of all refs here")
    args = parser.parse_args(argv)
    try:
        shas = build(args.dest, args.bundle)
    except SampleRepoError as exc:
        print(f"build_sample_repo: {exc}", file=sys.stderr)
        return 2
    for subject, sha in shas.items():
        print(f"{sha} {subject}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
