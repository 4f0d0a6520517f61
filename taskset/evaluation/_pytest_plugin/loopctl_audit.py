"""An audit hook (PEP 578) that sees what the code under test does to the test machinery.

Installed by ``loopctl_boot`` after pytest is imported and before any workspace path is
importable; an audit hook cannot be removed, and it runs before the operation it is told about.
It is also the channel's only writer: every record (the plugin's outcomes and its own findings)
leaves through it with a sequence number and an HMAC whose key lives only in the hook's closure.
The key reaches the boot script on a pipe of its own, is turned into two hash states at once
(the bytes are never kept), and nothing reachable from Python after boot refers to the hook:
getting at it takes ``gc`` walks, frames or ctypes, which the hook reports first. The hook runs
private copies of this module's code and its helpers' (``loopctl_private``): rebinding them here
changes nothing it does.

What it reports (``k: "audit"`` records), each attributed to the code that asked for it:

* tracing and profiling (``sys.settrace``, ``sys.setprofile``, the functions given to
  ``threading.settrace``/``setprofile``, ``sys.monitoring`` callbacks), ``gc`` referrer/object walks,
  frame access (``sys._getframe``, ``tb_frame``, ``gi_frame``, ``sys._current_frames``) and
  ctypes memory access, when the code that asked is the candidate's: a file it wrote, a file
  created during the run, or code with no file of its own. Library code that uses frames for
  itself (logging, typing, coverage) is not; library helpers that hand frames or memory back
  to their caller (inspect, traceback's walkers, ctypes, pytest's own traceback objects, bdb)
  are looked through to their caller.
* the same way: a function's ``__code__`` replaced, a function built from a code object, a code
  object built under the name of an existing file (the standard library's ``types.coroutine``
  does some of this, for itself).
* intrinsically hostile acts, from anyone: the interpreter's own C API looked up through
  ctypes, a second audit hook (refused as well).
* code compiled under the name of an existing file that does not hold that text.

Not evidence: each program the tests start (``k: "program"``), once, by the name or path they gave.

The process's last record is ``end`` (written when the interpreter clears its state): a run
that stops short of it, or whose records skip a number, lost evidence on the way.

Standard library only; Python 3.8 on (older interpreters have no audit hooks: ``install``
returns False and the channel falls back to the plugin's own writes).
"""

import sys

from loopctl_filetext import holds
from loopctl_hookstate import dumps
from loopctl_private import private
from loopctl_programs import PROGRAM_EVENTS, PROGRAMS, program_name
from loopctl_whose import THREAD_STARTS
from loopctl_whose import asker as _asker
from loopctl_whose import candidate as _candidate
from loopctl_whose import library as _library
from loopctl_whose import on_its_own as _on_its_own
from loopctl_whose import plain as _plain
from loopctl_whose import shown as _shown
from loopctl_whose import thread_started as _thread_started
from loopctl_whose import untouched as _untouched

FRAME_ATTRIBUTES = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"))
WATCHED = frozenset((
    "sys.settrace", "sys.setprofile", "sys._getframe", "sys._current_frames", "sys._current_exceptions",
    "gc.get_referrers", "gc.get_referents", "gc.get_objects",
    "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.addressof",
    "ctypes.string_at", "ctypes.wstring_at", "ctypes.call_function", "ctypes.PyObj_FromPtr",
    "object.__getattr__", "object.__setattr__", "compile", "code.__new__", "function.__new__", "sys.addaudithook",
    "cpython.PyInterpreterState_Clear", "loopctl.record", "sys.monitoring.register_callback",
)) | PROGRAM_EVENTS | THREAD_STARTS
PER_KIND = 5
"""Findings of one kind sent at most: evidence, not a flood."""
OURS = ("loopctl_audit", "loopctl_whose", "loopctl_lines", "loopctl_filetext", "loopctl_programs", "loopctl_hookstate")
"""The modules whose code the hook runs: it runs private copies of them (``loopctl_private``)."""


def install(fd, key, workspace, suspects, libraries, sender=None, sender_codes=(), rewriter_codes=(), written=None):
    """Add the hook; True when this interpreter has audit hooks. ``key`` is consumed (bytes).

    ``workspace``: the run's root; ``suspects``: absolute paths the candidate wrote;
    ``libraries``: folders whose code is not the candidate's (stdlib, environment, ours);
    ``sender``: the one code object that may emit ``loopctl.record``, when called from one of
    ``sender_codes`` (the plugin's own functions; a wrapper around the sender is not one);
    ``rewriter_codes``: code objects allowed to compile a syntax tree under a file's name
    (pytest's assertion rewriter); ``written``: per suspect, the line numbers the candidate
    added, where known: a function of such a file with none of them is the base tree's code.
    """
    if not hasattr(sys, "addaudithook"):
        return False
    spaces = private(OURS)
    ours = spaces["loopctl_audit"]
    make = spaces["loopctl_hookstate"]["new_state"]
    state = make(fd, key, workspace, suspects, libraries, sender, sender_codes, rewriter_codes)
    state.written = {path: frozenset(lines) for path, lines in (written or {}).items()}
    del key
    sys.addaudithook(ours["_make_hook"](state))
    # the first record: the interpreter started and every later record is sealed and numbered
    ours["_emit"](state, ours["dumps"](state, {"k": "boot", "audit": True}))
    return True


