"""A TikTok Business API emulator for the endpoints the backend calls (reference/tiktok.md section 2).

What it keeps of the real API: every answer is the envelope {code, message, request_id, data};
API errors come back with HTTP 200; paths need their trailing slash (without it: HTTP 404
"404 page not found"); a token goes in the Access-Token header.

Control (not part of TikTok's API):
  POST   /_emulator/faults  {"code": 40100, "times": 2, "path": "/oauth2/advertiser/get/", "delay_ms": 0}
  DELETE /_emulator/faults
  GET    /_emulator/calls   every API call received, in order
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_PREFIX = "/open_api/v1.3"

ERROR_MESSAGES = {
    40001: "No permission to operate this advertiser.",
    40002: "Parameter error.",
    40100: "Requests made too frequently. Please slow down.",
    40102: "Access token has expired.",
    40104: "Access token is null, you should set it in http header with key Access-Token.",
    40105: "Access token is incorrect or has been revoked.",
    40107: "Refresh token is invalid.",
    40113: "The app is blocked or the app_id and secret do not match.",
    50000: "System error, please retry later.",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_MESSAGES.get(code, "Error"))
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "Error")


@dataclass
class ApiRequest:
    method: str
    path: str  # without the /open_api/v1.3 prefix, with its trailing slash
    query: dict[str, str]
    body: dict[str, Any]
    access_token: str | None


@dataclass
class Fault:
    code: int | None
    times: int
    path: str | None
    delay_ms: int

    def applies_to(self, path: str) -> bool:
        return self.times > 0 and (self.path is None or self.path == path)


@dataclass
class EmulatorState:
    app_id: str
    app_secret: str
    advertiser_tokens: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.applies_to(path):
                    fault.times -= 1
                    return fault
        return None


Endpoint = Callable[[EmulatorState, ApiRequest], dict[str, Any]]


def _check_app(state: EmulatorState, app_id: str | None, secret: str | None) -> None:
    if app_id != state.app_id or secret != state.app_secret:
        raise ApiError(40113)


def advertiser_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """GET /oauth2/advertiser/get/?app_id=&secret= with Access-Token: the ad accounts the token reaches."""
    _check_app(state, request.query.get("app_id"), request.query.get("secret"))
    if not request.access_token:
        raise ApiError(40104)
    advertisers = state.advertiser_tokens.get(request.access_token)
    if advertisers is None:
        raise ApiError(40105)
    return {"list": advertisers}


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/oauth2/advertiser/get/"): advertiser_get,
}


def default_state(app_id: str, app_secret: str) -> EmulatorState:
    """A seeded catalogue the demo and tests share."""
    return EmulatorState(
        app_id=app_id,
        app_secret=app_secret,
        advertiser_tokens={
            "local-advertiser-token": [
                {"advertiser_id": "7100000000000000001", "advertiser_name": "Demo Sneakers"},
                {"advertiser_id": "7100000000000000002", "advertiser_name": "Demo Sneakers EU"},
            ]
        },
    )


def make_server(host: str, port: int, state: EmulatorState) -> ThreadingHTTPServer:
    class EmulatorHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if split.path.startswith("/_emulator/"):
                self._control(split.path, raw)
                return
            if not split.path.startswith(API_PREFIX + "/") or not split.path.endswith("/"):
                self._send_text(404, "404 page not found")
                return
            path = split.path[len(API_PREFIX) :]
            endpoint = ENDPOINTS.get((self.command, path))
            if endpoint is None:
                self._send_text(404, "404 page not found")
                return
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                self._envelope(40002, "Request body is not valid JSON.", {})
                return
            request = ApiRequest(self.command, path, dict(parse_qsl(split.query)), body, self.headers.get("Access-Token"))
            with state.lock:
                state.calls.append({"method": self.command, "path": path, "at": time.time()})
            fault = state.take_fault(path)
            if fault is not None:
                if fault.delay_ms:
                    time.sleep(fault.delay_ms / 1000)
                if fault.code is not None:
                    self._envelope(fault.code, ERROR_MESSAGES.get(fault.code, "Injected fault."), {})
                    return
            try:
                data = endpoint(state, request)
            except ApiError as error:
                self._envelope(error.code, error.message, {})
                return
            self._envelope(0, "OK", data)

        def _control(self, path: str, raw: bytes) -> None:
            if path == "/_emulator/faults" and self.command == "POST":
                spec = json.loads(raw or b"{}")
                fault = Fault(spec.get("code"), int(spec.get("times", 1)), spec.get("path"), int(spec.get("delay_ms", 0)))
                with state.lock:
                    state.faults.append(fault)
                self._send_json(200, {"faults": len(state.faults)})
            elif path == "/_emulator/faults" and self.command == "DELETE":
                with state.lock:
                    state.faults.clear()
                self._send_json(200, {"faults": 0})
            elif path == "/_emulator/calls" and self.command == "GET":
                with state.lock:
                    calls = list(state.calls)
                self._send_json(200, {"calls": calls})
            else:
                self._send_json(404, {"message": "Unknown emulator control path"})

        def _envelope(self, code: int, message: str, data: dict[str, Any]) -> None:
            request_id = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:16]
            self._send_json(200, {"code": code, "message": message, "request_id": request_id, "data": data})

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(payload).encode())

        def _send_text(self, status: int, text: str) -> None:
            self._send(status, "text/plain; charset=utf-8", text.encode())

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer((host, port), EmulatorHandler)
    server.daemon_threads = True
    return server
