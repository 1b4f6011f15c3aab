"""Connecting accounts the way a person does, through the local stack: follow the redirects, link, refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
ADVERTISER = "7100000000000000001"
BUSINESS = "-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"


def follow(stack: RunningStack, kind: str) -> requests.Response:
    """The browser: start -> TikTok consent (the emulator) -> our callback, every hop over HTTP."""
    return requests.get(f"{stack.api}/oauth/tiktok/{kind}/start", params={"workspace": "e2e"}, timeout=30)


def fire_refresher(stack: RunningStack, ahead: timedelta) -> dict[str, Any]:
    at = (datetime.now(UTC) + ahead).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = requests.post(f"{stack.api}/_local/schedules/TokenRefreshFunction/Hourly", params={"time": at}, timeout=60)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["result"])


def test_connect_link_and_keep_tokens_alive(stack: RunningStack) -> None:
    advertiser_page = follow(stack, "advertiser")
    assert advertiser_page.status_code == 200
    assert [r.status_code for r in advertiser_page.history] == [302, 302]
    assert "Demo Sneakers" in advertiser_page.text
    business_page = follow(stack, "business")
    assert (business_page.status_code, "TikTok Business Account" in business_page.text) == (200, True)

    for channel, account in (("whatsapp", "106540352242922"), ("tiktok", BUSINESS)):
        answer = requests.put(f"{stack.api}/admin/advertisers/{ADVERTISER}/links/{channel}/{account}", json={}, timeout=10)
        assert answer.status_code == 200, answer.text
    detail = requests.get(f"{stack.api}/admin/advertisers/{ADVERTISER}", timeout=10).json()
    assert {(link["channel"], link["account_id"]) for link in detail["links"]} >= {
        ("whatsapp", "106540352242922"),
        ("tiktok", BUSINESS),
    }

    assert fire_refresher(stack, timedelta(hours=1))["refreshed"] == []
    assert fire_refresher(stack, timedelta(hours=23))["refreshed"] == [BUSINESS]


def test_refresh_token_past_its_year_ends_in_needs_reauth(stack: RunningStack) -> None:
    follow(stack, "business")
    requests.post(f"{stack.tiktok}/_emulator/clock", json={"offset_seconds": 367 * 86400}, timeout=5)
    try:
        result = fire_refresher(stack, timedelta(days=367))
    finally:
        requests.post(f"{stack.tiktok}/_emulator/clock", json={"offset_seconds": 0}, timeout=5)
    assert result["needs_reauth"] == [BUSINESS]
    reconnected = follow(stack, "business")  # the way out: connect again
    assert reconnected.status_code == 200
    assert fire_refresher(stack, timedelta(hours=23))["refreshed"] == [BUSINESS]


def test_state_reuse_over_http(stack: RunningStack) -> None:
    start = requests.get(
        f"{stack.api}/oauth/tiktok/advertiser/start", params={"workspace": "e2e"}, allow_redirects=False, timeout=10
    )
    consent = requests.get(start.headers["location"], allow_redirects=False, timeout=10)
    callback = consent.headers["location"]
    assert requests.get(callback, timeout=30).status_code == 200
    reused = requests.get(callback, timeout=30)
    assert reused.status_code == 400
    assert "already used" in reused.text
