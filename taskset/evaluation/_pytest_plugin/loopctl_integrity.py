"""What the code under test may have changed inside the pytest process, as evidence for the parent.

Imported by loopctl_pytest_plugin before any workspace path is importable. Three records:

* ``replaced()``: watched pieces of pytest's machinery (where outcomes are decided, recorded and
  reported, and where assertions are rewritten) that are no longer the objects pytest started
  with, each with the file the replacement's code claims to come from and whether that claim
  holds (a function compiled under a borrowed file name usually does not define itself there).
* ``hooks()``: every hook implementation registered at session end, with its file.
* ``loaders(files)``: the modules that decide outcomes (tests, conftests, pytest) that an import
  hook added since start-up loaded.
* ``test_problem(item)``: whether the function a test item is about to call is the one its
  module's source defines -- not a function from elsewhere put in its place, not a code object
  swapped in after import.

Standard library and pytest only (any pytest from 4.6), like the plugin.
"""

import linecache
import sys
import types

from loopctl_honest import compiled_from_module_text, proxy_of_its_test, wrapped

from loopctl_watched import WATCHED, WATCHED_PACKAGES


def _watched_modules():
    for name, module in sorted(sys.modules.items()):
        if module is not None and (name in WATCHED_PACKAGES or name.split(".")[0] in WATCHED_PACKAGES):
            yield name, module


def _watchable(value):
    return callable(value) or isinstance(value, (classmethod, staticmethod, property))


def _holder(module_name, dotted):
    """(namespace, name, object) where ``dotted`` is bound now, or None."""
    owner = sys.modules.get(module_name)
    if owner is None:
        try:
            owner = __import__(module_name, fromlist=["_"])
        except Exception:  # not in this pytest or pluggy version
            return None
    parts = dotted.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
    if owner is None:
        return None
    klasses = owner.__mro__ if isinstance(owner, type) else (owner,)
    for klass in klasses:
        space = getattr(klass, "__dict__", None)
        if space is not None and parts[-1] in space:
            return (space, parts[-1], space[parts[-1]])
    return None


def snapshot():
    """The watched pieces as they are now (taken when the plugin is imported, before any workspace
    code), read-only: ({module:name or module:Class.attr: (namespace, name, object)}, ((class, its
    own names), ...)). Namespaces are live, so a check is one lookup per piece."""
    found = {}
    for module, dotted in WATCHED:
        entry = _holder(module, dotted)
        if entry is not None:
            found[module + ":" + dotted] = entry
    classes = []
    for name, module in _watched_modules():
        space = vars(module)
        for attr, value in list(space.items()):
            if not _watchable(value):
                continue
            found[name + ":" + attr] = (space, attr, value)
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                inner_space = vars(value)
                classes.append((name + ":" + attr, inner_space, frozenset(inner_space)))
                for inner, member in list(inner_space.items()):
                    if _watchable(member) and not inner.startswith("__"):
                        found[name + ":" + attr + "." + inner] = (inner_space, inner, member)
    return (types.MappingProxyType(found), tuple(classes))


def _loader_of(module):
    spec = getattr(module, "__spec__", None)
    return getattr(spec, "loader", None) if spec is not None else getattr(module, "__loader__", None)


def _kind(loader):
    return loader if isinstance(loader, type) else type(loader)  # BuiltinImporter is its own loader


_START_LOADERS = frozenset(
    [_kind(_loader_of(m)) for m in list(sys.modules.values()) if _loader_of(m) is not None]
    + [_kind(entry) for entry in sys.meta_path]
)
"""The loaders the import system had when pytest started (the stdlib's, the assertion rewriter's)."""


def loaders(files):
    """[{name, file, forged}] for each module that decides outcomes -- a test module in ``files``, a
    conftest, pytest's, pluggy's, ours -- loaded by a loader the import system did not have at
    start-up (``forged`` when it is one of those, its methods replaced on the loader itself).

    Judged by what it loaded, not by being there: a project's own import hook (sh.py's finder for
    ``from sh import ls``) that loads only the project's modules is the project's business."""
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not (path in files or path.endswith("conftest.py") or name.split(".")[0] in WATCHED_PACKAGES):
            continue
        loader = _loader_of(module)
        if loader is None:
            continue
        own = list(getattr(loader, "__dict__", {}).items())
        shadowed = not isinstance(loader, type) and any(callable(v) and hasattr(type(loader), a) for a, v in own)
        if shadowed or _kind(loader) not in _START_LOADERS:
            found.append({"name": "loader of " + name, "file": _class_file(loader), "forged": shadowed})
    return found


def _class_file(obj):
    klass = obj if isinstance(obj, type) else type(obj)
    for attribute in ("find_spec", "find_module", "__call__", "__init__"):
        function = vars(klass).get(attribute) if attribute in vars(klass) else None
        code = _code(function) if function is not None else None
        if code is not None:
            return code.co_filename
    return code_file(obj)


def _code(obj):
    for candidate in (obj, getattr(obj, "fget", None), getattr(obj, "__func__", None),
                      getattr(obj, "__wrapped__", None)):
        code = getattr(candidate, "__code__", None)
        if code is not None:
            return code
    return None


