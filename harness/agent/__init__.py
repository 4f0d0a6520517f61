"""Agent tiers: a model works in the task's sandboxed workspace through a shell, turn by turn.

Hosts mini-swe-agent's loop (the ``loopctl[agent]`` extra, pinned) rather than writing a new one:
its Agent, Model and Environment seams map onto ours. Owns ``model`` (mini's Model over our
Provider: text or tool-call actions, runaway replies), ``shell`` (mini's Environment over
taskset's sandboxed command runner), ``loop`` (the agent: compaction, overflow retries, runaway
nudges, limits),
``summary`` (the task-anchored summary a compaction leaves), ``attempt`` (one attempt:
workspace, loop, diff, the evaluator, the record and the trajectory). May import
``harness.loop``, ``harness.records``, ``harness.providers``, the vocabulary and ``taskset``;
``harness.results`` and above import it, lazily (only a run with an agent tier loads it).

mini-swe-agent prints a banner, creates a config folder in the user's HOME and loads a ``.env``
from it when it is first imported. This package is imported before any of its modules, so it
switches the banner off and points the folder at an empty one in our cache first: nothing of
the user's environment leaks in. litellm is never imported (our Model reaches servers through
harness.providers); its cost-map switch is set anyway, so no import by anything else goes to
the network.
"""

import os

from taskset.files.cache import cache_dir

MINI_VERSION = "2.4.6"
"""The mini-swe-agent release this package is written against (``DefaultAgent.query`` is re-stated)."""

os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(cache_dir() / "mini-swe-agent"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def installed_version() -> str:
    """The installed mini-swe-agent's version (imported after the switches above); ImportError if absent."""
    import minisweagent

    return minisweagent.__version__
