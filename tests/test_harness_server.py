"""A real chat-completions server on 127.0.0.1 (port 0, in a thread) with scripted answers.

Other harness tests import ``ScriptedServer``, ``Reply`` and the error builders from here. It
speaks the OpenAI API as the ``openai`` client and the four servers the harness meets send it:
JSON answers with ``model`` and ``usage`` (reasoning and cached-token details, a billed ``cost``),
or no usage at all, and ``tool_calls`` when scripted; server-sent events when asked to stream
(usage in a last chunk); reasoning beside the answer (``reasoning_content`` as vLLM/llama.cpp
send it, ``reasoning`` as Ollama does); llama.cpp's ``timings``; ``GET /v1/models``; and
failures as each server words them: 429 with Retry-After, 5xx, context-length 400s (OpenAI,
vLLM, llama.cpp), Ollama's 404 for a model it lacks. Slow servers too: a body trickled a byte
at a time, a stream that never ends, a reply that hangs until the test releases it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai


@dataclass(frozen=True)
class Reply:
    """One scripted response."""

    content: str = ""
    model: str = ""
    status: int = 200
    prompt_tokens: int = 100
    completion_tokens: int = 50
    reasoning_tokens: int = 0
    cached_tokens: int | None = None
    usage: bool = True
    """False: the server reports no usage (some local servers, streams without include_usage)."""
    finish_reason: str = "stop"
    retry_after: str | None = None
    error: str = "scripted failure"
    body: Any = None
    """The exact error body to send (a dict is JSON, a str is sent as text/plain)."""
    delay: float = 0.0
    cost: float | None = None
    reasoning: str = ""
    reasoning_field: str = "reasoning_content"
    """``reasoning_content`` (vLLM, llama.cpp, DeepSeek) or ``reasoning`` (Ollama, OpenRouter)."""
    timings: dict | None = None
    """llama.cpp's ``timings`` object (``predicted_per_second`` ...)."""
    trickle: float = 0.0
    """Seconds between pieces: a non-streamed body goes out a byte at a time, a stream a word at a time."""
    forever: str = ""
    """Stream this piece again and again until the client hangs up (a runaway generation)."""
    hang: bool = False
    """Accept the request, then answer nothing until the server is closed or released."""
    n_ctx: int | None = None
    """Act as llama.cpp with this context: a prompt over it (3 characters a token) gets the context error
    with the real figures, and the reply stays first in line for the next request."""
    old_wording: bool = False
    """With ``n_ctx``: the older llama.cpp error, which states no figures."""
    tool_calls: tuple = ()
    """(id, name, arguments JSON) triples sent as the message's ``tool_calls`` (non-streamed replies)."""


def openai_error(status: int, message: str, code: str | None = None, kind: str = "invalid_request_error") -> Reply:
    """An error as api.openai.com words it."""
    return Reply(status=status, body={"error": {"message": message, "type": kind, "param": None, "code": code}})


def vllm_error(status: int, message: str, kind: str = "BadRequestError") -> Reply:
    """An error as vLLM's OpenAI server sends it (a top-level error object)."""
    return Reply(status=status, body={"object": "error", "message": message, "type": kind, "param": None,
                                      "code": status})


def llamacpp_context_error(n_prompt: int | None = None, n_ctx: int = 4096) -> Reply:
    """llama.cpp's context error: the old wording without figures, or the new one with them."""
    if n_prompt is None:
        return Reply(status=400, body={"error": {
            "code": 400, "type": "exceed_context_size_error",
            "message": "the request exceeds the available context size, try increasing it"}})
    return Reply(status=400, body={"error": {
        "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": n_prompt, "n_ctx": n_ctx,
        "message": f"request ({n_prompt} tokens) exceeds the available context size ({n_ctx} tokens)"}})


def ollama_error(status: int, message: str) -> Reply:
    """An error from Ollama's OpenAI-compatible endpoint."""
    return Reply(status=status, body={"error": {"message": message, "type": "api_error", "param": None, "code": None}})


