"""The TikTok emulator as our client meets it: envelope, trailing slash, error codes, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from local.tiktok_emulator import report_numbers
from messaging_partner.adapters.tiktok_api.auth import TikTokAuthApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.domain.errors import TikTokApiError, TikTokTransportError
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
APP_ID, APP_SECRET, TOKEN = "local-tiktok-app", "local-tiktok-app-secret", "local-advertiser-token"


@pytest.fixture
def tiktok(stack: RunningStack) -> Iterator[TikTokClient]:
    requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5)
    yield TikTokClient(f"{stack.tiktok}/open_api/v1.3/", sleep=lambda _: None)
    requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5)


def inject(stack: RunningStack, **fault: object) -> None:
    requests.post(f"{stack.tiktok}/_emulator/faults", json=fault, timeout=5).raise_for_status()


def test_advertisers_of_a_token(tiktok: TikTokClient) -> None:
    advertisers = TikTokAuthApi(tiktok).authorized_advertisers(APP_ID, APP_SECRET, TOKEN)
    assert [a.advertiser_name for a in advertisers] == ["Demo Sneakers", "Demo Sneakers EU"]


def test_envelope_and_http_200_on_errors(stack: RunningStack) -> None:
    answer = requests.get(
        f"{stack.tiktok}/open_api/v1.3/oauth2/advertiser/get/",
        params={"app_id": APP_ID, "secret": "wrong"},
        headers={"Access-Token": TOKEN},
        timeout=5,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert (body["code"], body["data"]) == (40113, {})


def test_trailing_slash_is_required(stack: RunningStack) -> None:
    answer = requests.get(f"{stack.tiktok}/open_api/v1.3/oauth2/advertiser/get", timeout=5)
    assert (answer.status_code, answer.text) == (404, "404 page not found")


@pytest.mark.parametrize(("token", "code"), [(None, 40104), ("revoked", 40105)])
def test_token_errors(tiktok: TikTokClient, token: str | None, code: int) -> None:
    with pytest.raises(TikTokApiError) as error:
        tiktok.get("oauth2/advertiser/get/", {"app_id": APP_ID, "secret": APP_SECRET}, access_token=token)
    assert error.value.code == code


def test_throttling_fault_is_retried_through(stack: RunningStack, tiktok: TikTokClient) -> None:
    calls_before = len(requests.get(f"{stack.tiktok}/_emulator/calls", timeout=5).json()["calls"])
    inject(stack, code=40100, times=2, path="/oauth2/advertiser/get/")
    assert len(TikTokAuthApi(tiktok).authorized_advertisers(APP_ID, APP_SECRET, TOKEN)) == 2
    assert len(requests.get(f"{stack.tiktok}/_emulator/calls", timeout=5).json()["calls"]) - calls_before == 3


@pytest.mark.parametrize("code", [40102, 50000])
def test_injected_error_codes(stack: RunningStack, tiktok: TikTokClient, code: int) -> None:
    inject(stack, code=code, times=5)
    with pytest.raises(TikTokApiError) as error:
        TikTokAuthApi(tiktok).authorized_advertisers(APP_ID, APP_SECRET, TOKEN)
    assert error.value.code == code


def test_delay_fault_hits_the_client_timeout(stack: RunningStack) -> None:
    inject(stack, delay_ms=1500, times=3)
    slow = TikTokClient(f"{stack.tiktok}/open_api/v1.3/", timeout=(1.0, 0.3), sleep=lambda _: None)
    with pytest.raises(TikTokTransportError):
        TikTokAuthApi(slow).authorized_advertisers(APP_ID, APP_SECRET, TOKEN)


HASH = "a" * 64


def track(stack: RunningStack, body: dict[str, object], token: str = TOKEN) -> dict[str, object]:
    answer = requests.post(f"{stack.tiktok}/open_api/v1.3/event/track/", json=body, headers={"Access-Token": token}, timeout=5)
    return dict(answer.json())


def event(event_id: str = "e2e-1", **fields: object) -> dict[str, object]:
    return {"event": "Lead", "event_time": 1_763_800_000, "event_id": event_id, "user": {"external_id": [HASH]}, **fields}


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"event_source": "messaging", "event_source_id": "7200000000000000001", "data": [event()]}, 40002, "event_source"),
        ({"event_source": "crm", "event_source_id": "someone-elses-set", "data": [event()]}, 40001, "event set"),
        ({"event_source": "crm", "event_source_id": "7200000000000000001", "data": []}, 40002, "1 to 1000"),
        ({"event_source": "crm", "event_source_id": "7200000000000000001", "data": [event()] * 1001}, 40002, "1 to 1000"),
        (
            {"event_source": "crm", "event_source_id": "7200000000000000001", "data": [event(event="Paid")]},
            40002,
            "data[0].event",
        ),
        (
            {"event_source": "crm", "event_source_id": "7200000000000000001", "data": [event(user={"phone": ["+351910000001"]})]},
            40002,
            "data[0].user.phone",
        ),
        ({"event_source": "crm", "event_source_id": "7200000000000000001", "data": [event(event_time=1)]}, 40002, "event_time"),
    ],
    ids=["unknown source", "foreign event set", "no events", "too many", "unknown event", "unhashed phone", "bad time"],
)
def test_event_track_validates_like_tiktok(stack: RunningStack, body: dict[str, object], code: int, words: str) -> None:
    answer = track(stack, body)
    assert answer["code"] == code
    assert words in str(answer["message"])


def test_event_track_keeps_one_event_per_set_id_and_event(stack: RunningStack) -> None:
    body = {"event_source": "crm", "event_source_id": "7200000000000000001", "data": [event("e2e-dedupe"), event("e2e-dedupe")]}
    assert track(stack, body)["code"] == 0
    assert track(stack, body)["code"] == 0
    accepted = requests.get(f"{stack.tiktok}/_emulator/events", timeout=5).json()["events"]
    assert [e["event_id"] for e in accepted].count("e2e-dedupe") == 1
    calls = requests.get(f"{stack.tiktok}/_emulator/calls", timeout=5).json()["calls"]
    assert calls[-1]["body"]["data"][0]["event_id"] == "e2e-dedupe"  # what left for TikTok can be read back


def test_event_track_needs_a_known_token(stack: RunningStack) -> None:
    assert track(stack, {"event_source": "crm"}, token="nobody")["code"] == 40105


def test_a_report_paged_two_rows_at_a_time(stack: RunningStack, tiktok: TikTokClient) -> None:
    """Three days ending yesterday, three live demo ads: nine rows over five pages, each row once, in order."""
    last = datetime.now(UTC).date() - timedelta(days=1)
    days = [(last - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    query = {
        "advertiser_id": "7100000000000000001",
        "report_type": "BASIC",
        "data_level": "AUCTION_AD",
        "dimensions": json.dumps(["ad_id", "stat_time_day"]),
        "metrics": json.dumps(["spend", "impressions", "messaging_total_conversation_tiktok_direct_message"]),
        "start_date": days[0],
        "end_date": days[-1],
        "page_size": 2,
    }
    rows, page, pages = [], 1, 1
    while page <= pages:
        data = tiktok.get("report/integrated/get/", {**query, "page": page}, access_token=TOKEN)
        assert (data["page_info"]["page"], data["page_info"]["total_number"]) == (page, 9)
        pages = data["page_info"]["total_page"]
        rows += data["list"]
        page += 1
    assert pages == 5
    ads = ["1790000000000001", "1790000000000002", "1790000000000003"]
    assert [(r["dimensions"]["stat_time_day"], r["dimensions"]["ad_id"]) for r in rows] == [
        (f"{day} 00:00:00", ad) for day in days for ad in ads
    ]
    for row in rows:
        expected = report_numbers("7100000000000000001", row["dimensions"]["ad_id"], row["dimensions"]["stat_time_day"][:10])
        assert (row["metrics"]["spend"], row["metrics"]["impressions"]) == (expected["spend"], expected["impressions"])
    whatsapp = [r["metrics"] for r in rows if r["dimensions"]["ad_id"] == ads[2]]
    assert {m["messaging_total_conversation_tiktok_direct_message"] for m in whatsapp} == {"0"}  # Instant Messaging, not DMs
    calls = requests.get(f"{stack.tiktok}/_emulator/calls", timeout=5).json()["calls"]
    assert [c["code"] for c in calls if c["path"] == "/report/integrated/get/"][-5:] == [0] * 5


def api(stack: RunningStack, path: str, token: str, **query: object) -> int:
    answer = requests.get(f"{stack.tiktok}/open_api/v1.3/{path}", params=query, headers={"Access-Token": token}, timeout=5)
    return int(answer.json()["code"])


def test_controls_for_many_ad_accounts(stack: RunningStack, tiktok: TikTokClient) -> None:
    """Seeded advertisers, a fault for one of them, a revoked one and the app's QPS, set over HTTP as a benchmark would."""
    control, bench = f"{stack.tiktok}/_emulator", "bench-advertiser-token"
    seeded = requests.post(f"{control}/advertisers", json={"count": 2, "token": bench}, timeout=5).json()
    first, second = seeded["advertiser_ids"]
    assert requests.post(f"{control}/advertisers", json={"count": 2, "token": bench}, timeout=5).json() == seeded
    info = tiktok.get("advertiser/info/", {"advertiser_ids": json.dumps([first, second])}, access_token=bench)
    assert {a["currency"] for a in info["list"]} == {"USD"}

    inject(stack, code=50000, times=1, path="/ad/get/", advertiser_id=second)
    assert api(stack, "ad/get/", bench, advertiser_id=first) == 0
    assert api(stack, "ad/get/", bench, advertiser_id=second) == 50000
    assert api(stack, "ad/get/", bench, advertiser_id=second) == 0

    nobody = "7399999999999999999"  # revocations last for the session's stack: an id no other test uses
    requests.post(f"{control}/revoke", json={"advertiser_id": nobody}, timeout=5).raise_for_status()
    assert api(stack, "ad/get/", bench, advertiser_id=nobody) == 40105

    report = {"advertiser_id": first, "report_type": "BASIC", "data_level": "AUCTION_AD", "dimensions": '["ad_id"]'}
    report |= {"start_date": "2026-01-01", "end_date": "2026-01-02"}
    requests.post(f"{control}/qps", json={"limit": 1}, timeout=5).raise_for_status()
    try:
        assert [api(stack, "report/integrated/get/", bench, **report) for _ in range(2)] == [0, 40100]
    finally:
        requests.post(f"{control}/qps", json={"limit": 10}, timeout=5).raise_for_status()
