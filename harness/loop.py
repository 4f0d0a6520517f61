"""One tier's attempts on one task, from a clean start: prompt -> model -> edits -> evaluate().

The evaluator decides; the loop only asks, parses, records and feeds back. Every attempt is
judged in a fresh workspace at base_commit (the evaluator makes one per verdict, clearing
bytecode), so no tier inherits another's files, and a retry rewrites from the original files.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from taskset.errors import EditRefused, PatchError, TasksetError
from taskset.record import Task

from harness.config import CarryOver, Tier
from harness.edits import Candidate, parse_answer
from harness.errors import ProviderError
from harness.modes import FailureMode, from_verdict
from harness.prompts import Earlier, Prompt, build_prompt, read_sources, trim_output
from harness.providers import Completion, Provider, Request, make_provider
from harness.records import MATRIX, AttemptRecord, RunLog

Evaluate = Callable[..., Any]
"""``evaluate(task, *, edits=None, patch=None) -> Verdict`` (taskset.evaluate's signature)."""
Allow = Callable[[Tier], bool]
"""Asked before each attempt starts; False stops the tier (the --max-cost budget)."""


@dataclass(frozen=True)
class TierOutcome:
    """What one tier did on one task and seed: its attempts in order, the last one deciding."""

    task: str
    tier: str
    seed: int
    records: tuple[AttemptRecord, ...]
    stopped: bool = False
    """True when the budget refused an attempt before the tier was done."""

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
        """True when the tier finished (resolved, or used its attempts) rather than being stopped."""
        return not self.stopped


@dataclass
class Context:
    """Everything one task's attempts share (built once per task, reused by every tier)."""

    task: Task
    sources: Mapping[str, str]
    evaluate: Evaluate
    log: RunLog | None = None
    strategy: str = MATRIX
    allow: Allow | None = None


def run_tier(task: Task, tier: Tier, seed: int = 0, *, evaluate: Evaluate | None = None,
             provider: Provider | None = None, sources: Mapping[str, str] | None = None,
             workdir: str | None = None, max_attempts: int | None = None) -> TierOutcome:
    """Run ``tier``'s attempts on ``task`` from a clean start (the calibration entry point).

    ``evaluate`` defaults to taskset.evaluate; ``sources`` to the gold patch's files read from a
    workspace; with ``workdir`` attempts are recorded there and a rerun resumes.
    """
    ctx = Context(task, sources if sources is not None else read_sources(task), evaluate or _default_evaluate(),
                  RunLog(workdir) if workdir else None)
    return tier_attempts(ctx, tier, seed, provider or make_provider(tier), max_attempts=max_attempts)


def tier_attempts(ctx: Context, tier: Tier, seed: int, provider: Provider, *, max_attempts: int | None = None,
                  earlier: Sequence[Earlier] = (), carry_over: CarryOver = CarryOver.NONE) -> TierOutcome:
    """The tier's attempts in order until one resolves; recorded ones (resume) are not redone."""
    limit = min(tier.attempts, max_attempts if max_attempts is not None else tier.attempts)
    records: list[AttemptRecord] = []
    mine: list[Earlier] = []
    for number in range(1, limit + 1):
        key = (ctx.strategy, ctx.task.instance_id, seed, tier.name, number)
        if ctx.log is not None and key in ctx.log:
            record, answer = ctx.log.records[key], ctx.log.answers.get(key, "")
        else:
            if ctx.allow is not None and not ctx.allow(tier):
                return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records), stopped=True)
            history = _history(tier, mine, earlier, carry_over)
            record, answer = attempt(ctx, tier, seed, number, provider, history)
        records.append(record)
        if record.resolved:
            break
        mine.append(earlier_from(record, answer))
    return TierOutcome(ctx.task.instance_id, tier.name, seed, tuple(records))


def earlier_from(record: AttemptRecord, answer: str) -> Earlier:
    """What a later prompt is told about a rejected attempt."""
    reason = record.failure_mode.value + (f" ({record.message})" if record.message else "")
    return Earlier(label=f"{record.tier} attempt {record.attempt}", reason=reason, candidate=answer,
                   feedback=record.feedback)


def _history(tier: Tier, mine: list[Earlier], earlier: Sequence[Earlier], carry: CarryOver) -> list[Earlier]:
    if carry is CarryOver.NONE:
        return mine[-1:] if tier.feedback else []
    others = [Earlier(e.label, e.reason, e.candidate, e.feedback, same_tier=False) for e in earlier]
    return (others if carry is CarryOver.ALL else []) + list(mine)