def code_file(obj):
    """The source file an object's code came from ("" when it has none: a C function, exec'd text).

    A class is named by the file of its own functions (its ``__module__`` is only a claim)."""
    if isinstance(obj, type):
        for member in list(vars(obj).values()):
            code = _code(member)
            if code is not None:
                return code.co_filename
    code = _code(obj)
    if code is not None:
        return code.co_filename
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    return getattr(module, "__file__", "") or ""


def _claim_holds(code):
    """Does the file the code names define a function of that name at the line it names?"""
    line = linecache.getline(code.co_filename, code.co_firstlineno).strip()
    if not line:
        return False
    if code.co_name == "<lambda>":
        return "lambda" in line
    return ("def " + code.co_name) in line or line.startswith("@")


def replaced(pristine):
    """[{name, file, forged}] for each watched piece that is no longer the object in ``pristine``,
    and each method added to a watched class since (it shadows what the class inherited)."""
    entries, classes = pristine
    changed = []
    for key, (space, attr, old) in entries.items():
        if space.get(attr) is not old:
            changed.append(_change(key, space.get(attr), old))
    for key, space, names in classes:
        if len(space) != len(names):  # an added name (one removed shows among the entries)
            for attr in [a for a in list(space) if a not in names and _watchable(space[a])]:
                changed.append(_change(key + "." + attr, space[attr], None))
    return sorted(changed, key=lambda entry: entry["name"])


def _change(key, new, old):
    code, old_code = _code(new), _code(old)
    forged = code is not None and (
        not _claim_holds(code)
        or (old_code is not None and (code.co_filename, code.co_firstlineno) == (old_code.co_filename,
                                                                               old_code.co_firstlineno))
    )
    return {"name": key, "file": code_file(new) if new is not None else "", "forged": bool(forged)}


def plugin_files(plugin):
    """The distinct files the hook functions of ``plugin`` come from."""
    files = []
    for attr in dir(plugin):
        if attr.startswith("pytest_"):
            try:
                function = getattr(plugin, attr)
            except Exception:  # an attribute that raises: the plugin is judged by its hooks at the end
                continue
            if not callable(function):
                continue  # pytest_plugins = [...] in a conftest, say: not a hook
            file = code_file(function)
            if file not in files:
                files.append(file)
    return files


def hooks(config, entry_point_plugins):
    """[{hook, file, entry_point}] for every hook implementation registered now; ``entry_point`` marks
    the environment's declared plugins (a pytest-plugin project's own module among them)."""
    found = []
    relay = config.pluginmanager.hook
    declared = set(id(p) for p in entry_point_plugins)
    for name in sorted(vars(relay)):
        caller = getattr(relay, name, None)
        get = getattr(caller, "get_hookimpls", None)
        if get is None:
            continue
        for impl in get():
            found.append({"hook": name, "file": code_file(impl.function),
                          "entry_point": id(getattr(impl, "plugin", None)) in declared})
    return found


_reference_cache: dict = {}


def _reference_codes(path, rewritten, config):
    """Every code object the module at ``path`` compiles to, keyed by (name, first line); None when
    it cannot be compiled here (then the test is judged by its outcome alone)."""
    key = (path, rewritten)
    if key not in _reference_cache:
        try:
            top = _compile(path, rewritten, config)
        except Exception:
            _reference_cache[key] = None
            return None
        codes = {}
        stack = [top]
        while stack:
            code = stack.pop()
            codes.setdefault((code.co_name, code.co_firstlineno), code)
            stack.extend(c for c in code.co_consts if hasattr(c, "co_code"))
        _reference_cache[key] = codes
    return _reference_cache[key]


def _compile(path, rewritten, config):
    if rewritten:
        result = _PRISTINE_REWRITE(path, config)
        return result[1] if isinstance(result, tuple) else result
    with open(path, "rb") as handle:
        return compile(handle.read(), path, "exec", dont_inherit=True)


def _constant(value):
    """A constant as compared: its type and repr; a frozenset's (a set literal's) members sorted, as
    the order they iterate in can differ between two compiles of one text (Python 3.9 and 3.10
    rebuild it while merging constants: ``{'spam', 'foo/spam', 'foo/spam/bar'}`` did)."""
    if type(value) is frozenset:
        return ("frozenset", tuple(sorted(_constant(member) for member in value)))
    if type(value) is tuple:
        return ("tuple", tuple(_constant(member) for member in value))
    return (type(value).__name__, repr(value))


def _same(code, reference):
    if code.co_code != reference.co_code:
        return False
    plain = [_constant(c) for c in code.co_consts if not hasattr(c, "co_code")]
    expected = [_constant(c) for c in reference.co_consts if not hasattr(c, "co_code")]
    return plain == expected and code.co_names == reference.co_names


