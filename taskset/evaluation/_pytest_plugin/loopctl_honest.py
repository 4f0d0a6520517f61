"""Two ways honest suites make a test's function differ from what its module compiles to, each
accepted only when checked against the module's own text (used by loopctl_integrity).

* A proxy placed on its test's own line: hypothesis's ``@given`` runs a test through a generated
  function whose code claims the test's file and first line (``impersonate``). It is accepted
  when a function it says it wraps (hypothesis's ``inner_test``, or ``__wrapped__``) claims the
  same place and is exactly the module's code there. Building a code object under a file's name
  is the audit hook's to attribute (loopctl_audit): from the candidate, at any depth of the
  stack, it is evidence on its own.
* A test compiled from text the module holds: ``exec(compile(SOURCE, "<generated>", "exec"),
  globals())`` at import. Its code has no file; it is accepted when one of the module's own
  string constants compiles, under that name, to exactly that code.

Standard library only, like the plugin.
"""

DEPTH = 8
"""Wrappers followed at most from a test's function to the one it wraps."""


def wrapped(function):
    """The functions ``function`` says it wraps, outermost first (at most DEPTH)."""
    found = []
    current = getattr(function, "__func__", function)
    for _ in range(DEPTH):
        try:
            inner = getattr(getattr(current, "hypothesis", None), "inner_test", None)
            if inner is None:
                inner = getattr(current, "__wrapped__", None)
        except Exception:  # an attribute that raises says nothing about what it wraps
            return found
        inner = getattr(inner, "__func__", inner)
        if inner is None or inner is current or any(inner is seen for seen in found):
            return found
        found.append(inner)
        current = inner
    return found


def proxy_of_its_test(function, code, reference, same):
    """True when ``function`` (whose ``code`` is not ``reference``) wraps a function whose code
    claims the same file and line and is ``reference``, by ``same``."""
    for inner in wrapped(function):
        inner_code = getattr(inner, "__code__", None)
        if (inner_code is not None and inner_code is not code
                and (inner_code.co_filename, inner_code.co_firstlineno) == (code.co_filename, code.co_firstlineno)
                and same(inner_code, reference)):
            return True
    return False


_compiled: dict = {}


def compiled_from_module_text(code, module_codes, same):
    """True when one of the string constants among ``module_codes`` (every code object of the
    test module) compiles under ``code``'s file name to a code object that is ``code``, by ``same``."""
    key = (id(module_codes), code.co_filename)
    if key not in _compiled:
        found = {}
        for text in _texts(module_codes):
            try:
                top = compile(text, code.co_filename, "exec", dont_inherit=True)
            except Exception:  # most strings are not Python
                continue
            stack = [top]
            while stack:
                each = stack.pop()
                found.setdefault((each.co_name, each.co_firstlineno), each)
                stack.extend(c for c in each.co_consts if hasattr(c, "co_code"))
        _compiled[key] = (module_codes, found)  # the codes are kept: their id stays theirs
    candidate = _compiled[key][1].get((code.co_name, code.co_firstlineno))
    return candidate is not None and same(code, candidate)


def _texts(module_codes):
    seen = set()
    for each in module_codes.values():
        for const in each.co_consts:
            if type(const) is str and "def " in const and const not in seen:
                seen.add(const)
                yield const
