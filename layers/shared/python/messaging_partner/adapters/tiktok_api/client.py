"""The TikTok Business API client: envelope, error codes, retries (reference/tiktok.md section 2).

Every answer is {code, message, request_id, data} with HTTP 200, errors included; throttling
is code 40100/40016/40133, never HTTP 429. Each call and its retries end by the invocation's
deadline (deadline.py): a hanging TikTok costs a record, not the function's timeout. How a failed call is tried again is a
RetryPolicy (domain/errors.py): by default GETs retry throttling, system errors and network
faults; POSTs only throttling, because TikTok has no idempotency keys and a retried POST can
act twice (40050 "duplicated request"). A network fault says whether the request may have
reached TikTok (TikTokTransportError.answer_lost): a refused connection cannot have acted, a
read timeout may have. A caller with its own rules passes its own policy (domain/tokens.py
REFRESH_RETRY).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from messaging_partner.domain.errors import SAFE_TO_REPEAT, THROTTLING_ONLY, RetryPolicy, TikTokApiError, TikTokTransportError

from .deadline import seconds_left

DEFAULT_TIMEOUT = (3.05, 10.0)  # connect, read
MIN_CALL_SECONDS = 0.5  # less time than this left: the call is not started


def never_sent(error: requests.RequestException) -> bool:
    """The connection was never made (refused, unresolved name, connect timeout): TikTok cannot have acted.

    Anything else (a read timeout, a connection dropped mid-answer) may come after TikTok acted.
    """
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or not error.args:
        return False
    # requests wraps urllib3's MaxRetryError, whose reason is a NewConnectionError (a ConnectTimeoutError) when
    # no connection was made; matched by name, as this package does not import urllib3 itself.
    reason = getattr(error.args[0], "reason", None)
    return any(kind.__name__ == "ConnectTimeoutError" for kind in type(reason).__mro__)


class TikTokClient:
    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        pace: Callable[[], None] | None = None,
    ) -> None:
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._session = session or requests.Session()
        self._timeout = timeout
        self._sleep = sleep
        self._pace = pace  # waits for this container's turn before each request, retries included (pacing.py)

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        access_token: str | None = None,
        retry: RetryPolicy = SAFE_TO_REPEAT,
    ) -> dict[str, Any]:
        return self._call("GET", path, access_token, retry, params=params)

    def post(
        self, path: str, body: Mapping[str, Any], access_token: str | None = None, retry: RetryPolicy = THROTTLING_ONLY
    ) -> dict[str, Any]:
        return self._call("POST", path, access_token, retry, json=body)

    def _call(self, method: str, path: str, access_token: str | None, retry: RetryPolicy, **request: Any) -> dict[str, Any]:
        url = self._base_url + path.strip("/") + "/"  # TikTok answers 404 without the trailing slash
        headers = {"Access-Token": access_token} if access_token else {}
        retries_done = 0
        while True:
            try:
                return self._once(method, url, path, headers, request)
            except (TikTokApiError, TikTokTransportError) as error:
                wait = retry.backoff(error, retries_done)
                left = seconds_left()
                if wait is None or (left is not None and wait >= left):  # no retry, or no time to wait for one
                    raise
            self._sleep(wait)
            retries_done += 1

    def _once(self, method: str, url: str, path: str, headers: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
        if self._pace is not None:
            self._pace()
        left = seconds_left()
        if left is not None and left <= MIN_CALL_SECONDS:
            raise TikTokTransportError(
                f"TikTok API {path} not called: this invocation's time for TikTok calls is spent", answer_lost=False
            )
        connect, read = self._timeout
        timeout = self._timeout if left is None else (min(connect, left), min(read, left))
        try:
            response = self._session.request(method, url, headers=headers, timeout=timeout, **request)
        except requests.RequestException as error:
            if never_sent(error):
                raise TikTokTransportError(f"TikTok API {path} unreachable: {type(error).__name__}", answer_lost=False) from None
            raise TikTokTransportError(f"TikTok API {path} answer lost: {type(error).__name__}") from None
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
