"""A run's job threads (``--jobs``) and the one set of counts they report to the progress and the summary."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from harness.loop.gate import Gate
from taskset.jobs.progress import Progress
from taskset.record import Task


class Counter:
    """The run's one set of counts, told to the progress as they change and read by the summary (thread-safe).

    ``attempts`` counts final records, as RunResult.new_attempts does; an infrastructure failure is
    not an attempt (a rerun retries it) and is counted apart.
    """

    def __init__(self, gate: Gate, progress: Progress, counts_spend: bool = True):
        self.gate, self.progress = gate, progress
        self.counts_spend = counts_spend
        self.attempts = 0
        self.infra = 0
        self._lock = threading.Lock()
        self._status = getattr(progress, "status", None)

    def attempt_done(self, record) -> None:
        """Count one record (final, or an infrastructure failure to retry) and charge its spend."""
        if self.counts_spend:
            self.gate.add(record)
        with self._lock:
            if record.infrastructure:
                self.infra += 1
            else:
                self.attempts += 1
            if self._status is not None:
                self._status(self.line())

    def line(self) -> str:
        """The status line: attempts, infrastructure failures to retry, spend."""
        infra = f", {self.infra} infrastructure failure(s) to retry" if self.infra else ""
        return f"{self.attempts} new attempts{infra}, ${self.gate.spent:.4f} spent"

    def task_done(self, label: str) -> None:
        """Advance the progress by one task, labelled solved, unsolved or unfinished."""
        with self._lock:
            self.progress.advance(label)


def run_threads(tasks: Sequence[Task], work: Callable[[Task], None], jobs: int, stop: threading.Event) -> None:
    """Run ``work`` on every task with ``jobs`` daemon threads; the first error stops the rest and is raised.

    Daemon threads, joined with a timeout, so the main thread keeps handling signals and a
    second Ctrl-C can leave at once without waiting for a model call to return.
    """
    queue = list(reversed(tasks))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            with lock:
                if not queue or errors:
                    return
                task = queue.pop()
            try:
                work(task)
            except BaseException as exc:  # a bug or a broken run directory: stop everyone, report it
                with lock:
                    errors.append(exc)
                return

    threads = [threading.Thread(target=worker, name=f"harness-job-{i}", daemon=True)
               for i in range(max(1, min(jobs, len(tasks))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    if errors:
        raise errors[0]
