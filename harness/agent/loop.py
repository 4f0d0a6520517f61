"""The agent: mini-swe-agent's DefaultAgent with context management, runaway nudges and our limits.

``self.messages`` stays the whole conversation (it is the saved trajectory); what is sent is a
view: the system message, then everything from the last compaction summary on, less the hidden
runaway replies. Before each turn:

- the budget: ``agent_turns`` model calls (exit ``turns``), the wall clock (exit ``wall-time``),
  ``agent_max_cost`` dollars at the tier's prices (exit ``cost``), a stopping run (``Cancelled``:
  the attempt is left for the next run);
- the declared window (A): when the view plus the reply's budget passes ``compact_at`` of
  ``context_window``, the history becomes a task-anchored summary (``summary.summary``);
- the server's overflow error (A′), in any wording ``harness.modes`` knows: compact and ask again,
  instead of losing the attempt; with nothing left to compact the attempt exits ``context-overflow``;
- a runaway reply (B): kept in the trajectory but never resent, answered with one nudge;
  ``max_runaways`` in a row exit ``runaway``.

``query`` re-states mini-swe-agent 2.4.6's limit checks (pinned in the ``agent`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from minisweagent.agents.default import DefaultAgent
from minisweagent.exceptions import InterruptAgentFlow, LimitsExceeded

from harness.agent.model import HIDDEN, ProviderModel, RunawayReply
from harness.agent.shell import SandboxShell
from harness.agent.summary import summary
from harness.config import Tier
from harness.errors import Cancelled, ProviderError
from harness.loop.prompts import CHARS_PER_TOKEN
from harness.modes import FailureMode

NUDGE = ("Your last message was cut off while repeating itself (or ran out of tokens before any command). "
         "Do not repeat it: take one different, concrete action now, as one short THOUGHT and one ```bash block.")
KEEP_RUNAWAY_CHARS = 4000
"""Characters of a runaway reply kept in the trajectory (the rest is the same text again)."""


def exit_message(status: str, content: str = "") -> dict[str, Any]:
    """mini's exit message: ends ``run`` with ``status``."""
    return {"role": "exit", "content": content or status, "extra": {"exit_status": status, "submission": ""}}


class LoopctlAgent(DefaultAgent):
    """One attempt's loop (one instance per attempt: mini's counters are never reset)."""

    def __init__(self, model: ProviderModel, env: SandboxShell, *, tier: Tier, task_text: str,
                 changed_files: Callable[[], list[str]], stopping: Callable[[], bool], **kwargs: Any):
        super().__init__(model, env, **kwargs)
        self.tier = tier
        self.task_text = task_text
        self.changed_files = changed_files
        self.stopping = stopping
        self.shell = env
        self.provider_model = model
        self.runaways = 0
        self.runaways_in_a_row = 0
        self.compactions = {"threshold": 0, "overflow": 0}
        self.commands: list[tuple[str, int | None]] = []

    # --- the turn --------------------------------------------------------------------------

    def query(self) -> dict:
        """Limits, compaction at the threshold, the model call (overflow: compact and retry), runaways."""
        if self.stopping():
            raise Cancelled("the run is stopping")
        if 0 < self.config.step_limit <= self.n_calls:
            raise LimitsExceeded(exit_message("turns"))
        if 0 < self.config.wall_time_limit_seconds <= int(time.time() - self._start_time):
            raise LimitsExceeded(exit_message("wall-time"))
        if 0 < self.tier.agent_max_cost <= self.cost:
            raise LimitsExceeded(exit_message("cost"))
        if self._near_window() and self._compactable():
            self._compact("threshold")
        while True:
            self.n_calls += 1
            try:
                message = self.provider_model.query(self.view())
                break
            except ProviderError as exc:
                if exc.mode is not FailureMode.CONTEXT_OVERFLOW:
                    raise
                if not self._compactable():
                    raise LimitsExceeded(exit_message("context-overflow", exc.message[:300])) from None
                self._compact("overflow")
                if 0 < self.config.step_limit <= self.n_calls:
                    raise LimitsExceeded(exit_message("turns")) from None
            except RunawayReply as runaway:
                self._runaway(runaway)
        self.runaways_in_a_row = 0
        self.cost += message["extra"]["cost"]
        self.add_messages(message)
        return message

    def execute_actions(self, message: dict) -> list[dict]:
        """mini's, remembering each command and its exit code (for the summary)."""
        try:
            observations = super().execute_actions(message)
        except InterruptAgentFlow:
            self.commands += [(a["command"], 0) for a in message.get("extra", {}).get("actions", [])]
            raise
        for action, seen in zip(message.get("extra", {}).get("actions", []), observations, strict=False):
            self.commands.append((action["command"], seen.get("extra", {}).get("returncode")))
        return observations

    def view(self) -> list[dict]:
        """What the model is sent: the system message, then the history from the last summary on."""
        start = max((i for i, m in enumerate(self.messages) if m.get("extra", {}).get("compaction")), default=1)
        return [self.messages[0]] + [m for m in self.messages[start:]
                                     if m.get("role") != "exit" and not m.get("extra", {}).get(HIDDEN)]

    # --- context ---------------------------------------------------------------------------

    def _near_window(self) -> bool:
        chars = sum(len(m.get("content") or "") for m in self.view())
        estimate = chars / CHARS_PER_TOKEN
        turns = self.provider_model.turns
        if turns and turns[-1].usage_reported and not self.messages[-1].get("extra", {}).get("compaction"):
            # the server's own count for the last prompt, plus what was added since (estimated)
            added = sum(len(m.get("content") or "") for m in self.messages[-2:])
            estimate = max(estimate, turns[-1].prompt_tokens + turns[-1].completion_tokens + added / CHARS_PER_TOKEN)
        return estimate + self.tier.max_output_tokens > self.tier.compact_at * self.tier.context_window

    def _compactable(self) -> bool:
        """True when the view holds more than the system message and the last summary."""
        view = self.view()
        return len(view) > 2 or (len(view) == 2 and not view[1].get("extra", {}).get("compaction"))

    def _compact(self, why: str) -> None:
        self.compactions[why] += 1
        text = summary(self.task_text, self.shell.failing_tests, self.changed_files(),
                       self.shell.counts.last_test_output, self.commands, sum(self.compactions.values()))
        self.add_messages({"role": "user", "content": text, "extra": {"compaction": why, "timestamp": time.time()}})

    # --- runaways --------------------------------------------------------------------------

    def _runaway(self, runaway: RunawayReply) -> None:
        self.runaways += 1
        self.runaways_in_a_row += 1
        self.cost += runaway.message["extra"]["cost"]
        kept = dict(runaway.message)
        kept["content"] = (kept.get("content") or "")[:KEEP_RUNAWAY_CHARS]
        kept["extra"] = {**kept["extra"], HIDDEN: True, "runaway": runaway.why}
        self.add_messages(kept)
        if self.runaways_in_a_row >= max(self.tier.max_runaways, 1):
            raise LimitsExceeded(exit_message("runaway", runaway.why))
        raise InterruptAgentFlow({"role": "user", "content": NUDGE, "extra": {"nudge": runaway.why}})
