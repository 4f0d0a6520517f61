"""What the tests' private HOME holds: the little of a developer's own that honest suites lean on.

The run's HOME is a fresh, empty folder (the caller's is never shown). Real suites commit in
repositories they make with plain ``git`` and count on the identity every developer has set up:
under an empty HOME ``git commit`` stops with "Author identity unknown" (the sandbox's user has
no mail domain to guess one from), so tests that pass in a plain venv would fail here. The HOME
gets a neutral identity; a test's own (repository config, ``git -c``, ``GIT_AUTHOR_*``) still wins.
"""

from __future__ import annotations

from pathlib import Path

GIT_IDENTITY = "[user]\n\tname = loopctl sandbox\n\temail = sandbox@loopctl.invalid\n"
"""``~/.gitconfig`` of every test run: an identity that names no one."""


def furnish(home: Path) -> None:
    """Put the files above into ``home`` (an empty folder the run owns)."""
    (home / ".gitconfig").write_text(GIT_IDENTITY, encoding="utf-8")
