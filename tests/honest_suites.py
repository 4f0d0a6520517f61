"""Honest test suites, one per way real projects produce test functions (issue 23, part 2).

Each entry is the test side of one fix commit of ``calc.add`` (the buggy side subtracts); every
suite has tests that fail on the buggy code and pass on the fix, written the way the pattern
writes them. tests/test_honest_patterns.py mines each from its own git repository.
"""

from __future__ import annotations

BUGGY = "def add(a, b):\n    return a - b\n\n\nSCALE = 1\n"
FIXED = "def add(a, b):\n    return a + b\n\n\nSCALE = 1\n"

PYPROJECT = ('[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
             '[project]\nname = "calc"\nversion = "0.1"\n[project.optional-dependencies]\n'
             'test = ["pytest", "hypothesis"]\n[tool.setuptools]\npy-modules = ["calc"]\n')
"""One dependency set for every suite: one environment serves them all."""

INITIAL_TEST = "from calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"

WRAPPING_DECORATORS = {
    "tests/helpers.py": (
        "def twice(fn):\n"
        "    def wrapper(*args, **kwargs):\n"
        "        fn(*args, **kwargs)\n"
        "        fn(*args, **kwargs)\n"
        "    return wrapper\n"
    ),
    "tests/test_wrapped.py": (
        "from calc import add\n"
        "from tests.helpers import twice\n\n\n"
        "def logged(fn):\n"
        "    def inner():\n"
        "        return fn()\n"
        "    return inner\n\n\n"
        "@twice\n"
        "def test_add_twice():\n"
        "    assert add(2, 3) == 5\n\n\n"
        "@logged\n"
        "def test_add_logged():\n"
        "    assert add(1, 1) == 2\n\n\n"
        "def test_plain():\n"
        "    assert add(2, 0) == 2\n"
    ),
}

FUNCTOOLS_WRAPS = {
    "tests/helpers.py": (
        "import functools\n\n\n"
        "def with_values(*values):\n"
        "    def decorate(fn):\n"
        "        @functools.wraps(fn)\n"
        "        def run(*args, **kwargs):\n"
        "            for value in values:\n"
        "                fn(value, *args, **kwargs)\n"
        "        del run.__wrapped__  # pytest must not see the value argument\n"
        "        return run\n"
        "    return decorate\n"
    ),
    "tests/test_wraps.py": (
        "import functools\n\n"
        "import pytest\n\n"
        "from calc import add\n"
        "from tests.helpers import with_values\n\n\n"
        "def retry(fn):\n"
        "    @functools.wraps(fn)\n"
        "    def again(*args, **kwargs):\n"
        "        return fn(*args, **kwargs)\n"
        "    return again\n\n\n"
        "@pytest.fixture\n"
        "def three():\n"
        "    return 3\n\n\n"
        "@retry\n"
        "def test_add_with_fixture(three):\n"
        "    assert add(2, three) == 5\n\n\n"
        "@with_values(1, 2, 3)\n"
        "def test_add_values(n):\n"
        "    assert add(n, n) == 2 * n\n\n\n"
        "def test_plain():\n"
        "    assert add(2, 0) == 2\n"
    ),
}

HYPOTHESIS = {
    "tests/test_properties.py": (
        "import unittest\n\n"
        "from calc import add  # first: the attacks in test_honest_patterns patch hypothesis from calc.py\n"
        "from hypothesis import example, given, settings\n"
        "from hypothesis import strategies as st\n"
        "from hypothesis.stateful import RuleBasedStateMachine, invariant, rule\n\n\n"
        "@settings(max_examples=20, database=None, deadline=None)\n"
        "@given(st.integers(), st.integers())\n"
        "@example(2, 3)\n"
        "def test_add_commutes_and_sums(a, b):\n"
        "    assert add(a, b) == add(b, a) == a + b\n\n\n"
        "@given(st.integers(min_value=0, max_value=0))\n"
        "def test_zero(a):\n"
        "    assert add(a, 0) == a\n\n\n"
        "class Counter(RuleBasedStateMachine):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.total = 0\n"
        "        self.expected = 0\n\n"
        "    @rule(n=st.integers(min_value=1, max_value=9))\n"
        "    def bump(self, n):\n"
        "        self.total = add(self.total, n)\n"
        "        self.expected += n\n\n"
        "    @invariant()\n"
        "    def agrees(self):\n"
        "        assert self.total == self.expected\n\n\n"
        "Counter.TestCase.settings = settings(max_examples=10, stateful_step_count=5, database=None, deadline=None)\n"
        "TestCounter = Counter.TestCase\n\n\n"
        "class TestGivenMethods(unittest.TestCase):\n"
        "    @given(st.integers(min_value=1, max_value=5))\n"
        "    @settings(max_examples=5, database=None)\n"
        "    def test_positive(self, n):\n"
        "        self.assertEqual(add(n, n), 2 * n)\n"
    ),
}

