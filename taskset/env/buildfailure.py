"""Reading a failed install: whether the machine or the project failed, and which kind of failure.

Tables of (kind, pattern) over the installer's output, first match wins (reasons are data). A
failure of the machine -- the index unreachable, the disk full, the interpreter missing -- is an
``InfraCause``, never a failure of the project; a build failure climbs the install ladder; a
resolution failure does not.
"""

from __future__ import annotations

import re

from taskset.errors import InfraCause

INFRA = (
    # (cause, pattern) over uv's output: the machine failed, not the project; first match wins
    (InfraCause.DISK, re.compile(r"No space left on device|os error 28\b|Disk quota exceeded|os error 122\b|"
                                 r"Read-only file system|os error 30\b", re.I)),
    (InfraCause.NETWORK, re.compile(r"error sending request|dns error|failed to lookup address|"
                                    r"Temporary failure in name resolution|Name or service not known|"
                                    r"Connection refused|Connection reset|Network is unreachable|tcp connect error|"
                                    r"network timeout|operation timed out|Could not connect|certificate verify failed|"
                                    r"invalid peer certificate", re.I)),
    (InfraCause.INTERPRETER, re.compile(r"No interpreter found|Failed to inspect Python interpreter|"
                                        r"Failed to query Python interpreter", re.I)),
)

FAILURE_KINDS = (
    # (kind, pattern): first match wins; build failures climb the ladder, the rest fail at once.
    # A C extension written against C-API this interpreter removed (longintrepr.h went in 3.11,
    # tp_print in 3.9) fails the same way on every rung: only another interpreter helps.
    ("interpreter", re.compile(r"longintrepr\.h: No such file|has no member named .tp_print.")),
    ("build", re.compile(r"Failed to build|build backend|Build backend|subprocess-exited-with-error|"
                         r"setup\.py|Failed to download and build|error: command '|wheel file ?name|"
                         r"invalid (?:wheel )?filename|Failed to (?:install|read) wheel")),
    ("resolution", re.compile(r"No solution found|not found in the package registry|unsatisfiable|"
                              r"no matching distribution|Could not find a version")),
)

TRIM_LINES = 60
"""Lines of installer output kept in a build log excerpt (errors come last)."""


def infrastructure(output: str) -> InfraCause | None:
    """The part of the machine an installer's output says failed, or None (the project's own failure)."""
    return next((cause for cause, pattern in INFRA if pattern.search(output)), None)


def classify(output: str) -> str:
    """``build``, ``resolution`` or ``other``: which kind of install failure ``output`` shows."""
    for kind, pattern in FAILURE_KINDS:
        if pattern.search(output):
            return kind
    return "other"


def trim(raw: bytes, lines: int = TRIM_LINES) -> str:
    """The installer's output, decoded, cut to its last ``lines`` lines (errors come last)."""
    text = raw.decode("utf-8", errors="replace").rstrip()
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return f"[... {len(parts) - lines} lines omitted ...]\n" + "\n".join(parts[-lines:])


def headline(text: str) -> str:
    """The line of an installer's output that names the error (else its last line), cut to 300 characters."""
    for line in text.splitlines():
        if re.search(r"error|×|Because", line, re.IGNORECASE):
            return line.strip(" ×╰─▶")[:300]
    return (text.splitlines() or ["no output"])[-1][:300]
