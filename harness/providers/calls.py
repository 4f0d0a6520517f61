"""Wall-clock bounds for model calls: a deadline per call, and a stop that cuts every call at once.

An HTTP client's timeout bounds each socket read, not a request: a server that keeps sending
(a streamed answer that never ends, a body trickled a byte at a time) runs as long as it likes.
Here each call gets a ``Watch`` with a deadline. The HTTP client reports every socket it opens for
the call (httpcore's ``trace`` extension, set by a request hook); when the deadline passes, or
the run is stopped (Ctrl-C, SIGTERM), the watch shuts those sockets down, which wakes a read
blocked in the kernel at once. Keep-alive is off for these clients so that every request opens
its own socket: a long generation gains nothing from a reused connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

_local = threading.local()


class Watch:
    """One model call's deadline and cancellation; its sockets are cut when either fires."""

    def __init__(self, seconds: float):
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.expired = False
        self.cancelled = False
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()

    @property
    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    @property
    def over(self) -> bool:
        """True once the deadline passed or the call was cancelled."""
        return self.expired or self.cancelled or time.monotonic() >= self.deadline

    def attach(self, stream: Any) -> None:
        """Remember a network stream the call opened; cut it at once if the call is already over."""
        with self._lock:
            self._streams.append(stream)
            cut = self.expired or self.cancelled
        if cut:
            _shutdown(stream)

    def expire(self) -> None:
        """The deadline passed: cut the call's sockets."""
        self.expired = True
        self._cut()

    def cancel(self) -> None:
        """The run is stopping: cut the call's sockets."""
        self.cancelled = True
        self._cut()

    def sleep(self, seconds: float) -> None:
        """Wait between retries; returns early when the call is cancelled or expires."""
        self._wake.wait(max(0.0, min(seconds, self.remaining)))

    def _cut(self) -> None:
        self._wake.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            _shutdown(stream)


class Calls:
    """The model calls in flight in one run; ``cancel_all`` stops every one of them."""

    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self.stopped = False

    @contextlib.contextmanager
    def watch(self, seconds: float) -> Iterator[Watch]:
        """Bound the calls made inside the block (in this thread) to ``seconds`` of wall time."""
        watch = Watch(seconds)
        timer = threading.Timer(seconds, watch.expire)
        timer.daemon = True
        with self._lock:
            self._watches.add(watch)
            if self.stopped:
                watch.cancelled = True
        previous = getattr(_local, "watch", None)
        _local.watch = watch
        timer.start()
        try:
            yield watch
        finally:
            timer.cancel()
            _local.watch = previous
            with self._lock:
                self._watches.discard(watch)

    def cancel_all(self) -> None:
        """Cut every call in flight; calls started afterwards begin cancelled."""
        with self._lock:
            self.stopped = True
            watches = list(self._watches)
        for watch in watches:
            watch.cancel()


def on_request(request: Any) -> None:
    """HTTP client request hook: report the sockets this request opens to the current watch."""
    if getattr(_local, "watch", None) is not None:
        request.extensions = {**request.extensions, "trace": _trace}


def _trace(name: str, info: dict[str, Any]) -> None:
    watch = getattr(_local, "watch", None)
    if watch is None:
        return
    if name.endswith(("connect_tcp.complete", "start_tls.complete")) and info.get("return_value") is not None:
        watch.attach(info["return_value"])


def _shutdown(stream: Any) -> None:
    with contextlib.suppress(Exception):
        sock = stream.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
