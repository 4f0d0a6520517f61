"""A tiny pytest plugin loaded into the task's own pytest (``-p loopctl_pytest_plugin``).

It must import with nothing but the standard library and pytest (>= 4.6 hook API), because it
runs inside whatever pytest the task's environment resolved. It does two things:

* ``--loopctl-select FILE``: keep only the node ids listed in FILE (one per line), in the
  file's order, and report the rest as deselected. A line that is a file path (or any id
  prefix) keeps every test under it, in collection order.
* Write the exact ``item.nodeid`` (and a failure's exception type name) into the JUnit XML as
  testcase properties, so the parser never has to reverse pytest's name mangling.
"""

import pytest


def pytest_addoption(parser):
    """Register ``--loopctl-select``."""
    parser.addoption(
        "--loopctl-select",
        action="store",
        default=None,
        help="file of pytest node ids (one per line): run only these, in this order",
    )


def _read_selection(path):
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    return [line.strip("\r") for line in text.split("\n") if line.strip()]


def _covers(wanted, nodeid):
    # A plain file path or a class id selects everything below it; "test_f" selects its
    # parametrizations "test_f[...]".
    return nodeid == wanted or nodeid.startswith(wanted + "::") or nodeid.startswith(wanted + "[")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """Keep only the selected items, in the selection file's order."""
    path = config.getoption("loopctl_select")
    if not path:
        return
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