def attempt(ctx: Context, tier: Tier, seed: int, number: int, provider: Provider,
            history: Sequence[Earlier]) -> tuple[AttemptRecord, str]:
    """One attempt, recorded (appended and fsync'd) before it is returned."""
    started = time.perf_counter()
    prompt = build_prompt(ctx.task, tier, ctx.sources, history)
    base = dict(task=ctx.task.instance_id, strategy=ctx.strategy, seed=seed, tier=tier.name, attempt=number,
                provider=tier.provider.value, model_requested=tier.model, edit_format=tier.edit_format.value,
                prompt_chars=prompt.chars, files_in_prompt=len(prompt.files), files_trimmed=len(prompt.dropped),
                paid=tier.paid)
    answer, completion, fields = "", None, {}
    if prompt.overflow:
        fields = dict(failure_mode=FailureMode.CONTEXT_OVERFLOW, message="prompt exceeds the context window even with no files")
    else:
        try:
            completion = provider.complete(Request(ctx.task, tier, seed * 100 + number, number, prompt.messages))
            answer = completion.content
            fields = _judge(ctx, tier, completion)
        except ProviderError as exc:
            fields = dict(failure_mode=FailureMode(exc.mode), message=exc.message)
    record = AttemptRecord(**base, **_usage(completion), **fields, ended_at=time.time(),
                           overhead_seconds=0.0)
    overhead = time.perf_counter() - started - record.latency - record.eval_seconds
    record = _replace(record, overhead_seconds=max(overhead, 0.0))
    if ctx.log is not None:
        ctx.log.append(record, answer if completion is not None else None)
    return record, answer


def _judge(ctx: Context, tier: Tier, completion: Completion) -> dict[str, Any]:
    candidate = parse_answer(completion.content, tier.edit_format, ctx.sources)
    if not candidate.usable:
        mode = candidate.failure
        if completion.finish_reason == "length":
            mode = FailureMode.TRUNCATED  # the answer was cut, which is why it does not parse
        return dict(failure_mode=mode, message=candidate.message)
    return _evaluate(ctx, candidate)


def _evaluate(ctx: Context, candidate: Candidate) -> dict[str, Any]:
    started = time.perf_counter()
    kwargs = {"patch": candidate.patch} if candidate.patch else {"edits": candidate.edits}
    try:
        verdict = ctx.evaluate(ctx.task, **kwargs)
    except EditRefused as exc:
        return dict(failure_mode=FailureMode(exc.kind), verdict=exc.kind, message=str(exc),
                    eval_seconds=time.perf_counter() - started)
    except PatchError as exc:
        return dict(failure_mode=FailureMode.PATCH_DOES_NOT_APPLY, verdict="patch-does-not-apply",
                    message=str(exc)[:500], eval_seconds=time.perf_counter() - started)
    except TasksetError as exc:
        return dict(failure_mode=FailureMode.ENV_FAILED, verdict="env-failed", message=str(exc)[:500],
                    eval_seconds=time.perf_counter() - started)
    problem = _value(verdict.problem)
    mode = FailureMode.RESOLVED if verdict.resolved else from_verdict(problem)
    f2p, p2p = _counts(verdict.fail_to_pass), _counts(verdict.pass_to_pass)
    return dict(failure_mode=mode, verdict=problem, f2p_passed=f2p[0], f2p_total=f2p[1], p2p_passed=p2p[0],
                p2p_total=p2p[1], message=(getattr(verdict, "message", "") or "")[:500],
                feedback="" if verdict.resolved else trim_output(getattr(verdict, "feedback", "") or ""),
                eval_seconds=time.perf_counter() - started)


def _usage(completion: Completion | None) -> dict[str, Any]:
    if completion is None:
        return {}
    return dict(model_answered=completion.model, prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens, reasoning_tokens=completion.reasoning_tokens,
                billed_cost=completion.billed_cost, latency=completion.latency, ttft=completion.ttft,
                finish_reason=completion.finish_reason)


def _counts(outcomes: Mapping[str, Any]) -> tuple[int, int]:
    return sum(1 for o in outcomes.values() if _value(o) == "passed"), len(outcomes)


def _value(value: Any) -> str:
    return str(getattr(value, "value", value))


def _replace(record: AttemptRecord, **changes: Any) -> AttemptRecord:
    return dataclasses.replace(record, **changes)


def _default_evaluate() -> Evaluate:
    from taskset.evaluate import evaluate

    return evaluate
