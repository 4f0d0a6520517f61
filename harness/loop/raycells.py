"""``harness run --backend ray``: each (task, seed, tier) cell runs as a Ray task; the driver alone writes.

A cell is :func:`harness.loop.tier.tier_attempts` — the tier's attempts on one task and seed, model
calls and evaluations included — run on a Ray worker with everything it needs shipped to it: the
task, its source files, the provider (an OpenAI provider is rebuilt there from its tier, reading
the API key from that machine's environment) and what the run directory already holds for the
task (its records and stored answers, so a resumed cell skips what is done and judges a stored
answer without asking again). The driver's threads decide the ladder (which cell is needed next)
exactly as with the local backend; only the cell's body moves.

The cell streams what it produces (a Ray generator task): each model answer the moment it
arrives, each attempt record the moment it is judged. The driver writes them through the run's
``RunLog`` (append-only, fsync'd), so an answer paid for is stored at once, as locally, and a
driver killed with SIGKILL loses only what was in flight.

The run's :class:`~harness.loop.gate.Gate` (the ``--max-cost`` budget, the stop, suspended tiers)
lives in one Ray actor that the driver and every cell ask, so a cell's second attempt sees the
spend of every attempt that ended anywhere, as threads sharing one Gate do. Each cell tells the
gate about its own attempts as they end. A stop (Ctrl-C, SIGTERM) reaches the cells through the
gate: no new attempt starts, model calls in flight are cut, evaluations in flight finish.

A worker (or node) that dies mid-cell has its cell submitted again by the driver, from what the
run directory holds by then: nothing is recorded twice and nothing half.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast

from harness.config import Tier
from harness.loop.gate import Gate
from harness.loop.tier import Context, TierOutcome, tier_attempts
from harness.names import Strategy
from harness.providers.completion import Completion, Provider
from harness.records.attempts import Answer, AttemptRecord, Key, RunLog
from taskset.errors import InfrastructureError
from taskset.jobs.raypool import RETRIES, connect

STOP_POLL = 0.5
"""Seconds between a running cell's checks of the gate for a stop (to cut its model calls)."""


def start(gate: Gate) -> tuple[RemoteGate, RayCells]:
    """Move ``gate`` into a Ray actor on the driver's node; return the gate to use and the cell runner."""
    ray = connect()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    actor = ray.remote(_GateActor).options(num_cpus=0, scheduling_strategy=here).remote(
        gate.limit, gate.prices, gate.spent)
    remote = RemoteGate(actor)
    return remote, RayCells(actor)


class RayCells:
    """Runs a cell as a Ray task and writes what it streams back; the same call as ``tier_attempts``."""

    counts_spend = True
    """The cell told the gate about each attempt where it ended: the driver must not count it again."""

    def __init__(self, actor: Any):
        ray = connect()
        self._ray = ray
        self._actor = actor
        self._remote = ray.remote(_cell).options(num_cpus=1, max_retries=0)  # resubmitted here, from the log

    def __call__(self, ctx: Context, tier: Tier, seed: int, provider: Provider, **options: Any) -> TierOutcome:
        """``tier_attempts(ctx, tier, seed, provider, **options)`` on the cluster."""
        from ray import exceptions

        lost_kinds = (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError,
                      exceptions.OutOfMemoryError, exceptions.LocalRayletDiedError)
        if ctx.log is None:
            raise ValueError("a Ray cell writes through the run's log")
        lost: BaseException | None = None
        for _ in range(RETRIES + 1):
            known = _known(ctx.log, ctx.task.instance_id)
            stream = self._remote.remote(ctx.task, ctx.sources, ctx.evaluate, ctx.strategy, tier, seed, provider,
                                         options, known, self._actor, dict(ctx.retrieved))
            try:
                for ref in stream:
                    kind, payload = self._ray.get(ref)
                    if kind == "answer":
                        key, completion, patch = payload
                        ctx.log.save_answer(key, completion, patch)
                    elif kind == "record":
                        ctx.log.append(payload)
                    else:
                        return payload
            except exceptions.RayTaskError as exc:  # the cell's own exception: raised as itself
                cause = exc.cause
                if isinstance(cause, BaseException):
                    raise cause from None
                raise
            except lost_kinds as exc:  # the worker or its node died: go again from what is written
                lost = exc
        raise InfrastructureError(f"a Ray worker died {RETRIES + 1} times running {ctx.task.instance_id} "
                                  f"tier {tier.name} seed {seed}: {type(lost).__name__}")


def _known(log: RunLog, task: str) -> tuple[dict[Key, AttemptRecord], dict[Key, Answer]]:
    """What the run directory holds for ``task``: its final records and stored answers (all strategies)."""
    records = {k: r for k, r in dict(log.records).items() if k[1] == task}  # dict(): one atomic copy
    answers = {k: a for k, a in dict(log.answers).items() if k[1] == task}
    return records, answers


# --- the gate, in one actor --------------------------------------------------------------------

