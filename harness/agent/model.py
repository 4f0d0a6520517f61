"""mini-swe-agent's Model over our Provider: one turn is one ``Provider.complete`` call.

Going through harness.providers (not litellm, not a second client) keeps every rule edit tiers
already follow: the tier's deadline and retries, usage and reasoning tokens, a streamed reply cut
when it repeats itself, and server errors classified by the one table (``harness.modes``), so a
context-overflow error in any wording the provider layer knows reaches the agent as
``ProviderError(CONTEXT_OVERFLOW)``.

Actions are text by default: exactly one fenced ```` ```bash ```` (or mini's
```` ```mswea_bash_command ````) block per reply, because local servers' tool-call support varies
(vLLM needs parser flags, llama.cpp ``--jinja``, Ollama a tools template) and one fenced block
works on all of them. ``agent_actions = "tools"`` offers mini's ``bash`` function instead: the
reply's tool calls are the actions and each output goes back as a ``tool`` message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from minisweagent.exceptions import FormatError
from minisweagent.models.utils.actions_text import format_observation_messages, parse_regex_actions
from minisweagent.models.utils.actions_toolcall import (
    BASH_TOOL,
    format_toolcall_observation_messages,
    parse_toolcall_actions,
)

from harness.config import AgentActions, Tier
from harness.loop.tier import usage_fields
from harness.names import Strategy
from harness.providers.completion import Completion, Provider, Request
from harness.providers.runaway import repeating
from harness.records.attempts import AttemptRecord
from harness.records.pricing import attempt_cost
from taskset.record import Task

ACTION_REGEX = r"```(?:mswea_bash_command|bash|sh)\s*\n(.*?)\n```"
"""One fenced command block (mini's own fence name, or the ``bash`` fence models write unasked)."""

FORMAT_ERROR = (
    "Format error: {{error}}\n\nReply with a short THOUGHT and then EXACTLY ONE command block:\n\n"
    "```bash\n<command>\n```\n\nWhen you are done, run `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` on its own."
)

FORMAT_ERROR_TOOLS = (
    "Format error: {{error}}\n\nCall the bash tool with one command. When you are done, call it with "
    "`echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` on its own."
)

OBSERVATION = (
    "{% if output.exception_info %}<exception>{{output.exception_info}}</exception>\n{% endif %}"
    "<returncode>{{output.returncode}}</returncode>\n<output>\n{{output.output}}</output>"
)

HIDDEN = "hidden"
"""``extra`` flag on a message kept in the trajectory but never sent again (a runaway reply)."""


class RunawayReply(Exception):
    """The reply stopped at the length limit without a complete action, or repeats itself."""

    def __init__(self, message: dict[str, Any], why: str):
        self.message = message
        self.why = why
        super().__init__(why)


@dataclass
class ProviderModel:
    """mini's Model protocol for one attempt of an agent tier."""

    provider: Provider
    task: Task
    tier: Tier
    seed: int
    attempt: int
    turns: list[Completion]
    """Every completion of the attempt, in order (the instrumentation reads them)."""
    config: dict[str, Any] = field(init=False, default_factory=dict)
    """What mini serialises as the model's config (no keys: only the variable's name)."""

    def __post_init__(self) -> None:
        self.config = {"model_name": self.tier.model, "base_url": self.tier.base_url,
                       "api_key_env": self.tier.api_key_env, "max_output_tokens": self.tier.max_output_tokens,
                       "action_regex": ACTION_REGEX}

    def query(self, messages: Sequence[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        """One turn: the visible history to the provider; the reply with its one action.

        Raises ProviderError (the provider's), RunawayReply, or mini's FormatError.
        """
        sent = _alternating(_wire(m) for m in messages
                            if m.get("role") in ("system", "user", "assistant", "tool")
                            and not m.get("extra", {}).get(HIDDEN))
        tools = (BASH_TOOL,) if self.tools else ()
        completion = self.provider.complete(Request(self.task, self.tier, self.seed * 100 + self.attempt,
                                                    self.attempt, sent, self.tier.max_output_tokens, tools))
        self.turns.append(completion)
        extra = {"finish_reason": completion.finish_reason, "usage": _usage(completion),
                 "latency": completion.latency, "model": completion.model, "cost": self._cost(completion),
                 "timestamp": time.time()}
        message: dict[str, Any] = {"role": "assistant", "content": completion.content, "extra": extra}
        if completion.tool_calls:
            message["tool_calls"] = [{"id": c["id"], "type": "function",
                                      "function": {"name": c["name"], "arguments": c["arguments"]}}
                                     for c in completion.tool_calls]
        if completion.reasoning:
            message["reasoning"] = completion.reasoning
        if completion.finish_reason == "runaway" or repeating(completion.content or completion.reasoning):
            raise RunawayReply(message, "the reply kept repeating itself")
        try:
            actions = self._actions(completion)
        except FormatError as exc:
            if completion.finish_reason == "length":
                raise RunawayReply(message, "the reply reached the output limit without an action") from None
            exc.messages[0]["extra"] |= extra
            raise
        extra["actions"] = actions
        return message

    @property
    def tools(self) -> bool:
        """True when actions are tool calls rather than fenced blocks."""
        return self.tier.agent_actions is AgentActions.TOOLS

    def _actions(self, completion: Completion) -> list[dict]:
        """The reply's commands (mini's parsers); FormatError when there is not exactly one block / no call."""
        context = {"finish_reason": completion.finish_reason}
        if not self.tools:
            return parse_regex_actions(completion.content, action_regex=ACTION_REGEX,
                                       format_error_template=FORMAT_ERROR, template_kwargs=context)
        calls = [SimpleNamespace(id=c["id"], function=SimpleNamespace(name=c["name"], arguments=c["arguments"]))
                 for c in completion.tool_calls]
        return parse_toolcall_actions(calls, format_error_template=FORMAT_ERROR_TOOLS, template_kwargs=context)

    def _cost(self, completion: Completion) -> float:
        """The turn's dollars at the tier's prices, as the report will count them (unknown counts as 0)."""
        turn = AttemptRecord(task=self.task.instance_id, strategy=Strategy.MATRIX, seed=self.seed, tier=self.tier.name,
                             attempt=self.attempt, **usage_fields(completion, completion.latency))
        return attempt_cost(turn, {self.tier.name: self.tier}) or 0.0

    def format_message(self, **kwargs: Any) -> dict[str, Any]:
        """A message dict as mini builds them."""
        return dict(kwargs)

    def format_observation_messages(self, message: dict, outputs: list[dict],
                                    template_vars: dict | None = None) -> list[dict]:
        """Each command's output: a user message (text mode) or a ``tool`` message answering its call."""
        if self.tools:
            return format_toolcall_observation_messages(actions=message.get("extra", {}).get("actions", []),
                                                        outputs=outputs, observation_template=OBSERVATION,
                                                        template_vars=template_vars)
        return format_observation_messages(outputs, observation_template=OBSERVATION, template_vars=template_vars)

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        """Variables the prompts may use."""
        return {"model_name": self.tier.model, "tool_actions": self.tools}

    def serialize(self) -> dict[str, Any]:
        """The model's part of the trajectory's ``info``."""
        return {"info": {"config": {"model": self.config, "model_type": f"{__name__}.{type(self).__name__}"}}}


def _wire(message: dict[str, Any]) -> dict[str, Any]:
    """A history message as the API takes it: role and content, a call's id, an assistant's calls."""
    out = {"role": message["role"], "content": message.get("content") or ""}
    for key in ("tool_calls", "tool_call_id"):
        if message.get(key):
            out[key] = message[key]
    return out


def _alternating(messages: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Consecutive user messages joined into one: a format error or a nudge follows an observation
    as a second user message, and some chat templates (Gemma's, Mistral's) refuse two in a row."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if out and out[-1]["role"] == message["role"] == "user":
            out[-1] = {"role": message["role"], "content": out[-1]["content"] + "\n\n" + message["content"]}
        else:
            out.append(message)
    return tuple(out)


def _usage(completion: Completion) -> dict[str, Any]:
    return {"reported": completion.usage_reported, "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens, "reasoning_tokens": completion.reasoning_tokens,
            "cached_tokens": completion.cached_tokens}
