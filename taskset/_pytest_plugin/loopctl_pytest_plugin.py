"""A tiny pytest plugin loaded into the task's own pytest (``-p loopctl_pytest_plugin``).

It must import with nothing but the standard library and pytest (>= 4.6 hook API), because it
runs inside whatever pytest the task's environment resolved. It does four things:

* ``--loopctl-select FILE``: keep only the node ids listed in FILE (one per line), in the
  file's order, and report the rest as deselected. A line that is a file path (or any id
  prefix) keeps every test under it, in collection order.
* Write the exact ``item.nodeid`` (and a failure's exception type name) into the JUnit XML as
  testcase properties, so the parser never has to reverse pytest's name mangling.
* ``--loopctl-channel FD``: stream every phase's outcome to the parent as it happens, one JSON
  line per event on an inherited pipe, as a second witness beside the JUnit report.
* ``--loopctl-canaries``: append two tests of ours, one that must pass and one that must fail,
  and report (at session end) which pieces of pytest's reporting machinery were replaced after
  this module was imported, with the file that replaced them. A run whose canaries come out
  wrong, or whose reporting was patched from a candidate's file, is judged ``tampered``.

This module is imported by ``loopctl_boot`` before any workspace path is importable, so the
snapshot below sees pytest as the environment installed it.
"""

import hashlib
import importlib
import json
import os
import sys

import pytest

ENVIRONMENT_PLUGINS = []
"""(name, "module[:attr]") of the environment's pytest11 entry points, filled in by loopctl_boot."""

CANARY_PASS = "loopctl-canary-pass"
CANARY_FAIL = "loopctl-canary-fail"

# Where pytest decides and records outcomes: replacing any of these after start-up is how
# in-process cheating works. Entries missing in a given pytest version are skipped.
_WATCHED = (
    ("_pytest.runner", "call_and_report"),
    ("_pytest.runner", "runtestprotocol"),
    ("_pytest.runner", "pytest_runtest_makereport"),
    ("_pytest.runner", "pytest_runtest_protocol"),
    ("_pytest.runner", "check_interactive_exception"),
    ("_pytest.runner", "CallInfo.from_call"),
    ("_pytest.reports", "TestReport.from_item_and_call"),
    ("_pytest.reports", "TestReport.__init__"),
    ("_pytest.reports", "BaseReport.passed"),
    ("_pytest.reports", "BaseReport.failed"),
    ("_pytest.junitxml", "LogXML.pytest_runtest_logreport"),
    ("_pytest.junitxml", "LogXML.pytest_sessionfinish"),
    ("_pytest.junitxml", "_NodeReporter.append_pass"),
    ("_pytest.junitxml", "_NodeReporter.append_failure"),
    ("_pytest.junitxml", "_NodeReporter.to_xml"),
    ("_pytest.python", "pytest_pyfunc_call"),
    ("_pytest.python", "Function.runtest"),
    ("_pytest.main", "pytest_runtestloop"),
    ("_pytest.main", "wrap_session"),
    ("_pytest.skipping", "pytest_runtest_makereport"),
    ("_pytest.outcomes", "fail"),
    ("_pytest.outcomes", "skip"),
    ("_pytest.outcomes", "exit"),
    ("pluggy._callers", "_multicall"),
    ("pluggy._hooks", "HookCaller.__call__"),
    ("pluggy._hooks", "_HookCaller.__call__"),
    ("pluggy._manager", "PluginManager._hookexec"),
    ("pluggy.callers", "_multicall"),
    ("pluggy.hooks", "_HookCaller.__call__"),
    ("pluggy.manager", "PluginManager._hookexec"),
)

# Hooks through which a plugin can change what a test's outcome looks like.
_REPORTING_HOOKS = (
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_report_teststatus",
    "pytest_runtest_protocol",
    "pytest_runtestloop",
    "pytest_pyfunc_call",
    "pytest_runtest_call",
    "pytest_sessionfinish",
    "pytest_collection_modifyitems",
)


