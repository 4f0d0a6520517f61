"""Start pytest so that nothing in the workspace can change how it starts.

Run as ``<env python> -s -B loopctl_boot.py SPEC.json`` inside the sandbox. Python puts only this
folder (ours, read-only) in front of the standard library and the environment's site-packages:
no ``PYTHONPATH``, no current directory, so a workspace ``sitecustomize``, ``pytest.py`` or
``_pytest/`` cannot be imported at start-up. pytest, its plugins' entry points and our plugin are
imported from the environment first; only then does the workspace go on ``sys.path`` (and on
``PYTHONPATH`` for processes the tests start), exactly where ``PYTHONPATH`` used to put it.

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


def main():
    with open(sys.argv[1], "rb") as handle:
        spec = json.loads(handle.read().decode("utf-8"))
    # The run's secret arrives on its own pipe, read and closed before any workspace code can run.
    nonce = ""
    try:
        fd = int(spec["nonce_fd"])
        nonce = os.read(fd, 256).decode("ascii", "replace").strip()
        os.close(fd)
    except (KeyError, ValueError, OSError):
        pass
    # First word on the channel: the sandbox and the interpreter started (silence is theirs to answer for).
    try:
        os.write(int(spec["channel"]), (json.dumps({"k": "boot", "n": nonce}) + "\n").encode("ascii"))
    except (KeyError, ValueError, OSError):
        pass
    _apply_limits(spec.get("limits", {}))
    import _pytest.config  # noqa: F401
    import pytest  # noqa: F401  -- from the environment, before any workspace path is importable

    import loopctl_pytest_plugin

    # Plugin autoloading reads package metadata along sys.path: it is switched off, and the
    # environment's own entry points (read now, before the workspace is importable) are
    # registered by our plugin under their names, as autoloading would have registered them.
    loopctl_pytest_plugin.ENVIRONMENT_PLUGINS[:] = _environment_plugins()
    loopctl_pytest_plugin.NONCE[:] = [nonce]
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"

    # As ``python -m pytest`` with PYTHONPATH did: the workspace (the current directory), then
    # the task's source roots; processes the tests start see the source roots.
    sys.path[:0] = [str(path) for path in spec["sys_path"]]
    os.environ["PYTHONPATH"] = os.pathsep.join(str(path) for path in spec["pythonpath"])
    sys.exit(int(pytest.main(list(spec["args"]))))


if __name__ == "__main__":
    main()
