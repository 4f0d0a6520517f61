"""Errors raised by the miner.

::

    MinerError              bad input or a repository the miner cannot walk (the CLI prints one line, exit 2)
    ├── BadRevision         a --branch/--since/--until/--commit names nothing in the repository
    ├── NoTestsError        the repository has no test files at the walked tip
    └── GitCommandError     a git command the miner needs failed (carries its output)
"""

from __future__ import annotations


class MinerError(Exception):
    """Root of every error the miner raises."""


class BadRevision(MinerError):
    """An option names a revision, branch or date the repository does not have."""

    def __init__(self, option: str, value: str, problem: str = "unknown revision or date"):
        self.option = option
        self.value = value
        super().__init__(f"{option} {value!r}: {problem}")


class NoTestsError(MinerError):
    """The repository has no test files, so no commit can be proven by its tests."""

    def __init__(self, location: str, revision: str):
        self.location = location
        self.revision = revision
        super().__init__(f"{location}: no test files at {revision[:12]} (nothing to validate fixes with)")


class GitCommandError(MinerError):
    """A git command failed; ``output`` holds its stderr."""

    def __init__(self, command: str, output: str):
        self.command = command
        self.output = output
        super().__init__(f"{command} failed: {output.strip()[-300:]}")