class ScriptedServer:
    """Replies per requested model, in order; the last reply of a model repeats when exhausted.

    ``models`` is what ``GET /v1/models`` lists (default: the scripted models); ``models_reply``
    replaces that listing with a scripted failure.
    """

    def __init__(self, script: dict[str, list[Reply]], models: list[str] | None = None,
                 models_reply: Reply | None = None):
        self.script = {model: deque(replies) for model, replies in script.items()}
        self.models = list(script) if models is None else models
        self.models_reply = models_reply
        self.requests: list[dict] = []
        self.gets: list[str] = []
        self.headers: list[dict] = []
        self.times: list[float] = []
        self.by_model: dict[str, list[dict]] = defaultdict(list)
        self.hung = threading.Event()
        """Set when a ``hang`` reply has been accepted."""
        self.release = threading.Event()
        """Set (by the test, or on close) to let hung and endless replies finish."""
        self.disconnected = threading.Event()
        """Set when a client hung up on an endless or trickled reply."""
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True  # a scripted slow reply must not hold up shutdown
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """The base URL a tier points at."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_reply(self, body: dict, headers: dict) -> Reply:
        """Record the request and pop the model's next reply."""
        with self._lock:
            self.requests.append(body)
            self.headers.append({k.lower(): v for k, v in headers.items()})
            self.times.append(time.monotonic())
            self.by_model[body.get("model", "")].append(body)
            queue = self.script.get(body.get("model", ""))
            if not queue:
                return ollama_error(404, f"model \"{body.get('model')}\" not found, try pulling it first")
            reply = queue[0]
            if reply.n_ctx is not None:
                prompt = sum(len(m.get("content") or "") for m in body.get("messages", [])) // 3
                if prompt > reply.n_ctx:
                    return llamacpp_context_error(None if reply.old_wording else prompt, reply.n_ctx)
            return queue.popleft() if len(queue) > 1 else reply

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.gets.append(self.path)
                if self.path.rstrip("/") != "/v1/models":
                    return self._send(404, "404 page not found")
                if server.models_reply is not None:
                    return self._error(server.models_reply)
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in server.models]
                self._send(200, {"object": "list", "data": data})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                reply = server.next_reply(body, dict(self.headers))
                if reply.hang:
                    server.hung.set()
                    server.release.wait()
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    return self._error(reply)
                try:
                    if body.get("stream"):
                        return self._stream(body, reply)
                    self._send(200, _completion(body, reply), trickle=reply.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected.set()

            def _error(self, reply: Reply):
                payload = reply.body
                if payload is None:
                    code = "context_length_exceeded" if reply.status == 400 else "scripted"
                    payload = {"error": {"message": reply.error, "type": "error", "code": code}}
                extra = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                self._send(reply.status, payload, extra)

            def _send(self, status: int, payload, extra: dict | None = None, trickle: float = 0.0):
                text = isinstance(payload, str)
                data = payload.encode() if text else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if not trickle:
                    return self.wfile.write(data)
                for i in range(len(data)):
                    if server.release.is_set():
                        return
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)

            def _event(self, payload: dict):
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            def _stream(self, body: dict, reply: Reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                model = reply.model or body["model"]
                base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model}
                if reply.reasoning:
                    self._event({**base, "choices": [{"index": 0, "delta": {reply.reasoning_field: reply.reasoning},
                                                      "finish_reason": None}]})
                words = reply.content.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == len(words) - 1 else word + " "
                    self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                    if reply.trickle:
                        time.sleep(reply.trickle)
                sent = 0
                while reply.forever and not server.release.is_set() and sent < 200_000:
                    self._event({**base, "choices": [{"index": 0, "delta": {"content": reply.forever},
                                                      "finish_reason": None}]})
                    sent += 1
                    if reply.trickle:
                        time.sleep(reply.trickle)
                done = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]}
                if reply.timings is not None:
                    done["timings"] = reply.timings
                self._event(done)
                if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
                    self._event({**base, "choices": [], "usage": _usage(reply)})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def _usage(reply: Reply) -> dict:
    usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
             "total_tokens": reply.prompt_tokens + reply.completion_tokens,
             "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens}}
    if reply.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    if reply.cost is not None:
        usage["cost"] = reply.cost
    return usage


def _completion(body: dict, reply: Reply) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                                 for i, n, a in reply.tool_calls]
    if reply.reasoning:
        message[reply.reasoning_field] = reply.reasoning
    answer = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": reply.model or body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
    }
    if reply.usage:
        answer["usage"] = _usage(reply)
    if reply.timings is not None:
        answer["timings"] = reply.timings
    return answer


def test_server_speaks_chat_completions():
    """The scripted server answers the real openai client with the scripted model and usage."""
    with ScriptedServer({"m": [Reply(content="hi", model="m-2024", reasoning_tokens=7)]}) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
        listed = [m.id for m in client.models.list().data]
    assert answer.choices[0].message.content == "hi"
    assert answer.model == "m-2024"
    assert answer.usage.completion_tokens_details.reasoning_tokens == 7
    assert listed == ["m"]


# --- a tiny real task: a git repo whose fix is proven by its own test ---------------------------

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
WRONG = "def add(a, b):\n    return a * b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST_BASE = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
TEST_FIX = TEST_BASE.replace("import mul", "import add, mul") + "\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def search_replace(old: str, new: str, path: str = "calc.py") -> str:
    """A SEARCH/REPLACE answer as a model would send it, chatter included."""
    return f"Here is the fix.\n\n{path}\n```python\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


