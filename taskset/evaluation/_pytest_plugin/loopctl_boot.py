"""Start pytest so that nothing in the workspace can change how it starts.

Run as ``<env python> -s -B loopctl_boot.py SPEC.json`` inside the sandbox. Python puts only this
folder (ours, read-only) in front of the standard library and the environment's site-packages:
no ``PYTHONPATH``, no current directory, so a workspace ``sitecustomize``, ``pytest.py`` or
``_pytest/`` cannot be imported at start-up. pytest, its plugins' entry points and our plugin are
imported from the environment first; only then does the workspace go on ``sys.path`` (and on
``PYTHONPATH`` for processes the tests start), exactly where ``PYTHONPATH`` used to put it.

The run's secret arrives on a pipe of its own and goes straight into loopctl_audit's hook (Python
3.8 on; no frame of this script holds it), installed after pytest and our plugin are imported and
before the workspace is importable.

Must run on every Python the task environments use (3.6 on): standard library only.
"""

import json
import os
import sys


def _limit(resource, name, value):
    kind = getattr(resource, name, None)
    if kind is None or value is None:
        return
    try:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass  # a limit the platform refuses is not worth failing the run for


def _apply_limits(limits):
    try:
        import resource
    except ImportError:  # not on this platform
        return
    for name, value in sorted(limits.items()):
        _limit(resource, name, value)


def _environment_plugins():
    """(name, "module[:attr]") of every pytest11 entry point the environment itself declares."""
    found = []
    try:
        try:
            from importlib import metadata
        except ImportError:  # Python < 3.8: pytest 4.6 brings the backport
            import importlib_metadata as metadata
        eps = metadata.entry_points()
        group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
        found = [(ep.name, ep.value) for ep in group]
    except ImportError:
        import pkg_resources

        for ep in pkg_resources.iter_entry_points("pytest11"):
            value = ep.module_name + (":" + ".".join(ep.attrs) if ep.attrs else "")
            found.append((ep.name, value))
    seen = set()
    unique = []
    for name, value in found:
        if name not in seen:
            seen.add(name)
            unique.append((name, value))
    return unique


def _secret(spec):
    """The run's secret, from its own pipe, read and closed before any workspace code can run."""
    try:
        fd = int(spec["nonce_fd"])
        secret = os.read(fd, 256).decode("ascii", "replace").strip()
        os.close(fd)
        return secret
    except (KeyError, ValueError, OSError):
        return ""


def _own_codes(module):
    """Code objects of the functions (and methods) ``module`` defines itself, as imported."""
    codes = []
    owners = [module] + [v for v in vars(module).values() if isinstance(v, type)]
    for owner in owners:
        for value in list(vars(owner).values()):
            code = getattr(getattr(value, "__func__", value), "__code__", None)
            if code is not None and code.co_filename == getattr(module, "__file__", None):
                codes.append(code)
    return tuple(codes)


def _rewriter_codes():
    """Code objects of pytest's assertion rewriter: the one place a syntax tree is compiled under a
    test file's name."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return ()
    return _own_codes(rewrite)


def _seal_channel(spec, channel, plugin):
    """Install the audit hook (Python 3.8 on): from now on it alone writes the channel, with the
    secret as its HMAC key. Older interpreters: the plugin writes, each record carrying the secret."""
    import loopctl_audit

    audit = spec.get("audit", {})
    if not hasattr(sys, "addaudithook"):
        audit = None
    ours = os.path.dirname(os.path.abspath(__file__))
    libraries = [str(path) for path in (audit or {}).get("libraries", [])] + [ours]
    if audit is not None and loopctl_audit.install(channel, _secret(spec).encode("ascii"),
                                                   str(audit.get("root", os.getcwd())),
                                                   [str(path) for path in audit.get("suspects", [])], libraries,
                                                   sender=plugin.send_code(), sender_codes=_own_codes(plugin),
                                                   rewriter_codes=_rewriter_codes(),
                                                   written=audit.get("written", {})):
        plugin.AUDITED[:] = [True]
        return
    nonce = _secret(spec)
    plugin.NONCE[:] = [nonce]
    # First word on the channel: the sandbox and the interpreter started.
    try:
        os.write(channel, (json.dumps({"k": "boot", "n": nonce, "audit": False}) + "\n").encode("ascii"))
    except OSError:
        pass


def _workspace_names(roots):
    """Top-level module names the import roots provide (packages with ``__init__.py``, modules)."""
    names = set()
    for root in roots:
        try:
            entries = os.listdir(root)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".py"):
                names.add(entry[:-3])
            elif os.path.isfile(os.path.join(root, entry, "__init__.py")):
                names.add(entry)
    return names


def yield_to_workspace(roots, site_dirs):
    """Forget the modules pytest imported from the environment (``site_dirs``) that the workspace's
    import roots provide too, so the tests -- and whatever imports them from now on, pytest's lazy
    imports included -- get the workspace's code; returns their names.

    A project pytest itself depends on (iniconfig, pluggy, packaging, attrs, colorama ...) has an
    index copy in the environment so pytest can start; without this, that copy, imported first,
    would shadow the workspace and no test could fail on the buggy code. pytest keeps the objects
    it already holds (its hook machinery stays the environment's); pytest and our plugin are
    never forgotten, and nothing of the standard library (it is not in ``site_dirs``).
    """
    names = _workspace_names(roots) - {"pytest", "_pytest"}
    sites = tuple(os.path.join(os.path.realpath(d), "") for d in site_dirs)
    forgotten = []
    for name, module in list(sys.modules.items()):
        top = name.split(".", 1)[0]
        if top not in names or top.startswith("loopctl_"):
            continue
        path = getattr(module, "__file__", None) or ""
        if path and os.path.realpath(path).startswith(sites):
            del sys.modules[name]
            forgotten.append(name)
    return sorted(forgotten)


def _site_dirs():
    import site

    found = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    return [d for d in found if os.path.isdir(d)]


def main():
    with open(sys.argv[1], "rb") as handle:
        spec = json.loads(handle.read().decode("utf-8"))
    _apply_limits(spec.get("limits", {}))
    import _pytest.config  # noqa: F401
    import pytest  # noqa: F401  -- from the environment, before any workspace path is importable

    import loopctl_pytest_plugin

    # Plugin autoloading reads package metadata along sys.path: it is switched off, and the
    # environment's own entry points (read now, before the workspace is importable) are
    # registered by our plugin under their names, as autoloading would have registered them.
    loopctl_pytest_plugin.ENVIRONMENT_PLUGINS[:] = _environment_plugins()
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    # Last before the workspace becomes importable; the secret never becomes a local of this frame.
    _seal_channel(spec, int(spec["channel"]), loopctl_pytest_plugin)

    # As ``python -m pytest`` with PYTHONPATH did: the workspace (the current directory), then
    # the task's source roots; processes the tests start see the source roots.
    yield_to_workspace([str(path) for path in spec["sys_path"]], _site_dirs())
    sys.path[:0] = [str(path) for path in spec["sys_path"]]
    os.environ["PYTHONPATH"] = os.pathsep.join(str(path) for path in spec["pythonpath"])
    sys.exit(int(pytest.main(list(spec["args"]))))


if __name__ == "__main__":
    main()
