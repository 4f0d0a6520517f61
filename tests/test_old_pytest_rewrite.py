"""The per-test integrity check compiles its reference the way the pytest of the run rewrites.

Each test's function is compared with what pytest's assertion rewriter makes of its module's
file, so the reference compile must call ``_rewrite_test`` as that pytest's own import hook does:
pytest 5 hands it a str (given a ``Path``, the rewritten ``assert`` spelled ``PosixPath(...)``
into its warning call, and every test with an assert read as tampered: python-attrs/attrs
e2b02ec39e and pytoolz/toolz c696ac6f3c on pytest 5.2.1), pytest < 5 a ``py.path.local`` (given a
str, ``fn.stat()`` raised, and no rewritten test module was checked at all). Runs on Python 3.7
with the pytest of those projects' era; skipped where no 3.7 is installed.
"""

from __future__ import annotations

import pytest

from taskset.env.pythons import find_python
from taskset.evaluation.runner import run_tests
from test_runner import build_env, outcomes, workspace

CALC = "def add(a, b):\n    return a + b\n"

HONEST = {
    "calc.py": CALC,
    "tests/__init__.py": "",
    "tests/test_calc.py": (
        "import calc\n"
        "class TestCalc:\n"
        "    def test_add(self):\n        assert calc.add(1, 2) == 3\n"
        "    def test_wrong(self):\n        assert calc.add(1, 2) == 4\n"
        "def test_none():\n    assert calc.add(0, 0) is not None\n"
    ),
}
IDS = ["tests/test_calc.py::TestCalc::test_add", "tests/test_calc.py::TestCalc::test_wrong",
       "tests/test_calc.py::test_none"]

SWAP = (
    "import sys\n"
    "def add(a, b):\n"
    "    # the candidate: when first called, put a passing body in place of a later test's code,\n"
    "    # compiled under the test file's own name, at the test's own line\n"
    "    test = sys.modules['tests.test_calc'].TestCalc.test_wrong\n"
    "    text = '\\n' * (test.__code__.co_firstlineno - 1) + 'def test_wrong(self):\\n    pass\\n'\n"
    "    fake = compile(text, test.__code__.co_filename, 'exec')\n"
    "    test.__code__ = [c for c in fake.co_consts if hasattr(c, 'co_code')][0]\n"
    "    return a + b\n"
)


@pytest.fixture(scope="module", params=["pytest==4.6.11", "pytest==5.2.1"])
def old_pytest(request, session_cache):
    """A Python 3.7 environment with a pytest older than 6 (one per version, shared)."""
    python = find_python("3.7")
    if python is None:
        pytest.skip("no Python 3.7 installed")
    name = "old-rewrite-" + request.param.replace("==", "-")
    return build_env(session_cache / name, str(python), request.param)


def test_class_based_tests_with_asserts_under_old_pytest_are_never_tampered(tmp_path, old_pytest):
    """Honest class-based and plain tests whose asserts pytest rewrote: outcomes as they are, and
    no finding (pytest 5.2.1 read every one of them as tampered before)."""
    run = run_tests(old_pytest, workspace(tmp_path, HONEST), IDS)
    assert outcomes(run) == {IDS[0]: "passed", IDS[1]: "failed", IDS[2]: "passed"}, run.output
    assert not run.tampered, run.tampered


def test_a_test_whose_code_was_swapped_under_old_pytest_is_tampering(tmp_path, old_pytest):
    """Python 3.7 has no audit hook, so the comparison with the rewritten reference is what sees a
    test's code replaced by code claiming its file (under pytest < 5 it was never made)."""
    run = run_tests(old_pytest, workspace(tmp_path, {**HONEST, "calc.py": SWAP}), IDS)
    assert any("test_wrong" in finding and "compiles to" in finding for finding in run.tampered), run.tampered
