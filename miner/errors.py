"""Errors raised by the miner.

::

    MinerError              bad input or a repository the miner cannot walk (the CLI prints one line, exit 2)
"""

from __future__ import annotations


class MinerError(Exception):
    """Root of every error the miner raises."""
