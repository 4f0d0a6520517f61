"""Errors raised by the harness.

::

    HarnessError            bad configuration, bad run directory, unusable provider settings
    ├── ConfigError         a tiers file is malformed or names an unknown tier / provider
    ├── RunDirError         a run directory is unusable or was started with other settings
    └── ProviderError       a model call failed for good (after the client's own retries);
                            carries the failure mode (api-error, timeout, context-overflow)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises."""


class ConfigError(HarnessError):
    """A tiers config is malformed: names the file and the key."""

    def __init__(self, source: str, key: str, problem: str):
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}")


class RunDirError(HarnessError):
    """A run directory cannot be used (unreadable, or started with different tiers)."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ProviderError(HarnessError):
    """A model call failed after the client's retries; ``mode`` is a FailureMode value."""

    def __init__(self, mode: str, message: str):
        self.mode = mode
        self.message = message
        super().__init__(f"{mode}: {message}")
