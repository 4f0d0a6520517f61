"""A rich progress bar on stderr while walking and validating (silent when disabled)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as _RichProgress


class Progress:
    """Phases with an optional total; ``advance`` notes each finished candidate's outcome."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._bar: _RichProgress | None = None
        self._task = None
        self._counts: Counter[str] = Counter()

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._bar = _RichProgress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[tally]}"),
                console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self._bar.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)

    def phase(self, description: str, total: int | None = None) -> None:
        """Start a new phase (replacing the previous one)."""
        if self._bar is None:
            return
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total, tally="")

    def advance(self, label: str) -> None:
        """One more item done; ``label`` (task or a rejection reason) is tallied beside the bar."""
        self._counts[label] += 1
        if self._bar is None or self._task is None:
            return
        tally = " ".join(f"{name}:{count}" for name, count in self._counts.most_common(4))
        self._bar.update(self._task, advance=1, tally=tally)
