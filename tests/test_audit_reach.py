"""The audit hook out of the reach of the code it watches: nothing it uses is a module's to rebind.

The hook's helpers (``_finding``), loopctl_whose's tables, the builtins they call, ``json`` (which
wrote each finding) and the class of the hook's state all stayed reachable from the process under
test. Code under test that found them by their ``sys.modules`` name and rebound one before it acted
(no audit event: a module attribute or a builtin assigned) silenced every finding after it: the
buggy ``add`` came out ``resolved``. Each such route then traces the failing test and rewrites its
assertion's result in ``f_locals`` (written back when the trace function returns, no ctypes), which
only the audit hook sees. So did code of the tests' run by the hook itself, where nothing is heard
and the frames above hold its state (a ``str`` subclass as a code object's file name, a patched
``PurePath.__str__``), a hook compiled under a test file's name given as a ``str`` subclass, and a
``gc`` walk made for the candidate by library code that hands back its result (an executor, a
dispatcher), which finds the hook and its state among the objects. Each route is ``tampered`` now,
and named by what gave it away. Every name the static screen knows is spelled in pieces
(tests/test_machinery.py), so the run-time layer is what is tested.
"""

from __future__ import annotations

import pytest

from test_adversarial import calc_task
from test_machinery import HOOK_SOURCE, TRACE_TEST_ADD, assert_caught, encoded

# Applied after each route's rebinding: only the audit hook can see this (tracing from calc.py).
TRACE_AND_FLIP = """
def _lines(frame, event, arg):
    names = getattr(frame, "f_" + "locals")
    for name, value in list(names.items()):
        if name.startswith("@py_assert") and value is False:
            names[name] = True
    return _lines
""" + TRACE_TEST_ADD

FINDING_REBOUND = """
_audit = _sys.modules["loop" + "ctl_audit"]
_audit._finding = lambda *args, **kwargs: None
"""

HANDERS_REBOUND = """
_whose = _sys.modules["loop" + "ctl_whose"]
_whose._HANDERS = (("/", None),)
"""

BUILTIN_REBOUND = """
_builtins = _m("built", "ins")
_any = _builtins.any
def _quiet_any(items):
    if getattr(getattr(items, "gi_code", None), "co_filename", "").endswith("ctl_whose.py"):
        return False
    return _any(items)
_builtins.any = _quiet_any
"""

ENCODER_REBOUND = """
class _Quiet(_json.JSONEncoder):
    def encode(self, value):
        if isinstance(value, dict) and value.get("k") == "audit":
            value = {"k": "program", "name": "true"}
        return super().encode(value)
_json._default_encoder = _Quiet()
"""

FULL_COUNTS = """
class _Full(dict):
    def get(self, key, default=None):
        return 99
"""

STATE_CLASS_PATCHED = FULL_COUNTS + """
def _attribute(self, name, _get=object.__getattribute__, _full=_Full):
    value = _get(self, name)
    return _full() if name == "counts" else value  # bound: it still runs at interpreter exit
_klass = getattr(_sys.modules["loop" + "ctl_audit"], "_State", _m("ty", "pes").SimpleNamespace)
try:
    _klass.__getattribute__ = _attribute
except TypeError:
    pass  # a type of the interpreter's own cannot be patched
"""

# Run by the hook itself (with its guard down, before the fix): find the hook's state in the frames
# above and make every kind of finding look already sent.
STATE_HUNT = FULL_COUNTS + """
_caught = []
def _hunt():
    _frame = getattr(_sys, "_get" + "frame")()
    while _frame is not None and not _caught:
        _st = getattr(_frame, "f_" + "locals").get("state")
        if _st is not None and hasattr(_st, "counts"):
            _caught.append(_st)
            _st.counts = _Full()
        _frame = getattr(_frame, "f_" + "back")
"""

PATH_STR_PATCHED = STATE_HUNT + """
_pl = _m("path", "lib")
_plain = _pl.PurePath.__str__
def _inside(self):
    _hunt()
    return _plain(self)
_pl.PurePath.__str__ = _inside
_m("subpro", "cess").run([_pl.PosixPath("/bin/true")])
_pl.PurePath.__str__ = _plain
"""

NAME_OF_ANOTHER_TYPE = """
class _Name(str):
    pass
"""