REBINDING_FIXTURES = {
    "tests/conftest.py": (
        "import pytest\n\n"
        "import calc\n\n\n"
        "@pytest.fixture\n"
        "def scaled(monkeypatch):\n"
        "    monkeypatch.setattr(calc, 'SCALE', 10)\n"
        "    yield calc\n\n\n"
        "@pytest.fixture(autouse=True)\n"
        "def tagged(request):\n"
        "    request.function.seen = True  # request.function: the test's own function object\n"
        "    request.node.add_marker('tagged')\n"
        "    yield\n"
    ),
    "tests/test_rebinding.py": (
        "import pytest\n\n"
        "from calc import add\n\n"
        "OFFSET = 0\n\n\n"
        "@pytest.fixture\n"
        "def offset(monkeypatch, request):\n"
        "    monkeypatch.setattr(request.module, 'OFFSET', 1)  # a test-module global, rebound\n"
        "    monkeypatch.setitem(globals(), 'helper', lambda: 'patched')\n"
        "    return request.module.OFFSET\n\n\n"
        "def helper():\n"
        "    return 'original'\n\n\n"
        "def test_module_attribute(scaled):\n"
        "    assert scaled.SCALE == 10 and add(2, 3) == 5\n\n\n"
        "def test_module_global(offset):\n"
        "    assert add(OFFSET, 4) == 5 and helper() == 'patched'\n\n\n"
        "def test_function_attribute(request):\n"
        "    assert request.function.seen and request.function.__name__ == 'test_function_attribute'\n"
        "    assert add(2, 0) == 2\n"
    ),
}

CLASS_MACHINERY = {
    "tests/conftest.py": (
        "def pytest_generate_tests(metafunc):\n"
        "    if 'pair' in metafunc.fixturenames:\n"
        "        metafunc.parametrize('pair', [(1, 2), (2, 3)])\n"
    ),
    "tests/base.py": (
        "from calc import add\n\n\n"
        "class AddMixin:\n"
        "    left = 0\n\n"
        "    def test_mixin_add(self):\n"
        "        self.assertEqual(add(self.left, 3), self.left + 3)\n"
    ),
    "tests/test_classes.py": (
        "import unittest\n\n"
        "import pytest\n\n"
        "from calc import add\n"
        "from tests.base import AddMixin\n\n\n"
        "class TestGenerated:\n"
        "    def pytest_generate_tests(self, metafunc):\n"
        "        metafunc.parametrize('n', [1, 2, 3])\n\n"
        "    def test_double(self, n):\n"
        "        assert add(n, n) == 2 * n\n\n\n"
        "class TestFromConftest:\n"
        "    def test_pair(self, pair):\n"
        "        assert add(*pair) == sum(pair)\n\n\n"
        "@pytest.mark.parametrize('b', [1, 2])\n"
        "class TestParametrizedClass:\n"
        "    def test_add(self, b):\n"
        "        assert add(2, b) == 2 + b\n\n\n"
        "class TestWithMixin(AddMixin, unittest.TestCase):\n"
        "    left = 2\n\n\n"
        "def _check(self):\n"
        "    assert add(4, 1) == 5\n\n\n"
        "TestMadeByType = type('TestMadeByType', (), {'test_made': _check})\n\n\n"
        "def with_cases(*cases):\n"
        "    def decorate(cls):\n"
        "        for a, b in cases:\n"
        "            def test(self, a=a, b=b):\n"
        "                assert add(a, b) == a + b\n"
        "            test.__name__ = 'test_case_%d_%d' % (a, b)\n"
        "            setattr(cls, test.__name__, test)\n"
        "        return cls\n"
        "    return decorate\n\n\n"
        "@with_cases((1, 1), (2, 5))\n"
        "class TestDecoratedClass:\n"
        "    pass\n\n\n"
        "def test_plain():\n"
        "    assert add(2, 0) == 2\n"
    ),
}

