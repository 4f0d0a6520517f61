"""Whose code is acting, for the audit hook (loopctl_audit): the candidate's, or not.

The candidate's code is a function holding a line its diff added (a function of an edited file
that it left alone is the base tree's), a file written during the run, code with no file of its
own, or a file outside the workspace and the libraries. Library helpers that hand frames or
memory back to their caller (inspect, ctypes, pytest's traceback objects) are looked through.

``on_its_own`` tells a dependency acting for itself (func_timeout's watchdog looking up
``PyThreadState_SetAsyncExc``, coverage compiling a file it measures) from the candidate reaching
for the same thing through it: the candidate's code anywhere on the acting thread's stack makes
the act the candidate's.

Standard library only (the audit hook runs it); every name it uses is bound on the hook's state.
"""

from loopctl_lines import span

# Library code that hands a frame, a traceback's frames or raw memory back to its caller:
# the caller is the one who asked.
_HANDERS = (
    ("/inspect.py", None), ("/traceback.py", ("walk_stack", "walk_tb")),
    ("/logging/__init__.py", ("currentframe", "<lambda>")), ("/ctypes/", None), ("/bdb.py", None),
    ("/pdb.py", None), ("/_pytest/", None), ("/pluggy/", None), ("/threading.py", ("settrace", "setprofile")),
)


def plain(text):
    """``text`` (a code object's file or function name, a str) as a str of the interpreter's own type.

    Code can carry a str subclass there (``compile`` and ``code.replace`` keep one): its methods
    (``__contains__``, ``__hash__``, ``startswith``) would run the tests' code inside the hook, out
    of its sight and with the hook's state in the frames above. ``str.__str__`` copies without
    calling any of them."""
    return str.__str__(text)


def hander(code):
    """True for a library helper that hands frames or memory back to its caller."""
    name, function = plain(code.co_filename), plain(code.co_name)
    for part, functions in _HANDERS:
        if part in name and (functions is None or function in functions):
            return True
    return False


def asker(frame):
    """The first frame above library helpers that hand frames or memory back to their caller."""
    while frame is not None and hander(frame.f_code):
        frame = frame.f_back
    return frame


def untouched(state, code):
    """True when ``code`` is a function of a suspect file that holds no line the candidate added."""
    added = state.written.get(plain(code.co_filename))
    if added is None:
        return False
    first, last = span(code)
    return not any(first <= number <= last for number in added)


def candidate(state, filename):
    """Why code from ``filename`` is the candidate's ("" when it is not)."""
    filename = plain(filename)
    known = state.origin.get(filename)
    if known is not None:
        return known
    why = ""
    if filename.startswith("<frozen "):
        why = ""
    elif filename.startswith("<") or not filename.startswith("/"):
        why = "code with no file of its own (" + filename + ")"
    elif filename in state.suspects:
        why = "a file the candidate wrote (" + shown(state, filename) + ")"
    elif filename.startswith(state.workspace):
        try:  # not cached: a file of the base tree may be rewritten later in the run
            info = state.stat(filename)
            if max(info.st_ctime, info.st_mtime) >= state.since:
                why = "a file written during the run (" + shown(state, filename) + ")"
        except OSError:
            why = "a file that no longer exists (" + shown(state, filename) + ")"
    elif not filename.startswith(state.libraries):
        why = "a file outside the workspace and the environment (" + filename + ")"
    if not filename.startswith(state.workspace) and len(state.origin) < 10000:
        state.origin[filename] = why
    return why


def shown(state, filename):
    """``filename`` relative to the workspace when it is inside it."""
    filename = plain(filename)
    return filename[len(state.workspace):] if filename.startswith(state.workspace) else filename


def library(state, filename):
    """True for the standard library's, the environment's and our own code, and the import system's."""
    filename = plain(filename)
    return filename.startswith("<frozen ") or filename.startswith(state.libraries)


def on_its_own(state, frame):
    """True when a library acted for itself: ``frame`` (the code that acted) is a library's, no
    frame under it is the candidate's, and one is the tests' or the project's unchanged code.

    A thread the candidate started is never on its own (seen from Python 3.12, which audits thread
    starts). Before, a thread of library code alone (a watchdog a dependency started) cannot show
    who started it: it acts on its own only while no live thread runs the candidate's code, so a
    candidate that starts such a thread and waits for it is still seen."""
    if frame is None or not library(state, frame.f_code.co_filename):
        return False
    if _candidates(state, frame) or _started_by_candidate(state, frame):
        return False
    while frame is not None:
        if not library(state, frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return not any(_candidates(state, top) for top in list(state.current_frames().values()))


def _candidates(state, frame):
    """True when a frame from ``frame`` down is the candidate's code."""
    while frame is not None:
        code = frame.f_code
        if not library(state, code.co_filename) and candidate(state, code.co_filename) and not untouched(state, code):
            return True
        frame = frame.f_back
    return False


THREAD_STARTS = frozenset(("_thread.start_new_thread", "_thread.start_joinable_thread"))
"""Audited from Python 3.12: the first argument is the function the new thread runs."""
CANDIDATE_THREADS = 10000
"""Threads the candidate started remembered at most; past that, every thread counts as its."""


def thread_started(state, function, frame):
    """Remember a thread started from the candidate's code (or from a thread it started): a
    ``threading.Thread`` by its object, one of ``_thread`` by the code it runs (then that code
    counts as the candidate's in any thread it starts, the tests' own too)."""
    if not (_candidates(state, frame) or _started_by_candidate(state, frame)):
        return
    if len(state.candidate_threads) >= CANDIDATE_THREADS:
        state.candidate_threads[None] = None  # too many to tell apart: any thread is the candidate's
        return
    # never an attribute of an object of unknown type: its property would run inside the hook
    owner = function.__self__ if type(function) is state.method_type else (
        function.__code__ if type(function) is state.function_type else None)
    state.candidate_threads[id(owner)] = owner


def _started_by_candidate(state, frame):
    """True when ``frame``'s thread is one the candidate started."""
    if None in state.candidate_threads:
        return True
    while frame.f_back is not None:
        frame = frame.f_back
    if state.candidate_threads.get(id(frame.f_code)) is frame.f_code:
        return True
    if plain(frame.f_code.co_name) != "_bootstrap" or not plain(frame.f_code.co_filename).endswith("threading.py"):
        return False
    owner = frame.f_locals.get("self")
    return owner is not None and state.candidate_threads.get(id(owner)) is owner
