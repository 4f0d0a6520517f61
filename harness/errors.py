"""Errors raised by the harness.

::

    HarnessError            bad configuration, bad run directory, unusable provider settings
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises."""
