"""Tiers and run-wide settings from TOML: built-in defaults, then ./loopctl.toml or --config.

Tables merge key by key over the defaults, so a user file may change one price and nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

LOCAL_CONFIG = "loopctl.toml"


class ProviderKind(str, enum.Enum):
    """Who answers a tier's prompts."""

    OPENAI = "openai"
    ORACLE = "oracle"
    REPLAY = "replay"


class EditFormat(str, enum.Enum):
    """The shape a tier is asked to answer in."""

    FILES = "files"
    DIFF = "diff"
    SEARCH_REPLACE = "search-replace"


class ContextSetting(str, enum.Enum):
    """Which repository files an edit tier's prompt shows (harness.loop.context)."""

    ORACLE = "oracle"
    """The files the gold patch touches: an upper bound no user has, never the default."""
    TRACEBACK = "traceback"
    """Files named in the failing tests' output, then the project modules the failing tests import."""
    BM25 = "bm25"
    """The repository's source files ranked by BM25 against the problem statement and the failing output."""


DEFAULT_CONTEXT = ContextSetting.BM25
"""The setting a tier gets when neither the config nor --context names one (measured: docs/performance.md)."""
class TierKind(str, enum.Enum):
    """How a tier works on a task: one prompt answered with edits, or a shell turn by turn."""

    EDIT = "edit"
    AGENT = "agent"


class AgentActions(str, enum.Enum):
    """How an agent tier's model gives its commands."""

    TEXT = "text"
    """One fenced ``bash`` block per reply: works on every chat server."""
    TOOLS = "tools"
    """Chat-completions tool calls to a ``bash`` function (the server must support tools)."""


class CarryOver(str, enum.Enum):
    """Which earlier failures a new attempt's prompt is told about."""

    NONE = "none"
    SAME_TIER = "same-tier"
    ALL = "all"


