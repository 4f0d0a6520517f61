"""A tiny pytest plugin loaded into the task's own pytest (``-p loopctl_pytest_plugin``).

It must import with nothing but the standard library and pytest (>= 4.6 hook API), because it
runs inside whatever pytest the task's environment resolved. It does four things:

* ``--loopctl-select FILE``: keep only the node ids listed in FILE (one per line), in the
  file's order, and report the rest as deselected. A line that is a file path (or any id
  prefix) keeps every test under it, in collection order.
* Write the exact ``item.nodeid`` (and a failure's exception type name) into the JUnit XML as
  testcase properties, so the parser never has to reverse pytest's name mangling.
* ``--loopctl-channel FD``: stream every phase's outcome to the parent as it happens, one JSON
  line per event on an inherited pipe, as a second witness beside the JUnit report. On Python
  3.8 on, records go through loopctl_audit's hook, which seals and numbers them (only ``_send``,
  called from this module's own functions, is heard); evidence is sent the moment it is found.
* ``--loopctl-canaries``: append two tests of ours, one that must pass and one that must fail.
* Evidence of in-process interference (``loopctl_integrity``): before each test's function runs,
  whether it is the one its module's source defines; at session end, which watched pieces of
  pytest were replaced and by what file, and every hook implementation with its file. A run
  whose canaries come out wrong, or whose tests or reporting were changed from a candidate's
  file, is judged ``tampered`` by the parent.

This module is imported by ``loopctl_boot`` before any workspace path is importable, so the
snapshot below sees pytest as the environment installed it. That is also why pytest must not try
to rewrite its asserts (it would warn, and a project running with ``filterwarnings = error``
would fail to start): PYTEST_DONT_REWRITE.
"""

import hashlib
import importlib
import json
import os
import sys

import pytest

import loopctl_integrity as integrity
from loopctl_integrity import hooks as _hooks
from loopctl_integrity import loaders as _loaders
from loopctl_integrity import replaced as _replaced
from loopctl_integrity import test_origin as _test_origin
from loopctl_integrity import test_problem as _test_problem

ENVIRONMENT_PLUGINS: list = []
"""(name, "module[:attr]") of the environment's pytest11 entry points, filled in by loopctl_boot."""
NONCE: list = []
"""The run's secret (one item, from loopctl_boot) on interpreters without audit hooks: records
without it are not ours to the parent."""
AUDITED: list = []
"""Non-empty once loopctl_boot installed the audit hook: records go through it."""

CANARY_PASS = "loopctl-canary-pass"
CANARY_FAIL = "loopctl-canary-fail"

_PRISTINE = integrity.snapshot()
_sent: set = set()
"""Evidence records already sent (each is sent once, the moment it is found: nothing to erase later)."""
_registered: list = []
"""(plugin name, file) registered before the channel opened."""
_SEAL = integrity.Seal()
_entry_point_plugins: list = []


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


_environment_plugins_loaded: list = []


def pytest_plugin_registered(plugin, manager, _seal=_SEAL):
    """Name the file of every plugin's hooks as it registers; then register the environment's
    entry-point plugins, once, as autoloading would (names, blocks)."""
    name = manager.get_name(plugin) or ""
    for file in _seal.call(integrity.plugin_files, plugin):
        if _channel_open:
            _send(k="registered", name=name, file=file)
        elif len(_registered) < 1000:
            _registered.append((name, file))
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
        _entry_point_plugins.append(loaded)


def _send(**record):
    """One record to the parent. With an audit hook, the hook writes it, sealed and numbered
    (only this function's code may ask it to); without one, each record carries the secret."""
    if not _channel_open:
        return
    if AUDITED:
        _audit("loopctl.record", json.dumps(record, sort_keys=True))
        return
    record["n"] = NONCE[0] if NONCE else ""
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8", "replace")
    try:
        os.write(_channel_open[0], line)
    except OSError:
        pass  # the parent stopped listening (timeout): nothing to do


