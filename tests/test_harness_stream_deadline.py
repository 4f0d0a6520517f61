"""A chunked (HTTP/1.1) stream that trickles past the tier's timeout is a timeout, not an api-error.

The scripted server speaks HTTP/1.0, where a cut connection is a normal end of the body; real
servers (llama.cpp, vLLM, uvicorn) stream chunked HTTP/1.1, where the watch cutting the socket at
the deadline surfaces as an incomplete chunked read, which the OpenAI client wraps as
``APIConnectionError: Connection error.``. This server streams chunked, forever, slowly.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.config import ProviderKind, Tier
from harness.errors import ProviderError
from harness.modes import FailureMode
from harness.providers.completion import Request
from harness.providers.factory import make_provider
from test_harness_providers import TASK

PIECE_EVERY = 0.2
"""Seconds between streamed pieces: slower than nothing, never done within the timeout."""


class ChunkedStream(BaseHTTPRequestHandler):
    """Answers every chat completion with an endless chunked SSE stream, one piece every PIECE_EVERY s."""

    protocol_version = "HTTP/1.1"
    stop = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 -- the http.server hook's name
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        event = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": "."}, "finish_reason": None}]}
        data = f"data: {json.dumps(event)}\n\n".encode()
        try:
            for _ in range(300):  # a bound: 60 s at most, whatever the client does
                if self.stop.wait(PIECE_EVERY):
                    return
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
        except OSError:  # the client cut the connection: what the test waits for
            return

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def chunked_server():
    """The endless chunked stream on 127.0.0.1, a free port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChunkedStream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        ChunkedStream.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
        ChunkedStream.stop.clear()


def test_a_chunked_stream_trickling_past_the_timeout_is_a_timeout(chunked_server):
    """Regression: the deadline's cut read as "APIConnectionError: Connection error." (api-error);
    docs/harness.md promises ``timeout``, and the call is not retried (the deadline is spent)."""
    tier = Tier(name="t", provider=ProviderKind.OPENAI, model="m", base_url=chunked_server, timeout=1.0,
                max_retries=2, stream=True)
    with pytest.raises(ProviderError) as caught:
        make_provider(tier).complete(Request(TASK, tier, 42, 1, ({"role": "user", "content": "fix it"},)))
    assert caught.value.mode is FailureMode.TIMEOUT, caught.value.message
    assert caught.value.completion_tokens > 0  # pieces had arrived: the stream was alive, only too slow