@dataclass(frozen=True)
class Tier:
    """One rung of the ladder: a model behind a provider, with its budget and prices."""

    name: str
    """The tier's name in the config and in records (``local``, ``o3``)."""
    provider: ProviderKind = ProviderKind.OPENAI
    """``openai`` (any chat-completions server), ``oracle`` (gold patch) or ``replay`` (JSONL file)."""
    model: str = ""
    """The model asked for; records also keep the model the API says answered."""
    base_url: str = ""
    """The chat-completions endpoint's base URL (``.../v1``)."""
    api_key_env: str = ""
    """The environment variable holding the API key; the key itself is never stored."""
    attempts: int = 1
    """Attempts this tier gets on a task before the ladder escalates."""
    feedback: bool = False
    """Feed the evaluator's failing-test output to the tier's next attempt."""
    context_window: int = 32768
    """Tokens the model accepts; longer prompts are trimmed, least relevant files first."""
    max_output_tokens: int = 4096
    """Completion budget, reserved out of the context window."""
    max_tokens_param: str = "max_completion_tokens"
    """The request field carrying the budget (older servers want ``max_tokens``)."""
    temperature: float | None = None
    """Sampling temperature; None leaves it out (reasoning models reject it)."""
    price_input: float | None = None
    """Dollars per million prompt tokens; None = unknown (reported as such, never as zero)."""
    price_output: float | None = None
    """Dollars per million completion tokens (reasoning tokens are billed as completion)."""
    price_cached_input: float | None = None
    """Dollars per million prompt tokens the server served from its cache; None = the input price."""
    cost_per_hour: float = 0.0
    """Dollars per hour of the machine serving a local model, charged by latency."""
    edit_format: EditFormat = EditFormat.SEARCH_REPLACE
    """The answer format the prompt asks for."""
    timeout: float = 600.0
    """Seconds one model call may take in all, streamed or not, its retries included."""
    max_retries: int = 3
    """Retries on 408/409/429/5xx and connection errors, while time is left; Retry-After is honoured."""
    stream: bool = False
    """Stream the answer, which measures time to first token."""
    replay_file: str = ""
    """For ``replay``: the JSONL file of answers."""
    context: ContextSetting = DEFAULT_CONTEXT
    """Which files the prompt shows: ``bm25`` (default), ``traceback`` or ``oracle`` (the gold patch's files)."""
    context_tokens: int = 12000
    """Tokens of retrieved files ``bm25`` and ``traceback`` may fill (never more than the window leaves)."""
    kind: TierKind = TierKind.EDIT
    """``edit`` (one prompt, edits back) or ``agent`` (a shell in the sandboxed workspace, turn by turn)."""
    agent_turns: int = 30
    """Agent tiers: model calls an attempt may make before it ends as ``turns``."""
    agent_wall_time: float = 0.0
    """Agent tiers: seconds an attempt may take; 0 = 20 times the task's test time limit."""
    agent_command_timeout: float = 0.0
    """Agent tiers: seconds one command may take; 0 = the task's test time limit (from calibration)."""
    agent_max_cost: float = 0.0
    """Agent tiers: dollars one attempt may spend at the tier's prices before it ends as ``cost``; 0 = no limit."""
    agent_output_cap: int = 10_000
    """Agent tiers: characters of a command's output the model sees (head and tail)."""
    server_context_window: int = 0
    """Agent tiers: the server's real context (0 = unknown); ``context_window`` must stay below it."""
    compact_at: float = 0.8
    """Agent tiers: the share of ``context_window`` at which the history is compacted into a summary."""
    max_runaways: int = 2
    """Agent tiers: runaway replies in a row (length stop or repetition) that end the attempt as ``runaway``."""
    agent_actions: AgentActions = AgentActions.TEXT
    """Agent tiers: ``text`` (a fenced bash block per reply) or ``tools`` (tool calls; not with ``stream``)."""
    verify_before_done: bool = False
    """Agent tiers: the prompt asks to run the failing tests and see them pass before declaring done."""

    @property
    def priced(self) -> bool:
        """True when both token prices are known."""
        return self.price_input is not None and self.price_output is not None

    @property
    def paid(self) -> bool:
        """A cloud tier: a token price above zero, or an unknown price."""
        return not self.priced or (self.price_input or 0) > 0 or (self.price_output or 0) > 0

    def public(self) -> dict[str, Any]:
        """The tier as a JSON-ready dict (names of key variables only, never keys)."""
        data = dataclasses.asdict(self)
        return {k: v.value if isinstance(v, enum.Enum) else v for k, v in data.items()}

    def fingerprint(self) -> tuple:
        """What makes two tiers the same experiment: everything but prices and client plumbing."""
        # an edit tier's fingerprint is what it was before agent tiers existed: old run dirs still resume
        agent = (self.kind.value, self.agent_turns, self.compact_at, self.max_runaways, self.verify_before_done,
                 self.agent_actions.value) if self.kind is TierKind.AGENT else ()
        return (self.name, self.provider.value, self.model, self.base_url, self.attempts, self.feedback,
                self.edit_format.value, self.temperature, self.max_output_tokens, self.context.value,
                self.context_tokens, *agent)


@dataclass(frozen=True)
class HarnessConfig:
    """Every tier known to a config, plus run-wide limits."""

    tiers: Mapping[str, Tier] = field(default_factory=dict)
    """All tiers by name (the run uses the ones --tiers names, in that order)."""
    max_attempts: int = 8
    """Global cap on attempts per task across the whole ladder."""
    carry_over: CarryOver = CarryOver.NONE
    """Which earlier failures new prompts see; ``all`` needs live ladder runs."""
    source: str = "<defaults>"
    """Where the overrides came from, for messages."""

    def select(self, names: Sequence[str]) -> list[Tier]:
        """The named tiers in ladder order; an unknown name is a ConfigError listing the known ones."""
        if not names:
            raise ConfigError(self.source, "tiers", "no tiers named")
        out = []
        for spec in names:
            name, _, kind = spec.partition(":")
            if name not in self.tiers:
                known = ", ".join(sorted(self.tiers))
                raise ConfigError(self.source, f"tiers.{name}", f"unknown tier (known: {known})")
            tier = self.tiers[name]
            if kind:  # ``local:agent``: the tier as the other kind, under its own name in records
                try:
                    tier = dataclasses.replace(tier, name=spec, kind=TierKind(kind))
                except ValueError:
                    raise ConfigError(self.source, f"tiers.{spec}", "unknown kind (expected edit or agent)") from None
            out.append(tier)
        return out