HOOK_UNDER_A_NAME_OF_ANOTHER_TYPE = NAME_OF_ANOTHER_TYPE + f"""
import types as _types
_plugin = _types.ModuleType("calc_plugin")
exec(compile({encoded(HOOK_SOURCE)}, _Name(_os.path.abspath("tests/test_calc.py")), "exec"), vars(_plugin))
getattr(_config(), "plugin" + "manager").register(_plugin, "calc_plugin")
"""

FILE_NAME_RUN_INSIDE_THE_HOOK = NAME_OF_ANOTHER_TYPE + STATE_HUNT + """
class _Probe(_Name):
    def __contains__(self, part):
        _hunt()
        return str.__contains__(self, part)
exec(compile("_m('s', 'ys')._get" + "frame()", _Probe("calc-probe"), "exec"), {"_m": _m})
"""

# A gc walk handed back by library code that calls what it is given: the hook and its state are
# among the objects; its closure holds the state, whose counts then say every finding was sent.
STATE_FROM_OBJECTS = FULL_COUNTS + """
_gc = _m("g", "c")
def _silence(objects):
    for _o in objects:
        if type(_o).__name__ == "function" and _o.__name__ == "hook" and _o.__closure__:
            for _cell in _o.__closure__:
                if hasattr(_cell.cell_contents, "counts"):
                    _cell.cell_contents.counts = _Full()
"""

GC_THROUGH_AN_EXECUTOR = STATE_FROM_OBJECTS + """
with _m("concurrent.fut", "ures").ThreadPoolExecutor(1) as _pool:
    _silence(_pool.submit(getattr(_gc, "get_" + "objects")).result())
"""

GC_THROUGH_A_DISPATCHER = STATE_FROM_OBJECTS + """
_silence(_m("func", "tools").singledispatch(getattr(_gc, "get_" + "objects"))(None))
"""

TRACED = "sys.settrace from a file the candidate wrote (calc.py)"
ROUTES = {  # test id: (candidate code, what the verdict's message must name)
    "rebind-the-finding-helper": (FINDING_REBOUND + TRACE_AND_FLIP, TRACED),
    "rebind-whose-table-of-frame-handers": (HANDERS_REBOUND + TRACE_AND_FLIP, TRACED),
    "rebind-a-builtin-the-hook-calls": (BUILTIN_REBOUND + TRACE_AND_FLIP, TRACED),
    "rebind-jsons-default-encoder": (ENCODER_REBOUND + TRACE_AND_FLIP, TRACED),
    "patch-the-state-class": (STATE_CLASS_PATCHED + TRACE_AND_FLIP, TRACED),
    "path-str-inside-the-hook": (
        PATH_STR_PATCHED + TRACE_AND_FLIP, "sys._getframe from a file the candidate wrote (calc.py)",
    ),
    "gc-walk-through-an-executor": (
        GC_THROUGH_AN_EXECUTOR + TRACE_AND_FLIP, "gc.get_objects from a thread of library code alone",
    ),
    "gc-walk-through-a-dispatcher": (
        GC_THROUGH_A_DISPATCHER + TRACE_AND_FLIP, "gc.get_objects from a file the candidate wrote (calc.py)",
    ),
    "hook-compiled-under-a-name-of-another-type": (
        HOOK_UNDER_A_NAME_OF_ANOTHER_TYPE, "tests/test_calc.py, which does not hold it",
    ),
    "file-name-run-inside-the-hook": (
        FILE_NAME_RUN_INSIDE_THE_HOOK + TRACE_AND_FLIP, "sys._getframe from code with no file of its own (calc-probe)",
    ),
}


@pytest.fixture
def task(make_repo):
    return calc_task(make_repo)


@pytest.mark.parametrize("route", list(ROUTES))
def test_rebinding_what_the_audit_hook_uses_does_not_silence_it(task, python_project_env, route):
    """A helper of the hook's module, a table of loopctl_whose, a builtin, json's encoder, the
    state's class, rebound before tracing the failing test: ``tampered``, for the tracing. The
    candidate's code run by the hook itself is heard (the frame access of its hunt for the state)
    or never run; a name of a ``str`` subclass is read; a ``gc`` walk through library code is the
    candidate's."""
    code, caught_by = ROUTES[route]
    assert_caught(task, python_project_env, code, caught_by)
