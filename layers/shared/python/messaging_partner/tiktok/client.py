"""The TikTok Business API client: envelope, error codes, retries (reference/tiktok.md section 2).

Every answer is {code, message, request_id, data} with HTTP 200, errors included; throttling
is code 40100/40016/40133, never HTTP 429. GETs are retried on throttling and system errors;
POSTs only on throttling, because TikTok has no idempotency keys and a retried POST can
act twice (40050 "duplicated request").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

THROTTLED = frozenset({40100, 40016, 40133})
SYSTEM_ERRORS = frozenset({50000, 50002, 51065, 60001})
ACCESS_TOKEN_INVALID = frozenset({40102, 40105, 40106})
REFRESH_TOKEN_INVALID = frozenset({40103, 40107})

DEFAULT_TIMEOUT = (3.05, 10.0)  # connect, read


class TikTokApiError(Exception):
    def __init__(self, code: int, message: str, request_id: str | None = None, path: str = "") -> None:
        super().__init__(f"TikTok API {path} answered code {code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.path = path

    @property
    def is_throttled(self) -> bool:
        return self.code in THROTTLED

    @property
    def is_system_error(self) -> bool:
        return self.code in SYSTEM_ERRORS

    @property
    def needs_reauthorization(self) -> bool:
        return self.code in ACCESS_TOKEN_INVALID or self.code in REFRESH_TOKEN_INVALID


class TikTokTransportError(Exception):
    """No envelope came back: a network fault, an HTTP error status, or a body that is not JSON."""


class TikTokClient:
    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        first_backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._session = session or requests.Session()
        self._timeout = timeout
        self._max_retries = max_retries
        self._first_backoff = first_backoff_seconds
        self._sleep = sleep

    def get(self, path: str, params: Mapping[str, Any] | None = None, access_token: str | None = None) -> dict[str, Any]:
        return self._call("GET", path, access_token, params=params)

    def post(
        self, path: str, body: Mapping[str, Any], access_token: str | None = None, retry_system_errors: bool = False
    ) -> dict[str, Any]:
        """retry_system_errors: only for POSTs that are safe to repeat (a token refresh, not a signal)."""
        return self._call("POST", path, access_token, retry_system_errors, json=body)

    def _call(
        self, method: str, path: str, access_token: str | None, retry_system_errors: bool = False, **request: Any
    ) -> dict[str, Any]:
        url = self._base_url + path.strip("/") + "/"  # TikTok answers 404 without the trailing slash
        headers = {"Access-Token": access_token} if access_token else {}
        attempt = 0
        while True:
            try:
                return self._once(method, url, path, headers, request)
            except TikTokApiError as error:
                retryable = error.is_throttled or ((method == "GET" or retry_system_errors) and error.is_system_error)
                if not retryable or attempt >= self._max_retries:
                    raise
            except TikTokTransportError:
                if (method != "GET" and not retry_system_errors) or attempt >= self._max_retries:
                    raise
            self._sleep(self._first_backoff * 2**attempt)
            attempt += 1

    def _once(self, method: str, url: str, path: str, headers: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._session.request(method, url, headers=headers, timeout=self._timeout, **request)
        except requests.RequestException as error:
            raise TikTokTransportError(f"TikTok API {path} unreachable: {type(error).__name__}") from None
        if response.status_code != 200:
            raise TikTokTransportError(f"TikTok API {path} answered HTTP {response.status_code}")
        try:
            envelope = response.json()
        except ValueError:
            raise TikTokTransportError(f"TikTok API {path} answered a body that is not JSON") from None
        code = int(envelope.get("code", -1))
        if code not in (0, 20001):  # 20001: partial success, data still usable
            raise TikTokApiError(code, str(envelope.get("message", "")), envelope.get("request_id"), path)
        data = envelope.get("data") or {}
        return data if isinstance(data, dict) else {"value": data}