def load_config(path: str | Path | None = None, *, cwd: str | Path | None = None) -> HarnessConfig:
    """Defaults merged with ``path``, else with ``loopctl.toml`` in ``cwd`` when it exists."""
    data = tomllib.loads(resources.files("harness").joinpath("defaults.toml").read_text("utf-8"))
    source = "<defaults>"
    if path is None:
        local = Path(cwd or ".") / LOCAL_CONFIG
        path = local if local.is_file() else None
    if path is not None:
        source = str(path)
        data = _merge(data, _read(Path(path)))
    return _build(data, source)


def load_tiers(names: Sequence[str], config_path: str | Path | None = None) -> list[Tier]:
    """The named tiers, in order, from the defaults merged with ``config_path`` (or loopctl.toml)."""
    return load_config(config_path).select(list(names))


def with_context(tiers: Sequence[Tier], setting: str | ContextSetting | None) -> list[Tier]:
    """The tiers with their context setting replaced by ``setting`` (None keeps each tier's own)."""
    if setting is None:
        return list(tiers)
    return [dataclasses.replace(t, context=ContextSetting(setting)) for t in tiers]


def price_warnings(tiers: Sequence[Tier]) -> list[str]:
    """One line per tier whose cost will be reported as unknown."""
    return [f"tier {t.name!r} has no price: its cost is reported as unknown" for t in tiers if not t.priced]


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), "<file>", f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "<toml>", str(exc)) from None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _settable(kind: Any) -> Any:
    """The type a config value must have for a field typed ``kind`` (``float | None`` takes a float)."""
    args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    return args[0] if len(args) == 1 else kind


_FIELDS = {f.name: f for f in dataclasses.fields(Tier) if f.name != "name"}
_KINDS: dict[str, Any] = {name: _settable(kind) for name, kind in typing.get_type_hints(Tier).items() if name != "name"}
"""Each config key's type, read from ``Tier`` itself so a new field needs no second table here."""


def _build(data: Mapping[str, Any], source: str) -> HarnessConfig:
    unknown = set(data) - {"harness", "tiers"}
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], "unknown section (expected [harness] or [tiers.NAME])")
    run = data.get("harness", {})
    tiers = {name: _tier(name, table, source) for name, table in data.get("tiers", {}).items()}
    try:
        carry = CarryOver(run.get("carry_over", "none"))
    except ValueError:
        raise ConfigError(source, "harness.carry_over", "expected none, same-tier or all") from None
    cap = run.get("max_attempts", 8)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        raise ConfigError(source, "harness.max_attempts", "expected a positive integer")
    return HarnessConfig(tiers=tiers, max_attempts=cap, carry_over=carry, source=source)


def _tier(name: str, table: Any, source: str) -> Tier:
    if not isinstance(table, Mapping):
        raise ConfigError(source, f"tiers.{name}", "expected a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"tiers.{name}.{key}"
        if key not in _FIELDS:
            raise ConfigError(source, where, f"unknown key (known: {', '.join(sorted(_FIELDS))})")
        values[key] = _value(key, value, where, source)
    tier = Tier(name=name, **values)
    if tier.attempts < 1:
        raise ConfigError(source, f"tiers.{name}.attempts", "must be at least 1")
    if tier.provider is ProviderKind.OPENAI and not (tier.model and tier.base_url):
        raise ConfigError(source, f"tiers.{name}", "an openai tier needs model and base_url")
    if tier.server_context_window and tier.context_window >= tier.server_context_window:
        # the declared window is what compaction aims below; at the server's own size the server
        # refuses first and the attempt would be lost to the hard context error
        raise ConfigError(source, f"tiers.{name}.context_window", f"{tier.context_window} must be below "
                          f"server_context_window ({tier.server_context_window}): leave headroom")
    if tier.agent_actions is AgentActions.TOOLS and tier.stream:
        raise ConfigError(source, f"tiers.{name}.agent_actions", "tool calls are read from whole replies: "
                          "set stream = false, or agent_actions = \"text\"")
    if not 0 < tier.compact_at <= 1:
        raise ConfigError(source, f"tiers.{name}.compact_at", "expected a share above 0 and at most 1")
    return tier


def _value(key: str, value: Any, where: str, source: str) -> Any:
    kind = _KINDS[key]
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise ConfigError(source, where, f"unknown value {value!r} (expected {allowed})") from None
    if kind is float:
        # an int is a number too (``timeout = 30``); a bool is not, though Python says it is an int
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(source, where, "expected a non-negative number")
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(source, where, f"expected {kind.__name__}, got {type(value).__name__}")
    return value
