"""Private copies of the audit hook's code, out of reach of the code it watches.

The audit hook's modules stay in ``sys.modules``, where the code under test can rebind what they
hold: a helper such as ``loopctl_audit._finding``, a table of loopctl_whose, a builtin the
helpers call. Each of those silenced every finding after it, and a buggy tree came out resolved
(tests/test_audit_reach.py). So the hook runs copies of the same code over namespaces of its own.
Standard library only; run once, when the hook is installed.
"""

import sys


def private(names):
    """{module name: namespace} for copies of the functions of the modules ``names``, made now.

    The copies run the same code over namespaces of their own, reachable only through the hook's closure (``gc`` walks,
    frames or ctypes, which the hook reports first): each namespace is a copy of its module's
    globals, with its own copy of the builtins, its mutable tables copied, and every function
    of these modules in it replaced by its copy. They also outlive the interpreter's wiping of
    module globals at exit."""
    function_type = type(private)
    builtins = dict(vars(sys.modules["builtins"]))
    spaces = {}
    for name in names:
        space = dict(vars(sys.modules[name]))
        space["__builtins__"] = builtins
        for attr, value in list(space.items()):
            if type(value) in (dict, list, set):
                space[attr] = type(value)(value)
        spaces[name] = space
    copies = {}
    for space in spaces.values():
        for value in space.values():
            if type(value) is function_type and value.__module__ in spaces and id(value) not in copies:
                copy = function_type(value.__code__, spaces[value.__module__], value.__name__, value.__defaults__,
                                     value.__closure__)
                copy.__kwdefaults__ = value.__kwdefaults__
                copies[id(value)] = (value, copy)
    for space in spaces.values():
        for attr, value in list(space.items()):
            if id(value) in copies and copies[id(value)][0] is value:
                space[attr] = copies[id(value)][1]
    return spaces
