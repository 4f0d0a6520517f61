"""One tier's attempts on one task, from a clean start: prompt -> model -> edits -> evaluate().

The evaluator decides; the loop only asks, parses, records and feeds back. Every attempt is
judged in a fresh workspace at base_commit (the evaluator makes one per verdict, clearing
bytecode), so no tier inherits another's files, and a retry rewrites from the original files.

An attempt that fails for infrastructure reasons (the model's server, the machine) ends the
tier's run on that task: its record is kept but not final, and the next run retries it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.config import CarryOver, ContextSetting, Tier, TierKind
from harness.errors import AgentUnavailable, Cancelled, ProviderError
from harness.loop.context import context_budget, gold_files, retrieve
from harness.loop.diffs import edits_to_diff
from harness.loop.edits import Candidate, parse_answer, split_reasoning
from harness.loop.prompts import CHARS_PER_TOKEN, Earlier, Prompt, build_prompt, read_files, read_sources, trim_output
from harness.modes import FailureMode, from_verdict
from harness.names import Strategy
from harness.providers.completion import Completion, Provider, Request
from harness.providers.runaway import repeating
from harness.records.attempts import AttemptRecord, Key, RunLog
from taskset.errors import EditRefused, InfraCause, InfrastructureError, PatchError, TasksetError
from taskset.evaluation.junit import Outcome
from taskset.evaluation.verdict import VerdictProblem
from taskset.record import Task

Evaluate = Callable[..., Any]
"""``evaluate(task, *, edits=None, patch=None) -> Verdict`` (taskset.evaluate's signature)."""


class Attempt(Protocol):
    """One attempt of a tier, recorded: ``attempt`` below for edit tiers, the agent's for agent tiers."""

    def __call__(self, ctx: Context, tier: Tier, seed: int, number: int, provider: Provider,
                 history: Sequence[Earlier], strategy: Strategy | None = None) -> tuple[AttemptRecord | None, str]:
        """(the record, the answer text); (None, "") when the run stopped before the verdict."""
        ...


class Gate(Protocol):
    """Asked before each attempt: may it start? (the budget, a stop, a suspended tier)."""

    @property
    def stopping(self) -> bool:
        """True once the run is stopping: answers already paid for are kept but not judged."""
        ...

    def allow(self, tier: Tier) -> bool:
        """False refuses the attempt (the tier's run on this task is then unfinished)."""
        ...


@dataclass(frozen=True)
class TierOutcome:
    """What one tier did on one task and seed: its attempts in order, the last one deciding."""

    task: str
    tier: str
    seed: int
    records: tuple[AttemptRecord, ...]
    stopped: bool = False
    """True when the gate refused an attempt before the tier was done."""
    infra: AttemptRecord | None = None
    """The infrastructure failure that ended the tier's run early (retried on the next run)."""

    @property
    def resolved(self) -> bool:
        """True when an attempt resolved the task."""
        return any(r.resolved for r in self.records)

    @property
    def resolved_at(self) -> int | None:
        """The attempt number that resolved the task, if any."""
        return next((r.attempt for r in self.records if r.resolved), None)

    @property
    def complete(self) -> bool:
        """True when the tier finished (resolved, or used its attempts)."""
        return not self.stopped and self.infra is None


@dataclass(frozen=True)
class Alias:
    """The first ``shared`` attempts of a column are the same requests as another column's.

    local-repair's first attempt is local's first attempt, word for word; the live carry-over
    ladder's first tier is the matrix's. Those attempts are run (or reused) under the other
    column's key, so they are paid for once.
    """

    tier: Tier
    shared: int


@dataclass
class Context:
    """Everything one task's attempts share (built once per task, reused by every tier)."""

    task: Task
    sources: Mapping[str, str]
    evaluate: Evaluate
    log: RunLog | None = None
    strategy: Strategy = Strategy.MATRIX
    gate: Gate | None = None
    originals: dict[str, str | None] = field(default_factory=dict)
    """Files an answer edits that the prompt did not show, read once for the answer's diff."""
    retrieved: dict[tuple, Mapping[str, str]] = field(default_factory=dict)
    """Files each context setting and budget chose for this task (``sources`` is the oracle's)."""
    agent: Attempt | None = None
    """How an agent tier's attempt runs (``harness.agent.attempt.agent_attempt``, wired by the run:
    the agent room sits above this one); None refuses agent tiers."""

    def for_tier(self, tier: Tier) -> Context:
        """This context with ``sources`` as ``tier``'s context setting chooses them (retrieved once per task)."""
        if tier.context is ContextSetting.ORACLE or tier.kind is TierKind.AGENT:
            return self  # agent tiers find their own files
        key = (tier.context, context_budget(self.task, tier))
        if key not in self.retrieved:
            self.retrieved[key] = retrieve(self.task, tier.context, key[1])
        return dataclasses.replace(self, sources=self.retrieved[key])


def run_tier(task: Task, tier: Tier, seed: int = 0, *, evaluate: Evaluate | None = None,
             provider: Provider | None = None, sources: Mapping[str, str] | None = None,
             workdir: str | None = None, max_attempts: int | None = None, agent: Attempt | None = None
             ) -> TierOutcome:
    """Run ``tier``'s attempts on ``task`` from a clean start (the calibration entry point).

    ``evaluate`` defaults to taskset.evaluate; ``sources`` to the gold patch's files read from a
    workspace; with ``workdir`` attempts are recorded there and a rerun resumes; ``agent`` runs an
    agent tier's attempts (``harness.run_tier`` passes harness.agent's). An attempt that
    fails for infrastructure reasons raises taskset's InfrastructureError: it says nothing about
    the tier, so it must not become a label.
    """
    from harness.providers.factory import make_provider

    ctx = Context(task, sources if sources is not None else read_sources(task), evaluate or default_evaluate(),
                  RunLog(workdir) if workdir else None, agent=agent)
    outcome = tier_attempts(ctx, tier, seed, provider or make_provider(tier), max_attempts=max_attempts)
    if outcome.infra is not None:
        record = outcome.infra
        cause = InfraCause.NETWORK if record.failure_mode is not FailureMode.ENV_FAILED else InfraCause.OTHER
        raise InfrastructureError(f"tier {tier.name}: {record.failure_mode.value}: {record.message}", cause=cause)
    return outcome


def tier_attempts(ctx: Context, tier: Tier, seed: int, provider: Provider, *, max_attempts: int | None = None,
                  earlier: Sequence[Earlier] = (), carry_over: CarryOver = CarryOver.NONE,
                  alias: Alias | None = None) -> TierOutcome:
    """The tier's attempts in order until one resolves; recorded ones (resume) are not redone."""
    limit = min(tier.attempts, max_attempts if max_attempts is not None else tier.attempts)
    ctx = ctx.for_tier(alias.tier if alias else tier)
    records: list[AttemptRecord] = []
    mine: list[Earlier] = []
    for number in range(1, limit + 1):
        shared = alias is not None and number <= alias.shared
        asked = alias.tier if shared and alias else tier
        strategy = Strategy.MATRIX if shared else ctx.strategy
        key: Key = (strategy.value, ctx.task.instance_id, seed, asked.name, number)
        record: AttemptRecord | None
        if ctx.log is not None and key in ctx.log:
            record, answer = ctx.log.records[key], ctx.log.answer_text(key)
        else:
            if ctx.gate is not None and not ctx.gate.allow(asked):
                return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records), stopped=True)
            history = _history(tier, mine, earlier, carry_over)
            try:
                record, answer = attempter(ctx, asked)(ctx, asked, seed, number, provider, history, strategy)
            except Cancelled:
                return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records), stopped=True)
            if record is None:  # stopping: the answer is stored, judged by the next run
                return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records), stopped=True)
            if record.infrastructure:
                return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records), infra=record)
        records.append(record)
        if record.resolved:
            break
        mine.append(earlier_from(record, answer))
    return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records))


