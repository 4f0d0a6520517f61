"""Where loopctl keeps its caches (clones, environments): ``LOOPCTL_CACHE`` or the XDG cache dir."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root; nothing is created here until a caller needs it."""
    explicit = os.environ.get("LOOPCTL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "loopctl"
