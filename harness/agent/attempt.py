"""One attempt of an agent tier: a workspace, the loop, the workspace's diff, the evaluator, the record.

    Workspace.for_task (base commit + test patch) and the task's environment
      -> LoopctlAgent turn by turn, every command in the sandbox (harness.agent.shell)
      -> the workspace's diff, test files left out (what the agent did to them is undone)
      -> stored in answers.jsonl before it is judged (a stop here costs no second trajectory)
      -> judged by the evaluator exactly as an edit tier's candidate (a fresh workspace, test
         files restored, sandboxed)
      -> one AttemptRecord with the turn-by-turn figures (``AgentStats``) and the trajectory
         saved under ``trajectories/`` in the run directory

A model server that fails for good, or an environment that cannot be built, is an infrastructure
record (retried on the next run); a run that stops mid-trajectory records nothing and the next
run starts the attempt again.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from harness.agent.loop import LoopctlAgent
from harness.agent.model import ProviderModel
from harness.agent.shell import SandboxShell
from harness.config import Tier
from harness.errors import ProviderError
from harness.loop.edits import Candidate
from harness.loop.prompts import Earlier
from harness.loop.tier import Context, judge, usage_fields
from harness.modes import FailureMode
from harness.names import Strategy
from harness.providers.completion import Completion, Provider
from harness.records.agentstats import AgentStats
from harness.records.attempts import AttemptRecord, Key
from taskset.errors import TasksetError
from taskset.evaluation.verdict import time_limit
from taskset.files import tempdirs
from taskset.workspace.diffpaths import patch_paths
from taskset.workspace.workspace import Workspace

WALL_FACTOR = 20
"""An attempt's default wall time: this many times the task's test time limit."""

EXIT_STATUS = {"Submitted": "submitted", "RepeatedFormatError": "format-errors"}
"""mini's exit statuses in our words (ours pass through: turns, wall-time, runaway, context-overflow)."""

ENDS_AS = {"runaway": FailureMode.RUNAWAY, "context-overflow": FailureMode.CONTEXT_OVERFLOW}
"""Loop endings that are the attempt's failure mode unless the evaluator resolves its tree anyway."""


@dataclass
class _Ran:
    completion: Completion
    diff: str
    stats: AgentStats


def agent_attempt(ctx: Context, tier: Tier, seed: int, number: int, provider: Provider, history: Sequence[Earlier],
                  strategy: Strategy | None = None) -> tuple[AttemptRecord | None, str]:
    """One agent attempt, recorded (the ``harness.loop.tier.Attempt`` seam for agent tiers)."""
    started = time.perf_counter()
    strategy = strategy or ctx.strategy
    key: Key = (strategy.value, ctx.task.instance_id, seed, tier.name, number)
    relative = trajectory_path(key)
    stored = ctx.log.answers.get(key) if ctx.log is not None else None
    if stored is not None:  # the loop finished in an earlier run that stopped before the verdict
        ran = _Ran(stored.as_completion(), stored.patch, _stored_stats(ctx, relative))
    else:
        try:
            ran = _run_loop(ctx, tier, seed, number, provider, history, relative)
        except ProviderError as exc:
            return _record(ctx, tier, key, started, None, AgentStats(exit_status=exc.mode.value, trajectory=relative),
                           dict(failure_mode=exc.mode, message=exc.message, latency=exc.latency)), ""
        except (TasksetError, OSError) as exc:  # the environment or the machine: never the model's
            return _record(ctx, tier, key, started, None, AgentStats(exit_status="env-failed", trajectory=relative),
                           dict(failure_mode=FailureMode.ENV_FAILED, message=f"{type(exc).__name__}: {exc}"[:500])), ""
        if ctx.log is not None:
            ctx.log.save_answer(key, ran.completion, ran.diff)
    if ctx.gate is not None and ctx.gate.stopping:
        return None, ""
    fields = judge(ctx, Candidate(patch=ran.diff))
    ending = ENDS_AS.get(ran.stats.exit_status)
    if ending is not None and fields["failure_mode"] is not FailureMode.RESOLVED:
        fields["failure_mode"] = ending
    return _record(ctx, tier, key, started, ran.completion, ran.stats, fields), ran.completion.content


def trajectory_path(key: Key) -> str:
    """Where an attempt's trajectory is saved, relative to the run directory."""
    strategy, task, seed, tier, number = key
    name = re.sub(r"[^A-Za-z0-9._-]", "_", tier)  # ``local:agent`` would read as a URL scheme in a link
    return f"trajectories/{strategy}/{task}/{name}-s{seed}-a{number}.traj.json"


def _record(ctx: Context, tier: Tier, key: Key, started: float, completion: Completion | None, stats: AgentStats,
            fields: dict[str, Any]) -> AttemptRecord:
    strategy, task, seed, _, number = key
    waited = fields.pop("latency", completion.latency if completion is not None else 0.0)
    record = AttemptRecord(task=task, strategy=Strategy(strategy), seed=seed, tier=tier.name, attempt=number,
                           provider=tier.provider, model_requested=tier.model, edit_format=tier.edit_format,
                           max_tokens=tier.max_output_tokens, paid=tier.paid, agent=stats,
                           **usage_fields(completion, waited), **fields, ended_at=time.time())
    overhead = time.perf_counter() - started - record.latency - record.eval_seconds - stats.command_seconds
    record = dataclasses.replace(record, overhead_seconds=max(overhead, 0.0))
    if ctx.log is not None:
        ctx.log.append(record)
    return record


