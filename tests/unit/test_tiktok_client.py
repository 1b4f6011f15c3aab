"""The TikTok client against a scripted session: envelope, error codes and retry rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from messaging_partner.adapters.tiktok_api.auth import TikTokAuthApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.domain.errors import ADVERTISER_TOKEN_REVOKED, TikTokApiError, TikTokTransportError


@dataclass
class FakeResponse:
    status_code: int
    payload: Any

    def json(self) -> Any:
        if isinstance(self.payload, Exception):
            raise self.payload
        return self.payload


@dataclass
class ScriptedSession:
    answers: list[Any]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def envelope(code: int, data: Any = None, message: str = "OK") -> FakeResponse:
    return FakeResponse(200, {"code": code, "message": message, "request_id": "2026112204", "data": data or {}})


def client(*answers: Any) -> tuple[TikTokClient, ScriptedSession, list[float]]:
    session, sleeps = ScriptedSession(list(answers)), []
    return TikTokClient("http://tiktok.test/open_api/v1.3", session=session, sleep=sleeps.append), session, sleeps  # type: ignore[arg-type]


def test_success_returns_data_and_sends_header_and_trailing_slash() -> None:
    api, session, _ = client(envelope(0, {"list": [{"advertiser_id": "1", "advertiser_name": "Shoes"}]}))
    advertisers = TikTokAuthApi(api).authorized_advertisers("app", "secret", "token-1")
    assert [a.advertiser_id for a in advertisers] == ["1"]
    call = session.calls[0]
    assert call["url"] == "http://tiktok.test/open_api/v1.3/oauth2/advertiser/get/"
    assert call["headers"] == {"Access-Token": "token-1"}
    assert call["timeout"] == (3.05, 10.0)


def test_api_error_arrives_with_http_200() -> None:
    api, _, sleeps = client(envelope(40105, message="Access token is incorrect"))
    with pytest.raises(TikTokApiError) as error:
        api.get("oauth2/advertiser/get/")
    assert error.value.code == 40105
    assert error.value.code in ADVERTISER_TOKEN_REVOKED
    assert sleeps == []


def test_throttling_backs_off_and_retries() -> None:
    api, session, sleeps = client(envelope(40100), envelope(40100), envelope(0, {"ok": True}))
    assert api.get("ad/get/") == {"ok": True}
    assert len(session.calls) == 3
    assert sleeps == [1.0, 2.0]


def test_throttling_gives_up_after_max_retries() -> None:
    api, _, sleeps = client(envelope(40133), envelope(40133), envelope(40133))
    with pytest.raises(TikTokApiError) as error:
        api.get("ad/get/")
    assert error.value.is_throttled
    assert len(sleeps) == 2


def test_system_error_retried_for_get_not_for_post() -> None:
    api, _, _ = client(envelope(50000), envelope(0, {"x": 1}))
    assert api.get("ad/get/") == {"x": 1}
    api, session, _ = client(envelope(50000))
    with pytest.raises(TikTokApiError):
        api.post("event/track/", {"event_source": "x"})
    assert len(session.calls) == 1  # no idempotency keys: a retried POST could act twice


def test_post_retried_on_throttling() -> None:
    api, session, _ = client(envelope(40100), envelope(0))
    api.post("event/track/", {})
    assert len(session.calls) == 2
    assert session.calls[0]["json"] == {}


@pytest.mark.parametrize(
    "answer",
    [FakeResponse(404, "404 page not found"), FakeResponse(200, ValueError("not json")), requests.ConnectionError("refused")],
)
def test_transport_errors(answer: Any) -> None:
    api, session, _ = client(answer, answer, answer)
    with pytest.raises(TikTokTransportError):
        api.get("ad/get/")
    assert len(session.calls) == 3


def test_partial_success_is_success() -> None:
    api, _, _ = client(envelope(20001, {"list": []}))
    assert api.get("ad/get/") == {"list": []}
