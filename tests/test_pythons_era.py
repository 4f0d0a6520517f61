"""``--python auto`` never goes past a commit's era (issue 23): classifiers, CI matrices and the date
cap the interpreter chosen; the older admitted ones are the fallbacks. Pure, no venv."""

from __future__ import annotations

from pathlib import Path

from taskset.env import cimatrix, deps, pythons
from taskset.env.pythons import Interpreter, PythonNeeds

HAVE = [Interpreter(Path(f"/py/{m}"), f"{m}.1") for m in ("3.7", "3.8", "3.9", "3.11", "3.12")]


def _pick(needs: PythonNeeds, date: str) -> str:
    choice = pythons.choose(needs, date, HAVE)
    assert choice.interpreter is not None
    return choice.interpreter.minor


def test_classifiers_cap_the_interpreter_even_when_newer_ones_were_released():
    """A 2022 commit whose classifiers stop at 3.6 runs on the oldest installed (3.7), the nearest
    to what it declares, never on 3.11 because 3.11 existed by then."""
    assert _pick(PythonNeeds(classifiers=("2.7", "3.5", "3.6")), "2022-12-01") == "3.7"
    assert _pick(PythonNeeds(classifiers=("3.7", "3.8")), "2024-01-01") == "3.8"
    # a 2.7 classifier beside a bare "Python :: 3" caps nothing (zipp 1.1.1: CI 2.7, 3.6, 3.8)
    assert _pick(PythonNeeds(classifiers=("2.7",), ci=("2.7", "3.6", "3.8")), "2020-02-17") == "3.8"
    assert _pick(PythonNeeds(classifiers=("2.7",)), "2020-02-17") == "3.8"


def test_ci_matrix_caps_the_interpreter():
    """The newest minor the CI tested on is the ceiling; under it, the newest released by the date."""
    assert _pick(PythonNeeds(ci=("3.6", "3.7", "3.8")), "2024-01-01") == "3.8"
    assert _pick(PythonNeeds(ci=("3.8", "3.9", "3.10")), "2024-01-01") == "3.9"
    # the lower of the two caps wins: classifiers up to 3.12, CI up to 3.9
    assert _pick(PythonNeeds(classifiers=("3.8", "3.12"), ci=("3.8", "3.9")), "2024-01-01") == "3.9"


def test_the_date_caps_even_a_named_minor():
    """No interpreter released more than the margin after the commit: a classifier naming a far
    later minor (copied forward, or a typo) does not pull a 2019 commit onto 3.12."""
    assert _pick(PythonNeeds(classifiers=("3.7", "3.12")), "2019-05-01") == "3.7"
    # the margin: 3.8 (2019-10-14) is of the era of a commit of 2019-09, not of one of 2019-01
    assert pythons.ceiling(PythonNeeds(), "2019-09-01") == "3.8"
    assert pythons.ceiling(PythonNeeds(), "2019-01-01") == "3.7"


def test_the_choice_lists_the_older_admitted_interpreters_newest_first():
    """What to try when the environment cannot be built on the chosen one: older admitted ones only."""
    choice = pythons.choose(PythonNeeds(requires=">=3.8", ci=("3.8", "3.9", "3.11")), "2023-06-01", HAVE)
    assert choice.interpreter is not None and choice.interpreter.minor == "3.11"
    assert [i.minor for i in choice.older] == ["3.9", "3.8"]
    assert "era up to 3.11" in choice.reason and "CI 3.8, 3.9, 3.11" in choice.reason


WORKFLOW = """\
name: tests
on: [push]
jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest]
        python-version: ["3.7", "3.8", '3.9', pypy-3.9]
        include:
          - python-version: "3.10"
            os: windows-latest
    steps:
      - uses: actions/setup-python@v4  # not a version: 4
        with:
          python-version: ${{ matrix.python-version }}
"""

TRAVIS = """\
language: python
python:
  - "2.7"
  - 3.5
  - "3.6-dev"
  - nightly
install: pip install tox-travis  # 3.14 in a comment is no matrix entry
"""


def test_ci_files_are_read_for_their_python_minors(tmp_path):
    """Workflows (inline lists, include entries), travis lists and tox envlists with factors."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    (tmp_path / ".travis.yml").write_text(TRAVIS)
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py{27,34}-django, py3{5,6}, flake8, pypy3\n")
    assert cimatrix.yaml_python_minors(WORKFLOW) == {"3.7", "3.8", "3.9", "3.10"}
    assert cimatrix.yaml_python_minors(TRAVIS) == {"2.7", "3.5", "3.6"}
    assert cimatrix.tox_minors((tmp_path / "tox.ini").read_text()) == {"2.7", "3.4", "3.5", "3.6"}
    assert cimatrix.ci_minors(tmp_path) == ("2.7", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10")
    assert deps.python_needs(tmp_path).ci == cimatrix.ci_minors(tmp_path)
    assert cimatrix.ci_minors(tmp_path / "missing") == ()