def _run_loop(ctx: Context, tier: Tier, seed: int, number: int, provider: Provider, history: Sequence[Earlier],
              relative: str) -> _Ran:
    """The loop in a fresh workspace; raises ProviderError (a failed server) and Cancelled (a stop)."""
    from taskset.env.environment import environment_for  # pulls in uv and filelock: only when an agent runs

    task = ctx.task
    path = ctx.log.root / relative if ctx.log is not None else None
    limit = time_limit(task)
    with Workspace.for_task(task) as ws:
        env = environment_for(task, ws.path)
        home, tmp = tempdirs.make("agent-home"), tempdirs.make("agent-tmp")
        try:
            shell = SandboxShell(env, ws.path, home, tmp, tuple(task.environment.pythonpath or (".",)),
                                 tier.agent_command_timeout or limit, tier.agent_output_cap,
                                 tuple(task.FAIL_TO_PASS))
            model = ProviderModel(provider, task, tier, seed, number, [])
            text = _task_text(ctx, history)
            agent = LoopctlAgent(
                model, shell, tier=tier, task_text=text, changed_files=lambda: changed_files(ws),
                stopping=lambda: ctx.gate is not None and ctx.gate.stopping,
                system_template=_template("agent_system.j2"), instance_template=_template("agent_instance.j2"),
                step_limit=tier.agent_turns, cost_limit=0,
                wall_time_limit_seconds=int(tier.agent_wall_time or WALL_FACTOR * limit), output_path=path)
            clock = time.monotonic()
            try:
                agent.run(text, failing_tests=list(task.FAIL_TO_PASS), verify_before_done=tier.verify_before_done)
            finally:  # a failed or stopped loop keeps its trajectory, figures included
                stats = _stats(agent, model, shell, time.monotonic() - clock, relative)
                agent.save(path, {"info": {"loopctl": stats.to_dict()}})
            diff = source_diff(ws)
        finally:
            tempdirs.remove(home)
            tempdirs.remove(tmp)
    return _Ran(_summed(model.turns, stats), diff, stats)


def source_diff(ws: Workspace) -> str:
    """The workspace's changes less every test file (the test patch's and any the conventions call tests)."""
    diff = ws.diff(exclude_tests=True)
    sections = ["diff --git" + part for part in diff.split("diff --git")[1:]]
    return "".join(s for s in sections if not any(ws.is_protected(p) for p in patch_paths(s)))


def changed_files(ws: Workspace) -> list[str]:
    """Paths the agent has changed so far (test files included: the summary shows all of its work)."""
    return sorted(set(patch_paths(ws.diff())))


def _task_text(ctx: Context, history: Sequence[Earlier]) -> str:
    text = ctx.task.problem_statement.strip()
    for earlier in history:  # feedback: what the evaluator said about this tier's last attempt
        text += f"\n\nAn earlier attempt ({earlier.label}) was rejected: {earlier.reason}"
        if earlier.feedback:
            text += f"\nThe evaluator's test output:\n{earlier.feedback}"
    return text


def _template(name: str) -> str:
    return resources.files("harness").joinpath("templates", name).read_text(encoding="utf-8")


def _stats(agent: LoopctlAgent, model: ProviderModel, shell: SandboxShell, seconds: float,
           relative: str) -> AgentStats:
    last = agent.messages[-1] if agent.messages else {}
    status = last.get("extra", {}).get("exit_status", "") if last.get("role") == "exit" else ""
    turns = model.turns
    return AgentStats(
        exit_status=EXIT_STATUS.get(status, status), turns=agent.n_calls, commands=shell.counts.commands,
        test_runs=shell.counts.test_runs, failing_tests_run=shell.counts.failing_tests_run,
        declared_done=status == "Submitted", runaways=agent.runaways,
        compactions_threshold=agent.compactions["threshold"], compactions_overflow=agent.compactions["overflow"],
        peak_prompt_tokens=max((t.prompt_tokens for t in turns), default=0),
        max_completion_tokens=max((t.completion_tokens for t in turns), default=0),
        max_reasoning_tokens=max((t.reasoning_tokens for t in turns), default=0),
        max_text_tokens=max((t.completion_tokens - t.reasoning_tokens for t in turns), default=0),
        stop_reasons=dict(Counter(t.finish_reason or "none" for t in turns)),
        command_timeouts=shell.counts.timeouts, wall_seconds=round(seconds, 3),
        command_seconds=round(shell.counts.seconds, 3), trajectory=relative)


def _summed(turns: list[Completion], stats: AgentStats) -> Completion:
    """The attempt's calls as one Completion: tokens and latency summed (cost is per token)."""
    billed = [t.billed_cost for t in turns if t.billed_cost is not None]
    return Completion(
        content=f"agent {stats.exit_status or 'ended'} after {stats.turns} turns, {stats.commands} commands",
        model=next((t.model for t in reversed(turns) if t.model), ""),
        usage_reported=bool(turns) and all(t.usage_reported for t in turns),
        prompt_tokens=sum(t.prompt_tokens for t in turns), completion_tokens=sum(t.completion_tokens for t in turns),
        reasoning_tokens=sum(t.reasoning_tokens for t in turns), cached_tokens=sum(t.cached_tokens for t in turns),
        finish_reason=stats.exit_status, latency=sum(t.latency for t in turns),
        billed_cost=sum(billed) if billed else None, retries=sum(t.retries for t in turns))


def _stored_stats(ctx: Context, relative: str) -> AgentStats:
    """The figures a finished loop saved in its trajectory (``info.loopctl``)."""
    if ctx.log is None:
        return AgentStats(trajectory=relative)
    try:
        data = json.loads((ctx.log.root / relative).read_text(encoding="utf-8"))
        return AgentStats.from_dict(data["info"]["loopctl"])
    except (OSError, ValueError, KeyError, TypeError):
        return AgentStats(trajectory=relative)
