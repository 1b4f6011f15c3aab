"""The TikTok client against a scripted session: envelope, error codes and retry rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from messaging_partner.adapters.tiktok_api.auth import TikTokAuthApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.adapters.tiktok_api.deadline import calls_end_within
from messaging_partner.adapters.tiktok_api.reports import TikTokReportsApi
from messaging_partner.domain.errors import ADVERTISER_TOKEN_REVOKED, RetryPolicy, TikTokApiError, TikTokTransportError
from messaging_partner.domain.reports import ReportPagesDisagree


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


def refused_connection() -> requests.ConnectionError:
    """What requests raises when nothing listens on the port (as measured): no request left this machine."""
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/open_api/v1.3/tt_user/oauth2/refresh_token/", refused))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "lost"),
    [
        (requests.ReadTimeout("read timed out"), True),  # TikTok may have acted and answered too late
        (requests.ConnectionError("Connection aborted: RemoteDisconnected"), True),
        (FakeResponse(502, "bad gateway"), True),
        (FakeResponse(200, ValueError("not json")), True),
        (requests.ConnectTimeout("connect timed out"), False),  # never sent: TikTok cannot have acted
        (refused_connection(), False),
    ],
)
def test_a_transport_error_says_whether_tiktok_may_have_acted(answer: Any, lost: bool) -> None:
    api, _, _ = client(answer)
    with pytest.raises(TikTokTransportError) as error:
        api.post("tt_user/oauth2/refresh_token/", {})
    assert error.value.answer_lost is lost
    assert ("answer lost" in str(error.value) or "HTTP" in str(error.value) or "not JSON" in str(error.value)) is lost


def test_a_policy_can_repeat_what_never_left_and_not_what_may_have_acted() -> None:
    policy = RetryPolicy(system_errors=False, unreachable=True, answer_lost=False)
    api, session, _ = client(refused_connection(), envelope(0, {"ok": True}))
    assert api.post("tt_user/oauth2/refresh_token/", {}, retry=policy) == {"ok": True}
    api, session, _ = client(requests.ReadTimeout("read timed out"), envelope(0, {"ok": True}))
    with pytest.raises(TikTokTransportError):
        api.post("tt_user/oauth2/refresh_token/", {}, retry=policy)
    assert len(session.calls) == 1
    with calls_end_within(0.1), pytest.raises(TikTokTransportError, match="not called") as error:
        api.post("tt_user/oauth2/refresh_token/", {}, retry=policy)
    assert error.value.answer_lost is False


def test_partial_success_is_success() -> None:
    api, _, _ = client(envelope(20001, {"list": []}))
    assert api.get("ad/get/") == {"list": []}


# ---------------------------------------------------------------- the report endpoint


def report_page(rows: list[dict[str, Any]], page: int, total_page: int | None, total_number: int | None) -> FakeResponse:
    page_info = {"page": page, "page_size": 2}
    if total_page is not None:
        page_info.update(total_page=total_page, total_number=total_number)
    return envelope(0, {"list": rows, "page_info": page_info})


def report_row(ad_id: str, day: str = "2026-11-30") -> dict[str, Any]:
    return {"dimensions": {"ad_id": ad_id, "stat_time_day": f"{day} 00:00:00"}, "metrics": {"spend": "1.50"}}


def test_a_report_is_read_page_by_page_with_the_documented_query() -> None:
    api, session, _ = client(
        report_page([report_row("1"), report_row("2")], 1, 2, 3),
        report_page([report_row("3")], 2, 2, 3),
    )
    report = TikTokReportsApi(api, page_size=2).ad_days("7100", "token", "2026-11-29", "2026-11-30")
    assert ([row.ad_id for row in report.rows], report.calls) == (["1", "2", "3"], 2)
    query = session.calls[0]["params"]
    assert (query["report_type"], query["data_level"], query["page"], query["page_size"]) == ("BASIC", "AUCTION_AD", 1, 2)
    assert json.loads(query["dimensions"]) == ["ad_id", "stat_time_day"]
    assert {"spend", "impressions", "clicks", "conversion"} <= set(json.loads(query["metrics"]))
    (status_filter,) = json.loads(query["filtering"])
    assert (status_filter["field_name"], json.loads(status_filter["filter_value"])) == ("ad_status", ["STATUS_ALL"])
    assert session.calls[1]["params"]["page"] == 2


def test_a_report_without_page_info_is_one_page_and_an_empty_page_ends_it() -> None:
    api, _, _ = client(report_page([report_row("1")], 1, None, None))
    assert len(TikTokReportsApi(api).ad_days("7100", "token", "2026-11-30", "2026-11-30").rows) == 1
    api, session, _ = client(report_page([report_row("1")], 1, 5, 1), report_page([], 2, 5, 1))
    assert len(TikTokReportsApi(api).ad_days("7100", "token", "2026-11-30", "2026-11-30").rows) == 1
    assert len(session.calls) == 2


def test_pages_that_shifted_while_being_read_are_refused() -> None:
    api, _, _ = client(report_page([report_row("1"), report_row("2")], 1, 2, 4), report_page([report_row("2")], 2, 2, 4))
    with pytest.raises(ReportPagesDisagree):
        TikTokReportsApi(api, page_size=2).ad_days("7100", "token", "2026-11-30", "2026-11-30")


def test_report_calls_are_paced_retries_included() -> None:
    paced: list[int] = []
    session = ScriptedSession([envelope(40100), report_page([report_row("1")], 1, 1, 1)])
    api = TikTokClient("http://tiktok.test/open_api/v1.3", session=session, sleep=lambda _: None, pace=lambda: paced.append(1))  # type: ignore[arg-type]
    TikTokReportsApi(api).ad_days("7100", "token", "2026-11-30", "2026-11-30")
    assert len(paced) == len(session.calls) == 2


def test_calls_and_their_retries_end_by_the_invocations_deadline() -> None:
    api, session, sleeps = client(TikTokTransportError("hung"), envelope(0))
    session.answers[0] = requests.ReadTimeout("read timed out")
    # The 1 s backoff would pass the deadline: the call fails now.
    with calls_end_within(0.8), pytest.raises(TikTokTransportError, match="answer lost"):
        api.get("ad/get/", {"advertiser_id": "1"})
    assert sleeps == []
    assert session.calls[0]["timeout"][1] <= 0.8  # the read timeout shrinks to the time left
    with calls_end_within(0.1), pytest.raises(TikTokTransportError, match="not called"):
        api.get("ad/get/", {"advertiser_id": "1"})
    assert len(session.calls) == 1