def test_origin(item):
    """The file the function ``item`` calls comes from, when that is not its own module ("" otherwise).

    A decorated test's wrapper comes from the decorator's module (the environment's, usually);
    the parent judges whether that file may shape a test.
    """
    code = _code(getattr(item, "obj", None))
    module = getattr(item, "module", None)
    path = getattr(module, "__file__", None)
    if code is None or not path or code.co_filename == path:
        return ""
    if code.co_filename.startswith("<") and type(module) is types.ModuleType:
        codes = _reference_codes(path, False, None)
        if codes is not None and compiled_from_module_text(code, codes, _same):
            return ""  # compiled at import from text the module holds
    return code.co_filename


def _shadowed(item):
    """Names of the item's methods replaced on the item itself."""
    found = []
    for name, value in list(vars(item).items()):
        if not callable(value) or name.startswith("__"):
            continue
        for klass in type(item).__mro__:
            member = vars(klass).get(name)
            if isinstance(member, (types.FunctionType, property, classmethod, staticmethod)):
                found.append(name)
                break
    return found


def _named(item, function):
    """Is ``function`` the one the item's parent defines under the test's name (when it defines one)?"""
    name = getattr(item, "originalname", None) or getattr(item, "name", "")
    parent = getattr(getattr(item, "parent", None), "obj", None)
    if parent is None or not name:
        return True
    expected = getattr(parent if isinstance(parent, (type, types.ModuleType)) else type(parent), name, None)
    if expected is None:
        return True  # a test made by a hook, not found under its name
    return getattr(expected, "__func__", expected) is getattr(function, "__func__", function)


def test_problem(item, config):
    """Why the function ``item`` is about to call is not the one its module's source defines, or ""."""
    shadowed = _shadowed(item)
    if shadowed:
        return "the test item's " + ", ".join(sorted(shadowed)) + " was replaced on the item"
    function = getattr(item, "obj", None)
    module = getattr(item, "module", None)
    if module is not None and type(module) is not types.ModuleType:
        # a module class can serve collection another namespace than the one its code filled
        return "its module's class was replaced (" + type(module).__name__ + ")"
    path = getattr(module, "__file__", None)
    code = _code(function)
    # another function of the module (or one with no code of its own) under the test's name; a
    # plugin's wrapper from another file (pytest-asyncio's) is test_origin's to judge
    if function is not None and (code is None or code.co_filename == path) and not _named(item, function):
        return "it calls a function that is not the one its module defines under its name"
    if code is None or not path or code.co_filename != path:
        return ""  # not its module's own code: test_origin names where it comes from
    rewritten = type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook"
    codes = _reference_codes(path, rewritten, config)
    if codes is None:
        return ""
    reference = codes.get((code.co_name, code.co_firstlineno))
    if reference is None:
        return "its function names a line of " + path + " that defines no such function"
    if not _same(code, reference) and not proxy_of_its_test(function, code, reference, _same):
        return "its function's code is not what " + path + " compiles to"
    return ""


def _pristine_rewrite():
    try:
        from _pytest.assertion import rewrite
    except Exception:
        return None
    found = getattr(rewrite, "_rewrite_test", None)
    if found is None:
        return None

    def call(path, config):
        import inspect
        from pathlib import Path

        parameters = inspect.signature(found).parameters
        if list(parameters)[:1] == ["config"]:
            # pytest < 5 reads the file through a py.path (``fn.stat()``, ``fn.strpath``): handed a
            # str it raised, and every rewritten test module went unchecked
            import py

            return found(config, py.path.local(path))
        if parameters["fn"].annotation is inspect.Parameter.empty:
            # pytest 5 is handed the spec's origin, a str; a Path there is spelled into the code
            # it writes (the warning of ``assert None`` calls ``PosixPath(...)``)
            return found(path, config)
        return found(Path(path), config)

    return call


_PRISTINE_REWRITE = _pristine_rewrite()


class Seal:
    """The checks above and the plugin's own functions, as they were at import.

    The plugin calls the checks through a Seal bound into its hooks' defaults, so replacing a
    module attribute (of this module or the plugin) does not silence them; and at session end
    it reports any of these functions whose code was swapped. A candidate that studies
    loopctl's own plugin can still get around this: in one process, that is detectable by
    review, not preventable.
    """

    __slots__ = ("_functions", "_codes")

    def __init__(self, extra=()):
        functions = (replaced, hooks, test_problem, test_origin, loaders, _loader_of, _kind, _class_file, code_file,
                     _code, _holder, _claim_holds, _reference_codes, _compile, _same, plugin_files, _change, _shadowed,
                     _named, _constant, compiled_from_module_text, proxy_of_its_test, wrapped) + tuple(extra)
        object.__setattr__(self, "_functions", tuple(functions))
        object.__setattr__(self, "_codes", tuple(f.__code__ for f in functions))

    def __setattr__(self, name, value):
        raise AttributeError("sealed")

    def broken(self):
        """Names of the sealed functions whose code is no longer the code they had at import."""
        return [f.__module__ + "." + f.__name__ for f, c in zip(self._functions, self._codes) if f.__code__ is not c]

    def call(self, function, *args):
        """Call the sealed ``function`` (looked up among the originals, never by name)."""
        for original in self._functions:
            if original is function:
                return original(*args)
        raise LookupError(function)
