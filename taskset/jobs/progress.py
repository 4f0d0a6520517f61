"""How long work reports where it is: the library calls a Progress, the CLI renders it.

The packages never draw anything themselves (no rich, no terminal checks): ``mine``, ``calibrate``
and ``harness run`` take a ``progress`` argument and call it; :data:`SILENT` is the default.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """The events long work reports, in order: phases, each with items finishing; notes and status any time."""

    def phase(self, description: str, total: int | None = None) -> None:
        """A new phase begins (``total`` items, or an unknown number); it replaces the previous one."""

    def advance(self, label: str = "") -> None:
        """One more item of the phase finished; ``label`` (an outcome) is tallied beside the count."""

    def note(self, message: str) -> None:
        """A line the user should read now (a skipped unit, an infrastructure failure to retry)."""

    def status(self, text: str) -> None:
        """A short live line that replaces the previous one (attempts made, dollars spent so far)."""


class _Silent:
    """A Progress that reports nothing."""

    def phase(self, description: str, total: int | None = None) -> None:
        pass

    def advance(self, label: str = "") -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def status(self, text: str) -> None:
        pass


SILENT: Progress = _Silent()
"""The default Progress: reports nothing."""
