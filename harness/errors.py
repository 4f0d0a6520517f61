"""Errors raised by the harness.

::

    HarnessError            bad input, bad configuration, bad run directory, unreachable servers
    ├── ConfigError         a tiers file is malformed or names an unknown tier / provider
    ├── RunDirError         a run directory is unusable or was started with other settings
    ├── ServerCheckFailed   a tier's server does not answer, or does not list the tier's model
    ├── ProviderError       a model call failed for good (after retries); carries its FailureMode
    ├── AgentUnavailable    an agent tier was asked for without mini-swe-agent (the ``agent`` extra)
    └── Cancelled           a model call was cut because the run is stopping (Ctrl-C, SIGTERM)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.modes import FailureMode


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


class ServerCheckFailed(HarnessError):
    """Checked before the first task: a tier's server is unreachable or lacks the tier's model."""

    def __init__(self, tier: str, url: str, problem: str):
        self.tier = tier
        self.url = url
        self.problem = problem
        super().__init__(f"tier {tier!r} ({url}): {problem}")


class ProviderError(HarnessError):
    """A model call failed after its retries.

    ``mode`` is the FailureMode (api-error, timeout, context-overflow); ``latency`` the seconds
    the call took, so a failed call is never booked as harness time; ``status`` the HTTP status
    when there was one; ``limit``/``requested`` the token figures a context error stated.
    """

    def __init__(self, mode: FailureMode, message: str, *, latency: float = 0.0, status: int | None = None,
                 limit: int | None = None, requested: int | None = None, completion_tokens: int = 0):
        self.mode = mode
        self.message = message
        self.latency = latency
        self.status = status
        self.limit = limit
        self.requested = requested
        self.completion_tokens = completion_tokens
        """Tokens streamed before the call failed (counted chunks: the server sent no usage)."""
        super().__init__(f"{mode.value}: {message}")


class AgentUnavailable(HarnessError):
    """Agent tiers need mini-swe-agent at the pinned version: ``pip install 'loopctl[agent]'``."""


class Cancelled(HarnessError):
    """The run is stopping: the call was cut and its attempt is left for the next run."""
