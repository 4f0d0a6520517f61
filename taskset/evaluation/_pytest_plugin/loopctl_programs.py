"""Which program an audit event that starts one names: what a task's tests need besides the environment.

Read by ``loopctl_audit``'s hook (``k: "program"`` records); standard library only, and no code of
an unknown type runs here: a path object (the standard library's path types only) is handed back
as it is, for the hook to turn into text with its guard down (pathlib's methods are Python code
the tests can patch).
"""

PROGRAM_EVENTS = frozenset(("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "pty.spawn"))
"""The audit events that start a program."""
PROGRAM_ARGUMENT = {"subprocess.Popen": 0, "os.exec": 0, "os.posix_spawn": 0, "os.spawn": 1, "pty.spawn": 0}
"""Where each event that starts a program names it (``os.system`` runs a shell; ``pty.spawn``
gives an argv)."""
PROGRAMS = 100
"""Distinct programs reported at most: a record of what the tests ran, not a flood."""


def program_name(event, args):
    """The name or path ``event`` starts, as text or as the object given (a path); None when its
    arguments do not say."""
    if event == "os.system":
        return "/bin/sh"
    index = PROGRAM_ARGUMENT[event]
    name = args[index] if len(args) > index else None
    if event == "pty.spawn" and type(name) in (list, tuple):
        name = name[0] if name else None
    if type(name) is bytes:
        return name.decode("utf-8", "replace")
    return name
