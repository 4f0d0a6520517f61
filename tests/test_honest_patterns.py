"""Zero false ``tampered`` on honest suites (issue 23, part 2), and the attacks a pattern-accepting
rule could let through.

Each way real suites produce test functions (tests/honest_suites.py) is the test side of one fix
commit in its own git repository, mined end to end: the fix must become a task (the miner's buggy
and gold runs are judged by the same evidence as the evaluator's, so a false ``tampered`` on
either side is a rejection), the gold patch must resolve it, and the buggy code must fail as
``tests-failed``, never ``tampered``. Every repository declares the same dependencies, so one
environment (pytest and hypothesis) serves them all.
"""

from __future__ import annotations

import pytest

from honest_suites import BUGGY, FIXED, INITIAL_TEST, PATTERNS, PYPROJECT
from miner import MineConfig, mine, read_rejections
from taskset import TaskSet
from taskset.evaluation.verdict import VerdictProblem, evaluate
from taskset.record import Task


def _mined(root, name: str, files: dict[str, str]) -> tuple[Task | None, str]:
    """Mine a two-commit repository whose fix commit adds ``files``: (its task or None, why not)."""
    from conftest import GitRepo

    repo = GitRepo(root / name / "repo")
    repo.commit("calc with a bug", {"pyproject.toml": PYPROJECT, "calc.py": BUGGY, "tests/__init__.py": "",
                                    "tests/test_zero.py": INITIAL_TEST})
    fix = repo.commit("Fix add: it subtracted", {"calc.py": FIXED, **files})
    out = root / name / "ts"
    summary = mine(MineConfig(repo=str(repo.path), out=out))
    assert not summary.infrastructure, summary.infrastructure
    tasks = {task.fix_commit: task for task in TaskSet.open(out, create=True)}
    why = "; ".join(f"{r.reason.value}: {r.detail}" for r in read_rejections(out / "rejections.jsonl")
                    if r.fix_commit == fix)
    return tasks.get(fix), why


class _Mined(dict):
    """Pattern name -> (task or None, why not), each repository mined on first use."""

    def __init__(self, root):
        super().__init__()
        self.root = root

    def __missing__(self, name: str) -> tuple[Task | None, str]:
        self[name] = _mined(self.root, name, PATTERNS[name])
        return self[name]


@pytest.fixture(scope="module")
def mined(tmp_path_factory) -> _Mined:
    """The patterns' repositories, each mined once (the first builds the shared environment)."""
    return _Mined(tmp_path_factory.mktemp("honest"))


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_an_honest_suite_of_every_pattern_is_never_tampered(mined, pattern):
    """Wrapping decorators (with and without functools.wraps), hypothesis (@given, @settings,
    @example, a stateful machine's TestCase), fixtures that rebind module attributes and test-module
    globals or touch ``request.function``, class machinery (pytest_generate_tests in a class and a
    conftest, parametrized classes, a unittest mixin from another module, classes made by type() and
    filled by a class decorator), tests generated in a loop, exec-compiled or set on a TestCase,
    assertion rewriting of helper and plugin modules, doctest modules, subTest, yield fixtures,
    usefixtures on classes, one code object under several names, nested classes and static/class
    methods: the fix is a task, the gold patch resolves it, the buggy code fails as tests-failed."""
    task, why = mined[pattern]
    assert task is not None, why
    assert task.FAIL_TO_PASS, task


def test_the_evaluator_resolves_the_gold_patch_and_fails_the_bug(mined):
    """On the suite with the most machinery (hypothesis's proxies, a stateful machine), the
    evaluator's own verdicts: the gold patch resolves, the buggy code is tests-failed, not tampered."""
    task = mined["hypothesis"][0]
    assert task is not None
    gold = evaluate(task, patch=task.patch)
    assert gold.resolved and not gold.message, gold.message
    buggy = evaluate(task, edits={})
    assert buggy.problem is VerdictProblem.TESTS_FAILED, (buggy.problem, buggy.message)


# --- attacks by someone who knows which patterns are accepted -----------------------------------

TARGET = "test_add_commutes_and_sums"

PROXY_MIMIC = BUGGY + """
import hypothesis
from hypothesis.internal.reflection import impersonate

class _Inner:
    pass

def given(*strategies, **named):
    def decorate(test):
        space = {}
        exec("def " + test.__name__ + "(*args, **kwargs):\\n    return None\\n", space)
        fake = impersonate(test)(space[test.__name__])  # on the test's own file and line, as @given's is
        fake.hypothesis = _Inner()
        fake.hypothesis.inner_test = test  # and wearing the test it claims to run
        return fake
    return decorate

hypothesis.given = given
"""

MODULE_CLASS = BUGGY + f"""
import sys
import types

def _passes(*args, **kwargs):
    return None

class _Served(types.ModuleType):
    def __getattribute__(self, name):
        if name == {TARGET!r}:
            return _passes
        return types.ModuleType.__getattribute__(self, name)

    @property
    def __dict__(self):
        namespace = dict(types.ModuleType.__dict__["__dict__"].__get__(self))
        if {TARGET!r} in namespace:
            namespace[{TARGET!r}] = _passes
        return namespace

for _module in list(sys.modules.values()):
    if (getattr(_module, "__file__", None) or "").endswith("test_properties.py"):
        _module.__class__ = _Served  # the test module is half imported: its tests come after
"""

CLASS_BUILT_AROUND = BUGGY + """
import builtins

_build = builtins.__build_class__

def _passes(self, *args, **kwargs):
    return None

def __build_class__(body, name, *bases, **keywords):
    made = _build(body, name, *bases, **keywords)
    if name == "TestGivenMethods":  # every class statement after this import comes through here
        _passes.__wrapped__ = made.test_positive
        made.test_positive = _passes
    return made

builtins.__build_class__ = __build_class__
"""

ATTACKS = {  # test id: (the candidate's edits, what the verdict's message must name)
    "proxy-mimic-through-hypothesis-impersonate": (
        {"calc.py": PROXY_MIMIC}, "a code object built under the name of",
    ),
    "module-class-serves-another-test": ({"calc.py": MODULE_CLASS}, "its module's class was replaced"),
    "test-class-rebuilt-through-build-class": (
        {"calc.py": CLASS_BUILT_AROUND}, "test_positive: its function's code comes from calc.py",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_mimicking_an_accepted_pattern_is_tampering(mined, attack):
    """A fake test placed on its test's line by hypothesis's own ``impersonate`` and wearing the
    real test as ``inner_test`` (the shape of an accepted proxy); a test module whose class is
    swapped at import so that collection sees another function; ``builtins.__build_class__``
    replaced at import so that a test class is built with another method: ``tampered``, never
    resolved. (A conftest.py the candidate adds is refused before any run: it would shadow one.)"""
    task = mined["hypothesis"][0]
    assert task is not None
    edits, caught_by = ATTACKS[attack]
    verdict = evaluate(task, edits=edits)
    assert not verdict.resolved and verdict.problem is VerdictProblem.TAMPERED, (verdict.problem, verdict.message)
    assert caught_by in verdict.message, verdict.message