GENERATED_TESTS = {
    "tests/test_generated.py": (
        "import unittest\n\n"
        "from calc import add\n\n\n"
        "def make_test(a, b):\n"
        "    def check():\n"
        "        assert add(a, b) == a + b\n"
        "    return check\n\n\n"
        "for _a, _b in [(1, 2), (3, 4)]:\n"
        "    globals()['test_loop_%d_%d' % (_a, _b)] = make_test(_a, _b)\n\n"
        "SOURCE = '''\n"
        "def test_compiled():\n"
        "    assert add(5, 5) == 10\n"
        "'''\n"
        "exec(compile(SOURCE, '<generated tests>', 'exec'), globals())\n\n\n"
        "class TestSetattr(unittest.TestCase):\n"
        "    pass\n\n\n"
        "def _method(n):\n"
        "    def method(self):\n"
        "        self.assertEqual(add(n, 1), n + 1)\n"
        "    return method\n\n\n"
        "for _n in range(3):\n"
        "    setattr(TestSetattr, 'test_n%d' % _n, _method(_n))\n\n\n"
        "def test_plain():\n"
        "    assert add(2, 0) == 2\n"
    ),
}

ASSERTION_REWRITING = {
    "tests/__init__.py": "",
    "tests/conftest.py": (
        "import pytest\n\n"
        "pytest.register_assert_rewrite('tests.checks')\n"
        "pytest_plugins = ['tests.plugin']\n"
    ),
    "tests/checks.py": (
        "from calc import add\n\n\n"
        "def check_sum(a, b):\n"
        "    total = add(a, b)\n"
        "    assert total == a + b\n"
    ),
    "tests/plugin.py": (
        "import pytest\n\n\n"
        "@pytest.fixture\n"
        "def summed():\n"
        "    from tests.checks import check_sum\n"
        "    return check_sum\n"
    ),
    "tests/test_rewritten.py": (
        "from calc import add\n"
        "from tests.checks import check_sum\n\n\n"
        "def test_helper_asserts():\n"
        "    check_sum(2, 3)\n\n\n"
        "def test_plugin_fixture(summed):\n"
        "    summed(4, 4)\n\n\n"
        "def test_plain():\n"
        "    assert add(2, 0) == 2\n"
    ),
}

UNITTEST_AND_FIXTURES = {
    "setup.cfg": "[tool:pytest]\naddopts = --doctest-modules\n",
    "tests/test_styles.py": (
        "import unittest\n\n"
        "import pytest\n\n"
        "from calc import add\n\n\n"
        "def documented():\n"
        "    '''\n"
        "    >>> add(2, 0)\n"
        "    2\n"
        "    '''\n\n\n"
        "class TestSub(unittest.TestCase):\n"
        "    def test_cases(self):\n"
        "        for a, b in [(1, 2), (3, 3)]:\n"
        "            with self.subTest(a=a, b=b):\n"
        "                self.assertEqual(add(a, b), a + b)\n\n\n"
        "@pytest.fixture\n"
        "def opened():\n"
        "    resource = {'open': True}\n"
        "    yield resource\n"
        "    resource['open'] = False\n\n\n"
        "@pytest.mark.usefixtures('opened')\n"
        "class TestUses:\n"
        "    def test_add(self):\n"
        "        assert add(2, 3) == 5\n\n"
        "    def test_yield(self, opened):\n"
        "        assert opened['open'] and add(1, 1) == 2\n"
    ),
}

SHAPES = {
    "tests/test_shapes.py": (
        "import types\n\n"
        "from calc import add\n\n\n"
        "def test_first():\n"
        "    assert add(2, 3) == 5\n\n\n"
        "test_second = test_first  # one function under two names\n"
        "test_third = types.FunctionType(test_first.__code__, globals(), 'test_third')  # one code object\n\n\n"
        "class TestOuter:\n"
        "    class TestInner:\n"
        "        def test_nested(self):\n"
        "            assert add(1, 2) == 3\n\n"
        "    @staticmethod\n"
        "    def test_static():\n"
        "        assert add(3, 3) == 6\n\n"
        "    @classmethod\n"
        "    def test_class(cls):\n"
        "        assert add(4, 4) == 8\n\n\n"
        "def test_plain():\n"
        "    assert add(2, 0) == 2\n"
    ),
}

PATTERNS = {
    "wrapping-decorators": WRAPPING_DECORATORS,
    "functools-wraps": FUNCTOOLS_WRAPS,
    "hypothesis": HYPOTHESIS,
    "rebinding-fixtures": REBINDING_FIXTURES,
    "class-machinery": CLASS_MACHINERY,
    "generated-tests": GENERATED_TESTS,
    "assertion-rewriting": ASSERTION_REWRITING,
    "unittest-doctest-and-fixtures": UNITTEST_AND_FIXTURES,
    "shared-nested-and-static": SHAPES,
}
"""Pattern name -> the fix commit's test-side files."""
