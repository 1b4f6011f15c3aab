"""Headless Chromium over the DevTools Protocol: open a page, measure what was really drawn, save a screenshot.

One blocking websocket, no threads: every call sends a command and reads messages until its reply, keeping the
events read on the way for whoever waits for them later. Enough for tests and `make demo`, not a general client.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any

import websocket

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOST = "127.0.0.1"
# Only local URLs are fetched here: a proxy from the environment must not see (or break) them.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BrowserError(RuntimeError):
    """The browser did not start, a command failed, a page did not load or its script threw."""


def _signal_group(group: int, signum: int) -> None:
    """Signal a process group, if anything of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _devtools_json(url: str, method: str = "GET") -> Any:
    with _DIRECT.open(urllib.request.Request(url, method=method), timeout=10) as answer:
        return json.load(answer)


def find_chromium() -> str | None:
    """$CHROMIUM if set (a machine may keep it off PATH), else the first usual name on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class HeadlessChromium:
    """A throwaway browser (own profile, own port) for one `with` block; see the module docstring."""

    def __init__(self, executable: str | None = None, start_timeout: float = 30.0) -> None:
        found = executable or find_chromium()
        if not found:
            raise BrowserError("no Chromium found: set $CHROMIUM or install one (apt-get install chromium)")
        self.executable = found
        self.start_timeout = start_timeout
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ws: websocket.WebSocket | None = None
        self._next_id = 0
        self._events: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._requests: list[str] = []

    def __enter__(self) -> HeadlessChromium:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    def _start(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="headless-chromium-"))
        profile = self._root / "profile"
        flags = [
            "--headless=new",
            "--remote-debugging-port=0",  # the browser picks a free port and writes it to DevToolsActivePort
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Chromium refuses to start as root with its sandbox on (CI containers run as root); the pages
            # opened here are our own, served locally, so running them unsandboxed is acceptable.
            flags.append("--no-sandbox")
        with (self._root / "stderr.log").open("wb") as stderr:  # a file, not a pipe nobody drains
            # Its own process group: the renderers, GPU and network helpers go when we end the group, not a moment later.
            self._process = subprocess.Popen(
                [self.executable, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        port = self._wait_for_port(profile / "DevToolsActivePort")
        targets = _devtools_json(f"http://{HOST}:{port}/json")
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:  # recent versions take only PUT here
            page = _devtools_json(f"http://{HOST}:{port}/json/new?about:blank", "PUT")
        # No Origin header: Chromium refuses DevTools websockets from origins not allowed by --remote-allow-origins.
        self._ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=10, suppress_origin=True, http_no_proxy=[HOST]
        )
        self.call("Page.enable")
        self.call("Network.enable")

    def _wait_for_port(self, active_port: Path) -> int:
        """The port the browser chose; it writes the file once DevTools listens (port, then the browser path)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            lines = active_port.read_text().splitlines() if active_port.exists() else []
            if len(lines) >= 2 and lines[0].isdigit():
                return int(lines[0])
            if self._process is not None and self._process.poll() is not None:
                raise BrowserError(f"{self.executable} exited with {self._process.returncode}:\n{self._stderr_tail()}")
            time.sleep(0.05)
        raise BrowserError(f"{self.executable} did not open DevTools within {self.start_timeout:g}s:\n{self._stderr_tail()}")

    def _stderr_tail(self, lines: int = 20) -> str:
        log = self._root / "stderr.log" if self._root else None
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log and log.exists() else ""
        return tail or "(nothing on stderr)"

    def close(self) -> None:
        """Socket, browser (killed if it lingers), profile: all gone, whatever state the start reached."""
        if self._ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                self._ws.close(timeout=1)
            self._ws = None
        if self._process is not None:
            self._stop(self._process.pid)
            self._process = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _stop(self, group: int) -> None:
        """End the browser's process group (ours alone): politely, then by force once the browser is gone or stuck.

        The final kill keeps helpers that outlive the browser from writing into the profile while it is removed.
        (They are usually zombies by then, whose reaping is up to init: waiting for the group to vanish can take seconds.)
        """
        assert self._process is not None
        _signal_group(group, signal.SIGTERM)
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            self._process.wait(timeout=5)
        _signal_group(group, signal.SIGKILL)

    # The protocol: commands with increasing ids, replies matched by id, events kept until someone wants them.

    def _receive(self, deadline: float) -> dict[str, Any]:
        """The next message; select first so a timeout never interrupts a frame half read."""
        if self._ws is None or self._ws.sock is None:
            raise BrowserError("the browser is not running (use HeadlessChromium in a with block)")
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self._ws.sock], [], [], remaining)[0]:
            raise TimeoutError
        try:
            message: dict[str, Any] = json.loads(self._ws.recv())
        except (OSError, websocket.WebSocketException) as lost:
            raise BrowserError(f"lost the browser ({lost!r}):\n{self._stderr_tail()}") from lost
        if message.get("method") == "Network.requestWillBeSent":
            self._requests.append(message["params"]["request"]["url"])
        elif "method" in message:
            self._events.append(message)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 15.0) -> dict[str, Any]:
        """Send one command and return its result, raising the protocol's error message when it has one."""
        if self._ws is None:
            raise BrowserError("the browser is not running (use HeadlessChromium in a with block)")
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._receive(deadline)
            except TimeoutError:
                raise BrowserError(f"no reply to {method} within {timeout:g}s") from None
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error'].get('message', message['error'])}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait_for(self, method: str, timeout: float = 15.0) -> dict[str, Any]:
        """The params of the oldest unclaimed `method` event, reading more messages until one comes."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self._events:
                if event["method"] == method:
                    self._events.remove(event)
                    params: dict[str, Any] = event.get("params", {})
                    return params
            try:
                self._receive(deadline)
            except TimeoutError:
                raise BrowserError(f"no {method} within {timeout:g}s") from None

    def _drain(self) -> None:
        """Read what has already arrived, without waiting for more."""
        with contextlib.suppress(TimeoutError):
            while True:
                self._receive(time.monotonic() + 0.001)

    # What tests and the demo use.

    def open(self, url: str, timeout: float = 15.0) -> None:
        """Navigate and wait for the load event, so what follows measures a page that finished loading."""
        self._drain()
        self._events = deque((e for e in self._events if e["method"] != "Page.loadEventFired"), maxlen=self._events.maxlen)
        self._requests.clear()
        navigated = self.call("Page.navigate", {"url": url}, timeout)
        if navigated.get("errorText"):
            raise BrowserError(f"could not open {url}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired", timeout)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of an expression (awaited when it is a promise); a JS exception raises with its text."""
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise BrowserError(f"JS exception: {details.get('exception', {}).get('description') or details.get('text')}")
        return answer["result"].get("value")

    def screenshot(self, path: str | Path, full_page: bool = True) -> Path:
        """A PNG of the viewport, or of the whole page: the content's size as clip, drawn beyond the viewport."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params |= {"captureBeyondViewport": True, "clip": clip}
        data = base64.b64decode(self.call("Page.captureScreenshot", params, timeout=30)["data"])
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def requests_made(self) -> list[str]:
        """Every URL the page requested since the last open(): proof a page is self-contained, or not."""
        self._drain()
        return list(self._requests)
