"""One process pool for every ``--jobs``: mined candidates, task calibrations, difficulty labels.

The unit of work is a module-level function (or a partial of one) applied to one picklable item;
its result comes back to the driver, which alone writes it (``on_result``). The same unit is what
a distributed backend runs: :mod:`taskset.jobs.raypool` is the same contract on Ray (``--backend ray``,
chosen through :func:`runner`).

Stopping is the driver's decision, and it is prompt and lossless:

- workers ignore the terminal's Ctrl-C; the driver catches it (or anything else that ends it),
  cancels the queued units and sends each worker SIGTERM, which aborts the running unit from
  inside (a KeyboardInterrupt, so its context managers clean up: workspaces removed, test process
  groups killed) and makes it return at once;
- every unit that finished before the workers stopped is still handed to ``on_result``; then the
  driver's exception propagates;
- workers die with their parent: a driver killed outright (SIGKILL) leaves no worker behind
  (``PR_SET_PDEATHSIG`` on Linux, a watchdog thread elsewhere).
"""

from __future__ import annotations

import enum
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Backend(str, enum.Enum):
    """Where units run (``--backend``): this machine's process pool, or a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"


def runner(backend: Backend = Backend.LOCAL) -> Callable[..., None]:
    """The ``run_each`` of ``backend``, ready: for Ray, imported and connected now, before any work starts.

    Both take ``(work, items, on_result, *, jobs)``; :mod:`taskset.jobs.raypool` is imported only here,
    so the default install never needs Ray. Raises BackendUnavailable (no Ray) or
    InfrastructureError (no cluster).
    """
    if Backend(backend) is Backend.RAY:
        from taskset.jobs import raypool

        raypool.connect()
        return raypool.run_each
    return run_each

_PR_SET_PDEATHSIG = 1
_WATCHDOG_SECONDS = 1.0


def run_each(
    work: Callable[[Item], Result],
    items: Iterable[Item],
    on_result: Callable[[Item, Result], None],
    *,
    jobs: int | None = 1,
) -> None:
    """Apply ``work`` to each item, ``jobs`` at a time, and hand each result to ``on_result`` in the driver.

    One job (or one item) runs inline, in order. More run in worker processes (spawned, so no thread of the
    driver, such as a progress bar, is copied mid-lock), results in completion order. An exception
    raised by a unit, by ``on_result`` or by an interrupt stops the pool (see the module docstring)
    and propagates after every finished unit has been handed over.
    """
    items = list(items)
    jobs = jobs or 1  # None: the default, one at a time
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            on_result(item, work(item))
        return
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    futures: dict[Future, Item] = {}
    handed: set[Future] = set()
    try:
        futures = {pool.submit(_unit, work, item): item for item in items}
        running = set(futures)
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                handed.add(future)
                outcome = future.result()
                if outcome is _ABORTED:  # someone stopped a worker: stop everything, keep what finished
                    raise KeyboardInterrupt
                on_result(futures[future], outcome)
    except BaseException:
        _stop(pool, futures)
        for future, item in futures.items():
            if future not in handed and _succeeded(future):
                handed.add(future)
                on_result(item, future.result())
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor, futures: Iterable[Future]) -> None:
    """Cancel every queued unit, abort the running ones, and wait for the workers to exit."""
    for future in futures:
        future.cancel()  # only units no worker has taken yet
    # ProcessPoolExecutor has no public way to stop running work: signal its worker processes
    # (before shutdown, which forgets them)
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            os.kill(process.pid, signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            pass
    pool.shutdown(wait=True, cancel_futures=True)


def _succeeded(future: Future) -> bool:
    """Done with a real result (not cancelled, not failed, not aborted by the stop)."""
    if not future.done() or future.cancelled() or future.exception() is not None:
        return False
    return future.result() is not _ABORTED


# --- the worker side -------------------------------------------------------------------------

class _Aborted:
    """What a unit aborted by the driver returns (never handed to ``on_result``)."""

    def __reduce__(self):
        return (_aborted, ())


def _aborted() -> _Aborted:
    return _ABORTED


_ABORTED = _Aborted()
_parent = 0
_busy = False
_stopping = False


def _start_worker(parent: int) -> None:
    """Worker initializer: leave Ctrl-C to the driver, stop on SIGTERM, die with the parent."""
    global _parent
    _parent = parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not _die_with_parent():
        threading.Thread(target=_watch_parent, daemon=True, name="loopctl-pool-watchdog").start()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)


def _die_with_parent() -> bool:
    """Ask Linux to send this process SIGTERM when its parent exits; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent() -> None:
    while os.getppid() == _parent:
        threading.Event().wait(_WATCHDOG_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def _on_sigterm(signum, frame) -> None:
    """Stop: abort the running unit from inside, run nothing more; exit at once if orphaned and idle."""
    global _stopping
    _stopping = True
    if _busy:
        raise KeyboardInterrupt
    if os.getppid() != _parent:
        os._exit(1)


def _unit(work: Callable, item):
    """Run one unit in a worker; a unit aborted by the stop returns the abort marker."""
    global _busy
    if _stopping:
        return _ABORTED
    try:
        _busy = True
        return work(item)
    except KeyboardInterrupt:
        if os.getppid() != _parent:  # orphaned: nobody will read the result
            os._exit(1)
        return _ABORTED
    finally:
        _busy = False
