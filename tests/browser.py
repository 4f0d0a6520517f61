"""A headless Chromium driven over the DevTools protocol on a pipe (no websocket, no download, no network).

Chromium started with ``--remote-debugging-pipe`` reads protocol messages from fd 3 and writes its
own to fd 4, each a JSON object ended by a NUL byte. That is all the tests need: open a page at an
emulated screen size and evaluate a script in it, reading layout from the rendered page.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe")
TIMEOUT = 60.0
"""Seconds any one protocol answer may take (a bound for a stuck browser, not a speed assertion)."""


def find_chromium() -> str | None:
    """The Chromium executable, or None when none is installed."""
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser; ``with Chromium() as browser: browser.evaluate(url, script, width=390)``."""

    def __init__(self, executable: str):
        self._profile = tempfile.mkdtemp(prefix="loopctl-chromium-")
        to_chrome_r, self._write = os.pipe()  # Chromium reads commands on fd 3
        self._read, from_chrome_w = os.pipe()  # and writes answers and events on fd 4
        # numbers above 4, so that dup2 onto 3 and 4 really copies (and clears close-on-exec)
        child = [os.dup(to_chrome_r), os.dup(from_chrome_w)]
        while min(child) <= 4:
            child = [os.dup(fd) if fd <= 4 else fd for fd in child]
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def wire() -> None:
            os.dup2(child[0], 3)
            os.dup2(child[1], 4)

        self._proc = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      preexec_fn=wire, close_fds=False, start_new_session=True)
        for fd in child:
            os.close(fd)
        self._buffer = b""
        self._next = 0

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Quit the browser (killed if it does not leave) and remove its profile."""
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, 9)
            self._proc.wait(timeout=10)
        for fd in (self._write, self._read):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result (RuntimeError with the protocol's error)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        wanted = self._next
        answer = self._until(lambda m: m.get("id") == wanted)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def evaluate(self, url: str, script: str, width: int, height: int = 900, mobile: bool = False) -> Any:
        """Open ``url`` in a new tab at ``width`` x ``height`` CSS pixels and return ``script``'s value."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": mobile}, session)
        self.call("Page.enable", {}, session)
        self.call("Page.navigate", {"url": url}, session)
        self._until(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session)
        result = self.call("Runtime.evaluate", {"expression": script, "returnByValue": True}, session)
        self.call("Target.closeTarget", {"targetId": target})
        if "exceptionDetails" in result:
            raise RuntimeError(f"the script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def _until(self, wanted) -> dict:
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
            ready, _, _ = select.select([self._read], [], [], TIMEOUT)
            if not ready:
                raise RuntimeError(f"chromium said nothing for {TIMEOUT:.0f} s")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its end of the pipe")
            self._buffer += chunk


def file_url(path: Path) -> str:
    """A file:// URL for a local path."""
    return path.resolve().as_uri()
