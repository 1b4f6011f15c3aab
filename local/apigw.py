"""An HTTP API (payload format 2.0) stand-in: HTTP request -> v2 event -> handler -> HTTP response.

Routes come from the HttpApi events in template.yaml. The body reaches the handler byte
for byte: as text when it is UTF-8 text, otherwise base64 with isBase64Encoded, as API
Gateway does. Admin routes are not IAM-checked here (as with `sam local`), so the server
binds to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .template import ACCOUNT_ID, HttpRoute

Invoke = Callable[[str, dict[str, Any]], Any]
ControlHandler = Callable[[str, str, bytes], tuple[int, Any] | None]

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded", "application/javascript")


@dataclass(frozen=True)
class CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    specificity: tuple[int, int]

    @classmethod
    def compile(cls, route: HttpRoute) -> CompiledRoute:
        parts, literal_segments = [], 0
        for segment in route.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            named = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                parts.append(f"(?P<{greedy.group(1)}>.+)")
            elif named:
                parts.append(f"(?P<{named.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
                literal_segments += 1
        pattern = re.compile("^/" + "/".join(parts) + "$")
        # HTTP API prefers the most literal route, then an exact method over ANY.
        return cls(route, pattern, (literal_segments, 0 if route.method == "ANY" else 1))


class Router:
    def __init__(self, routes: list[HttpRoute]) -> None:
        self._routes = sorted((CompiledRoute.compile(r) for r in routes), key=lambda c: c.specificity, reverse=True)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


def build_v2_event(
    route: HttpRoute,
    path_parameters: dict[str, str],
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    split = urlsplit(target)
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    headers = {"x-forwarded-proto": "http", **headers}  # API Gateway adds it; locally the scheme is http
    content_type = headers.get("content-type", "")
    is_text = not body or (content_type.startswith(_TEXT_TYPES) and _is_utf8(body))
    now = datetime.now(UTC)
    route_key = f"{route.method} {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": split.path,
        "rawQueryString": split.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": headers.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": method,
                "path": split.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode()
    return event


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def response_parts(result: Any) -> tuple[int, dict[str, str], bytes]:
    """A handler's return value as HTTP API turns it into a response (format 2.0 rules)."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for cookie in result.get("cookies") or []:
            headers.setdefault("set-cookie", cookie)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return int(result["statusCode"]), headers, raw
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()


def make_server(host: str, port: int, router: Router, invoke: Invoke, control: ControlHandler) -> ThreadingHTTPServer:
    class ApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            if path.startswith("/_local/"):
                answer = control(self.command, self.path, body)
                status, payload = answer if answer else (404, {"message": "Unknown control path"})
                self._send(status, {"content-type": "application/json"}, json.dumps(payload).encode())
                return
            matched = router.match(self.command, path)
            if matched is None:
                self._send(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
                return
            route, path_parameters = matched
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]},{value}" if key in headers else value
            event = build_v2_event(route, path_parameters, self.command, self.path, headers, body, self.client_address[0])
            try:
                status, response_headers, payload = response_parts(invoke(route.function, event))
            except Exception as error:  # a crashed handler is a 500, as in API Gateway
                status, response_headers = 500, {"content-type": "application/json"}
                payload = json.dumps({"message": "Internal Server Error", "error": type(error).__name__}).encode()
            self._send(status, response_headers, payload)

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        def __getattr__(self, name: str) -> Any:
            # HTTP APIs route GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS (ANY means those); any other method
            # (TRACE, CONNECT, QUERY, ...) never reaches a function. http.server would answer 501 with an HTML page.
            if name.startswith("do_"):
                return self._not_routed
            raise AttributeError(name)

        def _not_routed(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))  # or it would be read as the next request
            self._send(405, {"content-type": "application/json"}, b'{"message":"Method Not Allowed"}')

    server = ThreadingHTTPServer((host, port), ApiHandler)
    server.daemon_threads = True
    return server