GOOD_ANSWER = search_replace("    return a - b", "    return a + b")
BAD_ANSWER = search_replace("    return a - b", "    return a * b")


def build_tiny_task(repo, name: str = "tiny"):
    """A real repository (same dependency files as the session environment) and its Task."""
    from conftest import PROJECT_ENV_DATE, write_minimal_project
    from taskset.record import EnvironmentSpec, Task

    write_minimal_project(repo.path)
    base = repo.commit("calc: add and mul", {"calc.py": BUGGY, "tests/test_calc.py": TEST_BASE})
    fix = repo.commit("fix add", {"calc.py": FIXED, "tests/test_calc.py": TEST_FIX})
    return Task(
        instance_id=f"local__{name}-{fix[:12]}", repo=f"local/{name}", repo_url=str(repo.path), base_commit=base,
        fix_commit=fix, created_at="2024-03-01T12:00:00+00:00",
        patch=repo.git("diff", base, fix, "--", "calc.py") + "\n",
        test_patch=repo.git("diff", base, fix, "--", "tests") + "\n",
        problem_statement="add() subtracts instead of adding.",
        FAIL_TO_PASS=("tests/test_calc.py::test_add",), PASS_TO_PASS=("tests/test_calc.py::test_mul",),
        environment=EnvironmentSpec(exclude_newer=PROJECT_ENV_DATE),
        failure_output="E       assert -1 == 3\nE        +  where -1 = add(1, 2)\n",
    )


def build_taskset(root, tasks, calibrated: bool = True):
    """A task set directory holding ``tasks``; uncalibrated ones are marked ok unless told not to."""
    from dataclasses import replace

    from taskset.record import CalibrationStatus
    from taskset.store import TaskSet

    store = TaskSet.open(root, create=True)
    for task in tasks:
        if calibrated and task.calibration.status is CalibrationStatus.UNCALIBRATED:
            task = replace(task, calibration=replace(task.calibration, status=CalibrationStatus.OK))
        store.add(task)
    return root


UTIL_BUGGY = "def double(x):\n    return x + x\n\n\ndef half(x):\n    return x * 2\n"
UTIL_FIXED = UTIL_BUGGY.replace("return x * 2", "return x / 2")
CALC2_BUGGY = "from util import half\n\n\ndef mean(a, b):\n    return half(a - b)\n"
CALC2_FIXED = CALC2_BUGGY.replace("half(a - b)", "half(a + b)")
TEST2_BASE = "from util import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
TEST2_FIX = TEST2_BASE.replace("import double", "import double, half") + (
    "\n\ndef test_mean():\n    from calc import mean\n    assert mean(2, 4) == 3\n")


def build_two_file_task(repo, name: str = "two"):
    """A real task whose fix touches two files (calc.py and util.py)."""
    from conftest import PROJECT_ENV_DATE, write_minimal_project
    from taskset.record import EnvironmentSpec, Task

    write_minimal_project(repo.path)
    base = repo.commit("mean and half",
                       {"calc.py": CALC2_BUGGY, "util.py": UTIL_BUGGY, "tests/test_util.py": TEST2_BASE})
    fix = repo.commit("fix mean", {"calc.py": CALC2_FIXED, "util.py": UTIL_FIXED, "tests/test_util.py": TEST2_FIX})
    return Task(
        instance_id=f"local__{name}-{fix[:12]}", repo=f"local/{name}", repo_url=str(repo.path), base_commit=base,
        fix_commit=fix, created_at="2024-03-01T12:00:00+00:00",
        patch=repo.git("diff", base, fix, "--", "calc.py", "util.py") + "\n",
        test_patch=repo.git("diff", base, fix, "--", "tests") + "\n",
        problem_statement="mean(2, 4) is not 3.",
        FAIL_TO_PASS=("tests/test_util.py::test_mean",), PASS_TO_PASS=("tests/test_util.py::test_double",),
        environment=EnvironmentSpec(exclude_newer=PROJECT_ENV_DATE),
        failure_output="E       assert -4 == 3\n",
    )


TWO_FILE_DIFF = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -4,2 +4,2 @@\n"
    " def mean(a, b):\n-    return half(a - b)\n+    return half(a + b)\n"
    "--- a/util.py\n+++ b/util.py\n@@ -5,2 +5,2 @@\n def half(x):\n-    return x * 2\n+    return x / 2\n")
"""The fix as models write it: two files, no ``diff --git`` lines, one-sided context."""