class _GateActor:
    """The run's Gate, held in one Ray actor (its methods run one at a time)."""

    def __init__(self, limit: float | None, prices: Mapping[str, Tier], spent: float):
        self.gate = Gate(limit, dict(prices), spent)

    def allow(self, tier: Tier) -> bool:
        return self.gate.allow(tier)

    def add(self, record: AttemptRecord) -> None:
        self.gate.add(record)

    def request_stop(self) -> None:
        self.gate.stop.set()

    def stopping(self) -> bool:
        return self.gate.stopping

    def state(self) -> tuple[float, bool, dict[str, str], set[str]]:
        gate = self.gate
        return gate.spent, gate.budget_reached, dict(gate.suspended), set(gate.unknown_spend)


class _Stop:
    """``gate.stop`` for a gate in an actor: ``set()`` by the driver, ``is_set()`` anywhere."""

    def __init__(self, actor: Any):
        self._actor = actor
        self._set = False

    def set(self) -> None:
        """Stop (called from the driver's signal handler: sent, not awaited; the actor keeps order)."""
        self._set = True
        self._actor.request_stop.remote()

    def is_set(self) -> bool:
        if not self._set:
            self._set = bool(connect().get(self._actor.stopping.remote()))
        return self._set


class RemoteGate:
    """The Gate interface (``harness.loop.gate.Gate``) for the gate held in the actor: same answers everywhere."""

    def __init__(self, actor: Any):
        self._actor = actor
        self.stop = _Stop(actor)

    def __reduce__(self):
        return (RemoteGate, (self._actor,))

    @property
    def stopping(self) -> bool:
        """True once the run is stopping."""
        return self.stop.is_set()

    def allow(self, tier: Tier) -> bool:
        """May an attempt of ``tier`` start now (the budget, the stop, a suspended tier)?"""
        return bool(connect().get(self._actor.allow.remote(tier)))

    def add(self, record: AttemptRecord) -> None:
        """Count a finished attempt (awaited: the next ``allow`` sees it)."""
        connect().get(self._actor.add.remote(record))

    def _state(self) -> tuple[float, bool, dict[str, str], set[str]]:
        return connect().get(self._actor.state.remote())

    @property
    def spent(self) -> float:
        return self._state()[0]

    @property
    def budget_reached(self) -> bool:
        return self._state()[1]

    @property
    def suspended(self) -> dict[str, str]:
        return self._state()[2]

    @property
    def unknown_spend(self) -> set[str]:
        return self._state()[3]


# --- the worker side ---------------------------------------------------------------------------

class CellLog:
    """What ``tier_attempts`` reads and writes of a ``RunLog``, on a worker: writes become events for the driver."""

    def __init__(self, known: tuple[dict[Key, AttemptRecord], dict[Key, Answer]], emit, gate: RemoteGate):
        self.records, self.answers = dict(known[0]), dict(known[1])
        self._emit = emit
        self._gate = gate

    def __contains__(self, key: Key) -> bool:
        return key in self.records

    def answer_text(self, key: Key) -> str:
        answer = self.answers.get(key)
        return answer.content if answer else ""

    def save_answer(self, key: Key, completion: Completion, patch: str = "") -> None:
        fields = {f.name: getattr(completion, f.name) for f in dataclasses.fields(Completion)
                  if f.name not in ("content", "reasoning")}
        self.answers[key] = Answer(completion.content, completion.reasoning, patch, fields)
        self._emit(("answer", (key, completion, patch)))

    def append(self, record: AttemptRecord) -> None:
        self._gate.add(record)  # where the attempt ended, as the local run's RunLog.on_append does
        if not record.infrastructure:
            self.records[record.key] = record
        self._emit(("record", record))


def _cell(task, sources, evaluate, strategy: Strategy, tier: Tier, seed: int, provider: Provider,
          options: dict, known, actor, retrieved: dict | None = None) -> Iterator[tuple[str, Any]]:
    """One cell on a Ray worker: ``tier_attempts`` in a thread, its answers and records yielded as they come.

    The generator polls the gate while it waits, and cuts the provider's calls once the run stops.
    """
    gate = RemoteGate(actor)
    events: queue.Queue = queue.Queue()
    log = cast(RunLog, CellLog(known, events.put, gate))  # the part of a RunLog tier_attempts uses
    ctx = Context(task, sources, evaluate, log, strategy, cast(Gate, gate), retrieved=dict(retrieved or {}))

    def body() -> None:
        try:
            events.put(("outcome", tier_attempts(ctx, tier, seed, provider, **options)))
        except BaseException as exc:  # noqa: BLE001 -- handed to the driver, raised there as itself
            events.put(("error", exc))

    threading.Thread(target=body, name="loopctl-cell", daemon=True).start()
    calls = getattr(provider, "calls", None)
    while True:
        try:
            kind, payload = events.get(timeout=STOP_POLL)
        except queue.Empty:
            if calls is not None and gate.stopping:
                calls.cancel_all()
            continue
        if kind == "error":
            raise payload
        yield kind, payload
        if kind == "outcome":
            return
