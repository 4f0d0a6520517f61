"""The audit hook's state and how it writes JSON (loopctl_audit); standard library only.

The state is made once, when the hook is installed, and kept only in the hook's closure. It is a
``SimpleNamespace`` (a type of the interpreter's own: a class of ours could have its
``__getattribute__`` patched by the code under test), and every function it needs later is bound
on it now.
"""

import hashlib
import json
import os
import pathlib
import sys
import time
import types

CREATED_SLACK = 0.05
"""Seconds: a workspace file whose inode changed after (install time - this) was written during the run."""


def new_state(fd, key, workspace, suspects, libraries, sender, sender_codes, rewriter_codes):
    """Everything the hook needs, captured once; never reachable from a module attribute."""
    state = types.SimpleNamespace()
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    state.inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    state.outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    state.fd = fd
    info = os.fstat(fd)
    state.identity = (info.st_dev, info.st_ino)
    state.seq = 0
    state.workspace = workspace.rstrip("/") + "/"
    state.suspects = frozenset(suspects)
    state.libraries = tuple(p.rstrip("/") + "/" for p in libraries if p)
    state.sender = id(sender)
    state.senders = frozenset(id(c) for c in sender_codes)
    state.sender_codes = (sender,) + tuple(sender_codes)  # keeps the ids above meaningful
    state.rewriters = frozenset(id(c) for c in rewriter_codes)
    state.rewriter_codes = tuple(rewriter_codes)
    state.since = time.time() - CREATED_SLACK
    state.busy = set()
    state.counts = {}
    state.origin = {}
    state.programs = set()
    state.written = {}
    state.path_types = (pathlib.PosixPath, pathlib.PurePosixPath)  # bound now: the module's names can change
    state.ended = False
    state.candidate_threads = {}  # id -> the Thread the candidate started (kept: its id stays its own)
    state.method_type = types.MethodType
    # bound now: at interpreter shutdown module globals may already be gone
    state.write, state.fstat, state.getpid, state.stat = os.write, os.fstat, os.getpid, os.stat
    state.quote, state.getframe, state.current_frames = _quoter(), sys._getframe, sys._current_frames
    state.ident, state.text = _thread_ident(), str
    state.value_error, state.os_error, state.interrupted = ValueError, OSError, InterruptedError
    state.modules, state.module_type, state.function_type = sys.modules, type(sys), type(_thread_ident)
    end = json.dumps({"k": "end"})
    state.end = (end, json.dumps(end))  # at shutdown json's globals may be gone: encoded now
    return state


def _quoter():
    """How the hook quotes a string for JSON: ``_json``'s C function (json's module-level encoder
    is the tests' to rebind)."""
    try:
        from _json import encode_basestring_ascii

        return encode_basestring_ascii
    except ImportError:  # pragma: no cover - every CPython has it
        return json.encoder.py_encode_basestring_ascii


def dumps(state, value):
    """JSON for the hook's records: a string, or a flat dict of strings, booleans and numbers."""
    if type(value) is str:
        return state.quote(value)
    parts = []
    for key, item in value.items():
        if type(item) is bool:
            text = "true" if item else "false"
        elif type(item) is int:
            text = f"{item}"
        else:
            text = state.quote(item)
        parts.append(state.quote(key) + ": " + text)
    return "{" + ", ".join(parts) + "}"


def _thread_ident():
    try:
        import _thread

        return _thread.get_ident
    except ImportError:  # pragma: no cover - every CPython has it
        return lambda: 0
