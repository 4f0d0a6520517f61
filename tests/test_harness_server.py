"""A real chat-completions server on 127.0.0.1 (port 0, in a thread) with scripted answers.

Other harness tests import ``ScriptedServer`` and ``Reply`` from here. It speaks enough of the
OpenAI API for the ``openai`` client: JSON answers with ``model`` and ``usage`` (including
``completion_tokens_details.reasoning_tokens``), server-sent events when asked to stream, 429
with Retry-After, 500s, and 400 context-length errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    finish_reason: str = "stop"
    retry_after: str | None = None
    error: str = "scripted failure"
    delay: float = 0.0
    cost: float | None = None


class ScriptedServer:
    """Replies per requested model, in order; the last reply of a model repeats when exhausted."""

    def __init__(self, script: dict[str, list[Reply]]):
        self.script = {model: deque(replies) for model, replies in script.items()}
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.times: list[float] = []
        self.by_model: dict[str, list[dict]] = defaultdict(list)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True  # a scripted slow reply must not hold up shutdown
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL a tier points at."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
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
                return Reply(status=404, error=f"model {body.get('model')!r} not found")
            return queue.popleft() if len(queue) > 1 else queue[0]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                reply = server.next_reply(body, dict(self.headers))
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    return self._error(reply)
                if body.get("stream"):
                    return self._stream(body, reply)
                self._send(200, _completion(body, reply))

            def _error(self, reply: Reply):
                code = "context_length_exceeded" if reply.status == 400 else "scripted"
                payload = {"error": {"message": reply.error, "type": "error", "code": code}}
                extra = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                self._send(reply.status, payload, extra)

            def _send(self, status: int, payload: dict, extra: dict | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict, reply: Reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                model = reply.model or body["model"]
                words = reply.content.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == len(words) - 1 else word + " "
                    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                             "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                done = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]}
                usage = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [], "usage": _usage(reply)}
                for event in (done, usage):
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def _usage(reply: Reply) -> dict:
    usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
             "total_tokens": reply.prompt_tokens + reply.completion_tokens,
             "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens}}
    if reply.cost is not None:
        usage["cost"] = reply.cost
    return usage


def _completion(body: dict, reply: Reply) -> dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": reply.model or body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content},
                     "finish_reason": reply.finish_reason}],
        "usage": _usage(reply),
    }


def test_server_speaks_chat_completions():
    """The scripted server answers the real openai client with the scripted model and usage."""
    with ScriptedServer({"m": [Reply(content="hi", model="m-2024", reasoning_tokens=7)]}) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert answer.choices[0].message.content == "hi"
    assert answer.model == "m-2024"
    assert answer.usage.completion_tokens_details.reasoning_tokens == 7


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