def attempter(ctx: Context, tier: Tier) -> Attempt:
    """How ``tier``'s attempts run in this context: edits here, an agent loop through ``ctx.agent``."""
    if tier.kind is not TierKind.AGENT:
        return attempt
    if ctx.agent is None:
        raise AgentUnavailable(f"tier {tier.name!r} is an agent tier, and this caller runs edit tiers only")
    return ctx.agent


def earlier_from(record: AttemptRecord, answer: str) -> Earlier:
    """What a later prompt is told about a rejected attempt."""
    reason = record.failure_mode.value + (f" ({record.message})" if record.message else "")
    return Earlier(label=f"{record.tier} attempt {record.attempt}", reason=reason,
                   candidate=split_reasoning(answer)[0], feedback=record.feedback)


def _history(tier: Tier, mine: list[Earlier], earlier: Sequence[Earlier], carry: CarryOver) -> list[Earlier]:
    if carry is CarryOver.NONE:
        return mine[-1:] if tier.feedback else []
    others = [Earlier(e.label, e.reason, e.candidate, e.feedback, same_tier=False) for e in earlier]
    return (others if carry is CarryOver.ALL else []) + list(mine)


def history_shape(tier: Tier, carry: CarryOver, number: int) -> tuple[int, ...]:
    """Which earlier attempts of the same tier attempt ``number``'s prompt shows (for Alias)."""
    if carry is CarryOver.NONE:
        return (number - 1,) if tier.feedback and number > 1 else ()
    return tuple(range(1, number))


