"""Runaway generation: an answer whose tail is one piece of text repeated over and over.

Small models degenerate into loops (the same line, the same block, the same word) and then run to
their output limit, or forever on a server without one. A streamed answer is checked as it
arrives and cut once its tail is a unit of 1-1000 characters repeated at least ``MIN_REPEATS``
times over at least ``MIN_SPAN`` characters: code repeats lines, but not a 1,500-character
stretch of identical copies. Pure functions; no I/O.
"""

from __future__ import annotations

MAX_UNIT = 1000
MIN_REPEATS = 5
MIN_SPAN = 1500
WINDOW = MAX_UNIT * MIN_REPEATS + MAX_UNIT
CHECK_EVERY = 256
"""Characters fed between two checks of a stream (a check costs about MAX_UNIT comparisons)."""


def repeating(text: str) -> bool:
    """True when ``text`` ends in one unit repeated MIN_REPEATS+ times over MIN_SPAN+ characters."""
    tail = text[-WINDOW:]
    size = len(tail)
    if size < MIN_SPAN:
        return False
    for unit_len in range(1, min(MAX_UNIT, size // MIN_REPEATS) + 1):
        if tail[-1] != tail[-1 - unit_len]:
            continue  # cheap rejection: the last character must recur one unit earlier
        unit = tail[-unit_len:]
        copies = 1
        while ((copies + 1) * unit_len <= size
               and tail[size - (copies + 1) * unit_len: size - copies * unit_len] == unit):
            copies += 1
        if copies >= MIN_REPEATS and copies * unit_len >= MIN_SPAN:
            return True
    return False


class RepetitionDetector:
    """Fed a stream piece by piece; ``runaway`` turns True once the text so far is repeating."""

    def __init__(self) -> None:
        self._tail = ""
        self._since_check = 0
        self.runaway = False

    def feed(self, piece: str) -> bool:
        """Add a streamed piece; returns ``runaway``."""
        if self.runaway or not piece:
            return self.runaway
        self._tail = (self._tail + piece)[-WINDOW:]
        self._since_check += len(piece)
        if self._since_check >= CHECK_EVERY:
            self._since_check = 0
            self.runaway = repeating(self._tail)
        return self.runaway