def _make_hook(state):
    # Everything the hook touches is bound here: at interpreter shutdown (the ``end`` record)
    # module globals are already gone.
    # (a module's globals are wiped to None when the interpreter finalizes its modules: with
    # hypothesis loaded, this one's were, and an unbound name here lost the ``end`` record)
    watched, frame_attributes, handle, emit = WATCHED, FRAME_ATTRIBUTES, _handle, _emit
    no_python_caller = _no_python_caller
    shutdown = "cpython.PyInterpreterState_Clear"

    def hook(event, args):
        if event not in watched:
            return
        if event == "object.__getattr__" and (len(args) < 2 or args[1] not in frame_attributes):
            return
        if event == "object.__setattr__" and (len(args) < 2 or args[1] != "__code__"):
            return
        me = state.ident()
        if me in state.busy:
            return  # our own work (reading a file, a frame) is not evidence
        state.busy.add(me)
        try:
            if event == shutdown:
                if not state.ended and no_python_caller(state):
                    state.ended = True
                    emit(state, state.end[0], state.end[1])
                return
            handle(state, event, args)
        finally:
            state.busy.discard(me)

    return hook


def _no_python_caller(state):
    """True when the event came from the interpreter itself (at shutdown), not from sys.audit."""
    try:
        state.getframe(2)  # 0: here, 1: the hook, 2: Python code that raised the event
    except state.value_error:
        return True
    return False


def _handle(state, event, args):
    if event == "loopctl.record":
        caller = state.getframe(2)
        asker = caller.f_back
        if (id(caller.f_code) == state.sender and asker is not None and id(asker.f_code) in state.senders
                and len(args) == 1 and type(args[0]) is str):
            _emit(state, args[0])
        else:
            _finding(state, "a loopctl record sent by code that is not loopctl's plugin", asker or caller)
        return
    if event in PROGRAM_EVENTS:
        _program(state, event, args)
        return
    caller = state.getframe(2)  # 0: _handle, 1: hook, 2: whoever raised the event
    if event in THREAD_STARTS:
        _thread_started(state, args[0] if args else None, caller)
        return
    if event == "sys.addaudithook":
        _finding(state, "another audit hook was added", caller)
        raise RuntimeError("loopctl: no other audit hook may be added")
    if event == "object.__setattr__":
        _attributed(state, "a function's __code__ replaced", caller)
    elif event == "code.__new__":
        name = _text(args[1]) if len(args) > 1 else None
        if name is not None and _existing(state, name) and not _unmarshalled(state, name, caller):
            _attributed_on_stack(state, "a code object built under the name of " + name, caller)
    elif event == "function.__new__":  # a function made from a code object (ours, say, to send as us)
        _attributed(state, "a function built from a code object", caller)
    elif event == "compile":
        _compile(state, args, caller)
    elif event in ("ctypes.dlsym", "ctypes.dlsym/handle"):
        name = args[1] if len(args) > 1 else None
        if type(name) is str and name.startswith(("Py", "_Py")):
            if not _on_its_own(state, _asker(caller)):  # func_timeout's watchdog looks one up for itself
                _finding(state, "the interpreter's C API was looked up through ctypes (" + name + ")", _asker(caller))
        else:
            _attributed(state, "ctypes", caller)
    elif event.startswith("ctypes."):
        _attributed(state, "ctypes memory access", caller)
    elif event in ("sys.settrace", "sys.setprofile") and _plain(caller.f_code.co_name) == "_bootstrap_inner":
        _thread_hook(state, event, caller)
    elif event.startswith("gc."):
        _walked(state, event, caller)
    elif event.startswith("sys.monitoring") or event in ("sys.settrace", "sys.setprofile"):
        _attributed(state, event, caller)
    else:  # frames
        shown = event if event != "object.__getattr__" else "frame access (" + (_text(args[1]) or "?") + ")"
        _attributed(state, shown, caller)


def _program(state, event, args):
    """Report, once, a program the tests start (by the name or path they give): what a task's tests
    need besides the environment. Not evidence of anything; the parent keeps those outside it."""
    name = program_name(event, args)
    if type(name) in state.path_types:
        name = _watched_call(state, state.text, name)
    if type(name) is not str or not name or name in state.programs or len(state.programs) >= PROGRAMS:
        return
    state.programs.add(name)
    _emit(state, dumps(state, {"k": "program", "name": name}))


def _watched_call(state, function, value):
    """``function(value)`` with the hook open again, for Python code that is not ours (pathlib's
    ``__str__``, which the tests can patch): run while the hook is busy, it was audited by nobody
    and found the hook's state in the frames above it."""
    me = state.ident()
    state.busy.discard(me)
    try:
        return function(value)
    finally:
        state.busy.add(me)