def shared_prefix(a: Tier, carry_a: CarryOver, b: Tier, carry_b: CarryOver) -> int:
    """How many leading attempts of tiers ``a`` and ``b`` (same model) send identical requests."""
    count = 0
    for number in range(1, min(a.attempts, b.attempts) + 1):
        if history_shape(a, carry_a, number) != history_shape(b, carry_b, number):
            break
        count = number
    return count


@dataclass
class _Asked:
    completion: Completion | None
    prompt: Prompt
    max_tokens: int
    trims: list[str]
    waited: float
    failure: dict[str, Any] = field(default_factory=dict)


def attempt(ctx: Context, tier: Tier, seed: int, number: int, provider: Provider, history: Sequence[Earlier],
            strategy: Strategy | None = None) -> tuple[AttemptRecord | None, str]:
    """One attempt, recorded (appended and fsync'd) before it is returned.

    Returns (None, "") when the run is stopping before the verdict: the answer, if any, is stored
    and the next run judges it without asking the model again. Raises Cancelled when the stop cut
    the model call.
    """
    started = time.perf_counter()
    strategy = strategy or ctx.strategy
    key: Key = (strategy.value, ctx.task.instance_id, seed, tier.name, number)
    stored = ctx.log.answers.get(key) if ctx.log is not None else None
    prompt = build_prompt(ctx.task, tier, ctx.sources, history)
    if stored is not None:  # paid for by an earlier run that stopped before the verdict
        asked = _Asked(stored.as_completion(), prompt, tier.max_output_tokens, [],
                       stored.completion.get("latency", 0.0))
    elif prompt.overflow:
        asked = _Asked(None, prompt, tier.max_output_tokens, [], 0.0, dict(
            failure_mode=FailureMode.CONTEXT_OVERFLOW,
            message="the prompt exceeds the context window with every file and earlier attempt left out"))
    else:
        asked = _ask(ctx, tier, seed, number, provider, prompt, history)
    completion = asked.completion
    answer = completion.content if completion is not None else ""
    fields = asked.failure
    if completion is not None:
        fields, patch = _read_answer(ctx, tier, completion)
        if ctx.log is not None and stored is None:
            ctx.log.save_answer(key, completion, patch)
        if ctx.gate is not None and ctx.gate.stopping:
            return None, ""
        if "candidate" in fields:
            fields = judge(ctx, fields.pop("candidate"))
    record = AttemptRecord(
        task=ctx.task.instance_id, strategy=strategy, seed=seed, tier=tier.name, attempt=number,
        provider=tier.provider, model_requested=tier.model, edit_format=tier.edit_format, max_tokens=asked.max_tokens,
        prompt_chars=asked.prompt.chars, files_in_prompt=len(asked.prompt.files),
        files_trimmed=len(asked.prompt.dropped),
        history_trimmed=asked.prompt.history_dropped, trims=tuple(asked.trims), paid=tier.paid,
        context=tier.context, gold_files=tuple(gold_files(ctx.task)),
        gold_in_prompt=tuple(p for p in gold_files(ctx.task) if p in asked.prompt.files),
        **usage_fields(completion, asked.waited), **fields, ended_at=time.time())
    overhead = time.perf_counter() - started - record.latency - record.eval_seconds
    record = dataclasses.replace(record, overhead_seconds=max(overhead, 0.0))
    if ctx.log is not None:
        ctx.log.append(record)
    return record, answer


def _ask(ctx: Context, tier: Tier, seed: int, number: int, provider: Provider, prompt: Prompt,
         history: Sequence[Earlier]) -> _Asked:
    """Ask the model; when the server says the prompt is too long, trim it and ask once more."""
    max_tokens, waited = tier.max_output_tokens, 0.0
    trims: list[str] = []
    while True:
        request = Request(ctx.task, tier, seed * 100 + number, number, prompt.messages, max_tokens)
        try:
            completion = provider.complete(request)
            return _Asked(completion, prompt, max_tokens, trims, waited + completion.latency)
        except ProviderError as exc:
            waited += exc.latency
            if exc.mode is FailureMode.CONTEXT_OVERFLOW and not trims:
                budget, smaller_out = _smaller(prompt, exc, max_tokens)
                smaller = build_prompt(ctx.task, tier, ctx.sources, history,
                                       budget_chars=budget, max_tokens=smaller_out)
                trims.append(f"{exc.message[:300]} -> prompt cut from {prompt.chars} to {smaller.chars} characters, "
                             f"max_tokens {max_tokens} -> {smaller_out}")
                if not smaller.overflow and (smaller.chars < prompt.chars or smaller_out < max_tokens):
                    prompt, max_tokens = smaller, smaller_out
                    continue
            failure = dict(failure_mode=exc.mode, message=exc.message,
                           finish_reason=f"http-{exc.status}" if exc.status else exc.mode.value,
                           completion_tokens=exc.completion_tokens, usage_reported=False)
            return _Asked(None, prompt, max_tokens, trims, waited, failure)