def send_code():
    """The code object allowed to hand records to the audit hook (read by loopctl_boot)."""
    return _send.__code__


_audit = getattr(sys, "audit", None)
_channel_open: list = []
"""The channel's descriptor, once pytest_configure opened it (main process only)."""


def pytest_configure(config):
    """Open the channel (in the main process only: xdist workers report through it)."""
    # autoloading was off for this process only: the tests' own pytest runs get it back
    os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    # A project's ``-n auto`` would send its tests to xdist workers: fresh interpreters without the
    # audit hook or the boot's guards. They run here instead (xdist decides in its trylast configure).
    if getattr(config.option, "dist", "no") != "no" or getattr(config.option, "numprocesses", None):
        config.option.dist, config.option.numprocesses, config.option.tx = "no", None, []
    fd = config.getoption("loopctl_channel")
    if fd and not hasattr(config, "workerinput"):
        _channel_open.append(int(fd))
        plugins = []
        for plugin, _dist in config.pluginmanager.list_plugin_distinfo():
            plugins.append(integrity.code_file(plugin) or getattr(plugin, "__file__", "") or "")
        _send(k="start", pid=os.getpid(), pytest=pytest.__version__, entry_points=plugins)
        for name, file in _registered:
            _send(k="registered", name=name, file=file)


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
    if not _channel_open:
        return
    path = str(getattr(collector, "path", None) or getattr(collector, "fspath", "") or "")
    if not path.endswith(".py") or not os.path.isfile(path):
        return
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        digest = ""
    _send(k="collect", path=path, sha256=digest)


def pytest_collectreport(report):
    """A collector that failed (a module that cannot be imported)."""
    if _channel_open and report.failed:
        _send(k="collect-error", nodeid=report.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """Record the exact node id before setup, so even a skip or setup error carries it."""
    if ("nodeid", item.nodeid) not in item.user_properties:
        item.user_properties.append(("nodeid", item.nodeid))


def _once(**record):
    key = json.dumps(record, sort_keys=True)
    if key not in _sent:
        _sent.add(key)
        _send(**record)


def _check_item(item, seal, pristine):
    problem = seal.call(_test_problem, item, item.config)
    if problem:
        _once(k="altered", nodeid=item.nodeid, problem=problem)
    origin = seal.call(_test_origin, item)
    if origin:
        _once(k="origin", nodeid=item.nodeid, file=origin)
    for entry in seal.call(_replaced, pristine):
        _once(k="replaced", **entry)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item, _seal=_SEAL, _check=_check_item, _pristine=_PRISTINE):
    """Just before a test's function runs: is it still the function its module's source defines?"""
    if _channel_open:
        _check(item, _seal, _pristine)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call, _seal=_SEAL, _check=_check_item, _pristine=_PRISTINE):
    """Record the exception type name of a failing phase (setup, call or teardown)."""
    if call.when == "call" and _channel_open:
        _check(item, _seal, _pristine)  # a function swapped back and forth around our first look shows here
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
    if _channel_open:
        _send(k="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
              xfail=hasattr(report, "wasxfail"))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus, _seal=_SEAL, _pristine=_PRISTINE):
    """The closing record: exit status, whether the session stopped early, what was replaced."""
    if not _channel_open:
        return
    stopped = bool(getattr(session, "shouldfail", False) or getattr(session, "shouldstop", False))
    files = set(getattr(getattr(item, "module", None), "__file__", None) for item in session.items)
    replaced = _seal.call(_replaced, _pristine) + _seal.call(_loaders, files)
    replaced += [{"name": name, "file": "", "forged": True} for name in _seal.broken()]
    _send(k="finish", exitstatus=int(exitstatus), stopped=stopped, replaced=replaced,
          hooks=_seal.call(_hooks, session.config, _entry_point_plugins), tests=[], origins=[])