def _thread_hook(state, event, caller):
    """A new thread installing the function ``threading.settrace``/``setprofile`` was given: whose is it?"""
    threading = state.modules.get("threading")
    name = "_trace_hook" if event == "sys.settrace" else "_profile_hook"
    function = vars(threading).get(name) if type(threading) is state.module_type else None
    if type(function) is state.function_type:  # never call into an object of unknown type here
        why = _candidate(state, function.__code__.co_filename)
        if why:
            _finding(state, "threading." + event[4:] + " with a function from " + why, caller)


def _compile(state, args, caller):
    name = _text(args[1]) if len(args) > 1 else None
    if name is None:
        return
    path = _existing(state, name)
    if not path:
        return
    source = args[0]
    if type(source) is str:
        source = source.encode("utf-8", "surrogatepass")
    if type(source) is not bytes:
        # a syntax tree: only pytest's assertion rewriter compiles one under a test file's name
        if id(caller.f_code) not in state.rewriters:
            _finding(state, "a syntax tree was compiled under the name of " + name, caller)
        return
    try:
        with open(path, "rb") as handle:
            held = handle.read()
    except OSError:
        return
    if holds(held, source) or _on_its_own(state, caller):
        return
    _finding(state, "code was compiled under the name of " + name + ", which does not hold it", caller)


def _text(value):
    """``value`` as a plain str when it is a str of any type (a subclass's methods never run), else None."""
    return _plain(value) if issubclass(type(value), str) else None


def _existing(state, name):
    """The absolute path ``name`` names when it is an existing regular file, else ""."""
    if name.startswith("<"):
        return ""
    path = name if name.startswith("/") else state.workspace + name
    try:
        info = state.stat(path)
    except (OSError, ValueError):
        return ""
    return path if (info.st_mode & 0o170000) == 0o100000 else ""


def _attributed(state, what, frame):
    """Report ``what`` when the code that asked for it is the candidate's."""
    frame = _asker(frame)
    if frame is None:
        return
    why = _candidate(state, frame.f_code.co_filename)
    if why and not _untouched(state, frame.f_code):
        _finding(state, what + " from " + why, frame)


def _attributed_on_stack(state, what, frame):
    """Report ``what`` when the first code below the libraries on the stack is the candidate's: a
    library helper that relocates code onto a file (hypothesis's ``impersonate``) does it for
    whoever called it. The import system's frozen frames are passed over like a library's; the
    project's unchanged code and the tests stop the walk, innocent (so the project's own
    ``types.coroutine`` is not the candidate's because a candidate's module imported it).
    False when the stack holds library code alone."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _library(state, filename):
            why = _candidate(state, filename)
            if why and not _untouched(state, frame.f_code):
                _finding(state, what + " from " + why, frame)
            return True
        frame = frame.f_back
    return False


def _walked(state, what, frame):
    """Report a ``gc`` walk, which hands every object back (the hook itself and its state among
    them), as the candidate's through any library code that calls what it is given and returns the
    result: ``functools.singledispatch``'s wrapper, an executor's worker thread. Judged by the first
    code below the libraries on the stack; on a thread of library code alone, by ``on_its_own``
    (the candidate started it, or waits on it)."""
    if not _attributed_on_stack(state, what, frame) and not _on_its_own(state, frame):
        _finding(state, what + " from a thread of library code alone, while the candidate's code waits", frame)


def _unmarshalled(state, name, caller):
    """Python 3.8 raises ``code.__new__`` for each code object the import system reads from a .pyc:
    an environment or standard-library module's own bytecode as it is imported (sh's ``import
    getpass`` was judged the candidate's), not code someone built. Never for a workspace file."""
    code = caller.f_code
    return (_plain(code.co_name) == "_compile_bytecode" and _plain(code.co_filename).startswith("<frozen importlib")
            and not name.startswith(state.workspace))


def _finding(state, what, frame):
    count = state.counts.get(what, 0)
    if count >= PER_KIND:
        return
    state.counts[what] = count + 1
    where = ""
    if frame is not None:
        where = f"{_shown(state, frame.f_code.co_filename)}:{frame.f_lineno}"
    _emit(state, dumps(state, {"k": "audit", "what": what, "where": where}))


def _emit(state, payload, quoted=None):
    """One record: the payload, this process, its sequence number, and their HMAC.

    Runs at interpreter shutdown too (the ``end`` record): no global or builtin name may be used."""
    try:
        info = state.fstat(state.fd)
    except state.os_error:
        return
    if (info.st_dev, info.st_ino) != state.identity:
        return  # the descriptor now leads elsewhere: write nothing there (the end never arrives)
    pid = state.getpid()
    seq = state.seq
    state.seq += 1
    message = f"{pid}:{seq}:{payload}".encode("utf-8", "replace")
    inner = state.inner.copy()
    inner.update(message)
    outer = state.outer.copy()
    outer.update(inner.digest())
    if quoted is None:
        quoted = dumps(state, payload)
    # f-strings, not str(): at shutdown the module's builtins are gone too
    line = f'{{"p": {pid}, "q": {seq}, "r": {quoted}, "m": "{outer.hexdigest()}"}}\n'
    data = line.encode("utf-8", "replace")
    while data:
        try:
            written = state.write(state.fd, data)
        except state.interrupted:
            continue
        except state.os_error:
            return
        data = data[written:]
