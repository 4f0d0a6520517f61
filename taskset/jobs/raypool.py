"""``--backend ray``: the units of :mod:`taskset.jobs.pool` run as Ray tasks, results back to the driver.

The sibling of :func:`taskset.jobs.pool.run_each`, with the same contract: ``work(item)`` runs away
from the driver, ``on_result(item, result)`` runs in the driver, which alone writes. Ray
schedules; nothing here decides where a unit runs. Imported only when a command asks for
``--backend ray`` (Ray is the ``loopctl[ray]`` extra).

- **Which cluster** is Ray's own convention (:func:`connect`): ``RAY_ADDRESS``, else a cluster
  started on this machine with ``ray start``, else a new local instance for this process.
- **One CPU per unit** (the unit runs pytest), so Ray runs as many at once as the cluster has
  CPUs. ``jobs`` caps the units in flight; by default every unit is submitted at once, which is
  also the demand an autoscaling cluster grows on.
- **A worker that dies** (killed, out of memory, its node lost) has its unit run again by Ray
  (``max_retries``); the driver only ever sees one result per unit, so nothing is half-recorded.
  A unit whose workers die :data:`RETRIES` + 1 times ends the run with an InfrastructureError.
- **Stopping** (Ctrl-C, SIGTERM, an error in ``on_result``): queued units are cancelled, running
  ones get a KeyboardInterrupt inside (their workspaces and test processes are cleaned up), every
  unit that had finished is still handed to ``on_result``, then the driver's exception propagates.
  A driver killed outright takes its units with it (Ray ends a dead driver's tasks).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from taskset.errors import BackendUnavailable, InfraCause, InfrastructureError

Item = TypeVar("Item")
Result = TypeVar("Result")

RETRIES = 3
"""How many times Ray runs a unit again after its worker died (Ray's own default for tasks)."""
STOP_WAIT = 30.0
"""Seconds a stop waits for cancelled units to clean up (workspaces, test processes) before returning."""
INSTALL_HINT = "pip install 'loopctl[ray]'"


def connect() -> Any:
    """The ``ray`` module, connected: RAY_ADDRESS, else a running local cluster, else a new local instance.

    Raises BackendUnavailable when Ray is not installed and InfrastructureError when the cluster
    cannot be reached. Connecting once per process is enough; later calls reuse the connection.
    """
    try:
        import ray
    except ImportError:
        raise BackendUnavailable(f"--backend ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    if ray.is_initialized():
        return ray
    # ray.init installs its own SIGTERM handler (exit at once); ours turns SIGTERM into a stop
    # that keeps finished work, so keep it
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        ray.init(log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        why = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise InfrastructureError(f"--backend ray: cannot reach the Ray cluster ({why})",
                                  cause=InfraCause.NETWORK) from None
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
    return ray


def cluster_cpus() -> int:
    """CPUs the connected cluster has now (at least 1)."""
    ray = connect()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def run_each(
    work: Callable[[Item], Result],
    items: Iterable[Item],
    on_result: Callable[[Item, Result], None],
    *,
    jobs: int | None = None,
) -> None:
    """Run ``work`` on each item as a Ray task and hand each result to ``on_result`` in the driver.

    Results arrive in completion order. ``jobs`` caps the units in flight (None: all of them).
    An exception raised by a unit is raised here as itself (after the units that had finished
    are handed over), as with the local pool.
    """
    items = list(items)
    if not items:
        return
    ray = connect()
    remote = ray.remote(_unit).options(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)
    shipped = ray.put(work)  # once, not once per unit
    limit = len(items) if jobs is None else max(1, jobs)
    queue = iter(items)
    pending: dict[Any, Item] = {}

    def submit() -> None:
        for item in queue:
            pending[remote.remote(shipped, item)] = item
            if len(pending) >= limit:
                return

    try:
        submit()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                item = pending.pop(ref)
                on_result(item, _result(ray, ref))
            submit()
    except BaseException:
        _stop(ray, pending, on_result)
        raise


def _stop(ray: Any, pending: dict, on_result: Callable) -> None:
    """Cancel what has not finished; hand over what has (a unit's failure is not re-raised here)."""
    if not pending:
        return
    finished, running = ray.wait(list(pending), num_returns=len(pending), timeout=0)
    for ref in running:
        ray.cancel(ref)  # queued: never starts; running: KeyboardInterrupt inside the unit
    if running:  # let interrupted units clean up, as the local pool waits for its workers
        ray.wait(running, num_returns=len(running), timeout=STOP_WAIT)
    for ref in finished:
        try:
            result = _result(ray, ref)
        except Exception:  # noqa: BLE001 -- the exception being raised already says what went wrong
            continue
        on_result(pending[ref], result)


def _result(ray: Any, ref: Any) -> Any:
    """A unit's result; the unit's own exception raised as itself; a worker lost too often as InfrastructureError."""
    from ray import exceptions

    try:
        return ray.get(ref)
    except exceptions.RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError,
            exceptions.OutOfMemoryError, exceptions.LocalRayletDiedError) as exc:
        raise InfrastructureError(f"a Ray worker died {RETRIES + 1} times running one unit: "
                                  f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from None


def _unit(work: Callable, item: Any) -> Any:
    """One unit in a Ray worker (a module-level function, so Ray ships it by reference)."""
    return work(item)