def _resolve(module_name, dotted):
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = __import__(module_name, fromlist=["_"])
        except Exception:
            return None
    owner = module
    parts = dotted.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    if isinstance(owner, type):
        # the raw attribute: a classmethod or property object stays comparable by identity
        for klass in owner.__mro__:
            if parts[-1] in vars(klass):
                return vars(klass)[parts[-1]]
        return None
    return getattr(owner, parts[-1], None)


def _snapshot():
    return {module + ":" + dotted: _resolve(module, dotted) for module, dotted in _WATCHED}


_PRISTINE = _snapshot()
_PRISTINE_MODULES = {name: sys.modules.get(name) for name in set(m for m, _ in _WATCHED)}


def _code_file(obj):
    """The source file an object's code came from ("" when it has none: a C function, exec'd text)."""
    for candidate in (obj, getattr(obj, "fget", None), getattr(obj, "__func__", None)):
        code = getattr(candidate, "__code__", None)
        if code is not None:
            return code.co_filename
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    return getattr(module, "__file__", "") or ""


# --- options --------------------------------------------------------------------------------


def pytest_addoption(parser):
    """Register ``--loopctl-select``, ``--loopctl-channel`` and ``--loopctl-canaries``."""
    group = parser.getgroup("loopctl")
    group.addoption("--loopctl-select", action="store", default=None,
                    help="file of pytest node ids (one per line): run only these, in this order")
    group.addoption("--loopctl-channel", action="store", default=None,
                    help="file descriptor to stream outcomes to (JSON lines)")
    group.addoption("--loopctl-canaries", action="store_true", default=False,
                    help="add a must-pass and a must-fail test and check pytest's reporting is intact")


_environment_plugins_loaded = []


def pytest_plugin_registered(plugin, manager):
    """Register the environment's entry-point plugins, once, as autoloading would (names, blocks)."""
    if _environment_plugins_loaded:
        return
    _environment_plugins_loaded.append(True)
    for name, value in ENVIRONMENT_PLUGINS:
        if manager.get_plugin(name) is not None or manager.is_blocked(name):
            continue
        module_name, _, attr = value.partition(":")
        loaded = importlib.import_module(module_name.strip())
        for part in attr.strip().split(".") if attr.strip() else []:
            loaded = getattr(loaded, part)
        manager.register(loaded, name=name)


class _Channel(object):
    """JSON lines to the parent; one os.write per line (atomic on a pipe up to PIPE_BUF)."""

    def __init__(self, fd):
        self.fd = fd

    def send(self, **record):
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8", "replace")
        try:
            os.write(self.fd, line)
        except OSError:
            pass  # the parent stopped listening (timeout): nothing to do


_channel = None


def pytest_configure(config):
    """Open the channel (in the main process only: xdist workers report through it)."""
    global _channel
    # autoloading was off for this process only: the tests' own pytest runs get it back
    os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    fd = config.getoption("loopctl_channel")
    if fd and not hasattr(config, "workerinput"):
        _channel = _Channel(int(fd))
        plugins = []
        for plugin, dist in config.pluginmanager.list_plugin_distinfo():
            plugins.append(_code_file(plugin) or getattr(plugin, "__file__", "") or "")
        _channel.send(k="start", pid=os.getpid(), pytest=pytest.__version__, entry_points=plugins)


# --- selection and canaries -----------------------------------------------------------------


def _read_selection(path):
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    return [line.strip("\r") for line in text.split("\n") if line.strip()]


def _covers(wanted, nodeid):
    # A plain file path or a class id selects everything below it; "test_f" selects its
    # parametrizations "test_f[...]".
    return nodeid == wanted or nodeid.startswith(wanted + "::") or nodeid.startswith(wanted + "[")