def _smaller(prompt: Prompt, exc: ProviderError, max_tokens: int) -> tuple[float, int]:
    """(prompt budget in characters, completion budget) for the retry, from the figures the server gave."""
    if not exc.limit:
        return prompt.chars * 0.5, max_tokens
    out = max_tokens if max_tokens <= exc.limit // 2 else max(exc.limit // 4, 1)
    per_token = prompt.chars / exc.requested if exc.requested else CHARS_PER_TOKEN
    return (exc.limit - out) * per_token * 0.9, out


def _read_answer(ctx: Context, tier: Tier, completion: Completion) -> tuple[dict[str, Any], str]:
    """(fields, patch): a failure mode for an unusable answer, else ``candidate`` to evaluate."""
    finish = completion.finish_reason
    if finish == "runaway" or (finish == "length" and repeating(completion.content or completion.reasoning)):
        message = f"the answer kept repeating itself; stopped after {completion.completion_tokens} tokens"
        return dict(failure_mode=FailureMode.RUNAWAY, message=message), ""
    candidate = parse_answer(completion.content, tier.edit_format, ctx.sources)
    if not candidate.usable:
        mode = FailureMode.TRUNCATED if finish == "length" else candidate.failure
        return dict(failure_mode=mode, message=candidate.message), ""
    return dict(candidate=candidate), _patch_of(ctx, candidate)


def _patch_of(ctx: Context, candidate: Candidate) -> str:
    """The candidate as a git diff (a SWE-bench prediction's ``model_patch``)."""
    if candidate.patch:
        return candidate.patch
    unseen = [p for p in candidate.edits if p not in ctx.sources and p not in ctx.originals]
    if unseen:
        try:
            ctx.originals.update(read_files(ctx.task, unseen))
        except (TasksetError, OSError):
            ctx.originals.update({p: None for p in unseen})
    originals = {**ctx.originals, **ctx.sources}
    return edits_to_diff(originals, candidate.edits)


def judge(ctx: Context, candidate: Candidate) -> dict[str, Any]:
    """The evaluator's verdict on a candidate as record fields (a refusal or an infrastructure failure too)."""
    started = time.perf_counter()
    kwargs = {"patch": candidate.patch} if candidate.patch else {"edits": candidate.edits}

    def took() -> float:
        return time.perf_counter() - started

    try:
        verdict = ctx.evaluate(ctx.task, **kwargs)
    except EditRefused as exc:
        problem = VerdictProblem(exc.kind)
        return dict(failure_mode=from_verdict(problem), verdict=problem, message=str(exc), eval_seconds=took())
    except PatchError as exc:
        return dict(failure_mode=FailureMode.PATCH_DOES_NOT_APPLY, verdict=VerdictProblem.PATCH_DOES_NOT_APPLY,
                    message=str(exc)[:500], eval_seconds=took())
    except TasksetError as exc:  # InfrastructureError, or a task that cannot be materialised: not the model
        return dict(failure_mode=FailureMode.ENV_FAILED, message=f"{type(exc).__name__}: {exc}"[:500],
                    eval_seconds=took())
    problem = VerdictProblem(verdict.problem)
    mode = FailureMode.RESOLVED if verdict.resolved else from_verdict(problem)
    f2p, p2p = _counts(verdict.fail_to_pass), _counts(verdict.pass_to_pass)
    return dict(failure_mode=mode, verdict=problem, f2p_passed=f2p[0], f2p_total=f2p[1], p2p_passed=p2p[0],
                p2p_total=p2p[1], message=(getattr(verdict, "message", "") or "")[:500],
                feedback="" if verdict.resolved else trim_output(getattr(verdict, "feedback", "") or ""),
                eval_seconds=took(), env_checked=True)


def usage_fields(completion: Completion | None, waited: float) -> dict[str, Any]:
    """A completion's usage, latency and stop reason as record fields."""
    if completion is None:
        return dict(latency=waited)
    return dict(model_answered=completion.model, usage_reported=completion.usage_reported,
                prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                reasoning_tokens=completion.reasoning_tokens, cached_tokens=completion.cached_tokens,
                billed_cost=completion.billed_cost, latency=waited, ttft=completion.ttft,
                tokens_per_second=completion.tokens_per_second, finish_reason=completion.finish_reason,
                retries=completion.retries)


def _counts(outcomes: Mapping[str, Any]) -> tuple[int, int]:
    passed = sum(1 for o in outcomes.values() if Outcome(getattr(o, "value", o)) is Outcome.PASSED)
    return passed, len(outcomes)


def default_evaluate() -> Evaluate:
    """taskset.evaluate, imported when first needed (it pulls in the environment machinery)."""
    from taskset.evaluation.verdict import evaluate

    return evaluate
