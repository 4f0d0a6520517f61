"""Errors raised by calibration (the task set's own errors stay ``TasksetError``)::

    CalibrateError        the root: the CLI shows any of them as one line, exit 2
     └── InvalidSetting   a setting no calibration can use (no runs, no samples, no jobs)
"""

from __future__ import annotations


class CalibrateError(Exception):
    """Root of the calibration errors."""


class InvalidSetting(CalibrateError):
    """A calibration setting out of range, named with the value given."""

    def __init__(self, name: str, value: object, rule: str):
        super().__init__(f"{name} {value!r}: {rule}")
        self.name = name
        self.value = value