class _Canary(pytest.Item):
    """A test of ours whose outcome is known in advance."""

    must_fail = False

    def runtest(self):
        if self.must_fail:
            raise AssertionError("loopctl canary: this test must fail")

    def reportinfo(self):
        return getattr(self, "path", None) or self.fspath, None, self.name


def _canary(session, name, must_fail):
    if hasattr(_Canary, "from_parent"):
        item = _Canary.from_parent(session, name=name)
    else:  # pytest < 5.4
        item = _Canary(name, parent=session)
    item.must_fail = must_fail
    return item


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Keep only the selected items, in the selection file's order; then the canaries, last."""
    path = config.getoption("loopctl_select")
    if path:
        wanted = _read_selection(path)
        exact = {}
        for item in items:
            exact.setdefault(item.nodeid, item)
        chosen = []
        seen = set()
        for line in wanted:
            matches = [exact[line]] if line in exact else [i for i in items if _covers(line, i.nodeid)]
            for item in matches:
                if id(item) not in seen:
                    seen.add(id(item))
                    chosen.append(item)
        dropped = [item for item in items if id(item) not in seen]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
    if config.getoption("loopctl_canaries"):
        # must-pass first: under -x the must-fail one ends the session, never the other way round
        items.append(_canary(session, CANARY_PASS, False))
        items.append(_canary(session, CANARY_FAIL, True))


# --- witnesses --------------------------------------------------------------------------------


def pytest_collectstart(collector):
    """Hash each test module as it is about to be imported: a file rewritten earlier in the run shows."""
    if _channel is None:
        return
    path = str(getattr(collector, "path", None) or getattr(collector, "fspath", "") or "")
    if not path.endswith(".py") or not os.path.isfile(path):
        return
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        digest = ""
    _channel.send(k="collect", path=path, sha256=digest)


def pytest_collectreport(report):
    """A collector that failed (a module that cannot be imported)."""
    if _channel is not None and report.failed:
        _channel.send(k="collect-error", nodeid=report.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """Record the exact node id before setup, so even a skip or setup error carries it."""
    if ("nodeid", item.nodeid) not in item.user_properties:
        item.user_properties.append(("nodeid", item.nodeid))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record the exception type name of a failing phase (setup, call or teardown)."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or not report.failed:
        return
    entry = ("exception", call.excinfo.typename)
    if entry not in item.user_properties:
        item.user_properties.append(entry)
    # The report copied the item's properties before we got here; a call failure followed by
    # a teardown error is written from this report, so it must carry the entry too.
    props = getattr(report, "user_properties", None)
    if isinstance(props, list) and props is not item.user_properties and entry not in props:
        props.append(entry)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    """Stream each phase's outcome as pytest first learns it, before other plugins see it."""
    if _channel is not None:
        _channel.send(k="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
                      xfail=hasattr(report, "wasxfail"))


def _replaced():
    changed = []
    for key, old in sorted(_PRISTINE.items()):
        module, dotted = key.split(":", 1)
        new = _resolve(module, dotted)
        if new is not old:
            changed.append({"name": key, "file": _code_file(new) if new is not None else ""})
    for name, module in sorted(_PRISTINE_MODULES.items()):
        if module is not None and sys.modules.get(name) is not module:
            changed.append({"name": name, "file": getattr(sys.modules.get(name), "__file__", "") or ""})
    return changed


def _reporting_hooks(config):
    found = []
    for hook_name in _REPORTING_HOOKS:
        caller = getattr(config.hook, hook_name, None)
        for impl in (caller.get_hookimpls() if caller is not None else []):
            found.append({"hook": hook_name, "file": _code_file(impl.function)})
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """The closing record: exit status, whether the session stopped early, what was replaced."""
    if _channel is None:
        return
    stopped = bool(getattr(session, "shouldfail", False) or getattr(session, "shouldstop", False))
    _channel.send(k="finish", exitstatus=int(exitstatus), stopped=stopped, replaced=_replaced(),
                  hooks=_reporting_hooks(session.config))
