"""A TikTok that hangs: calls end by the invocation's deadline, the batch answers in time, nothing is lost;
a hanging token refresh costs no account, and the OAuth callback answers with a page."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests

from local.control import connect_ad_accounts
from local.provision import local_secret_value
from local.scenario import signed_tiktok, tiktok_ad_referral_content, tiktok_body
from tests.e2e.conftest import RunningStack
from tests.e2e.test_connections_over_http import BUSINESS, fire_refresher, follow

pytestmark = pytest.mark.e2e


def test_a_hanging_ad_lookup_ends_by_the_deadline_and_the_conversation_is_kept(stack: RunningStack) -> None:
    advertiser_id = connect_ad_accounts(stack.ports, 8)[-1]  # its own: the other tests use the first seven
    business = "e2e-hanging-tiktok"
    requests.put(f"{stack.api}/admin/advertisers/{advertiser_id}/links/tiktok/{business}", json={}, timeout=10).raise_for_status()
    # Each /ad/get/ for this ad account answers after 40 s: longer than AttributionFunction's 30 s timeout.
    hang = {"delay_ms": 40_000, "times": 6, "path": "/ad/get/", "advertiser_id": advertiser_id}
    requests.post(f"{stack.tiktok}/_emulator/faults", json=hang, timeout=5).raise_for_status()
    overruns_before = len(stack.status()["overruns"])
    now = int(time.time())
    ad = {"advertiser_id": advertiser_id, "ad_id": f"1891{int(advertiser_id[-11:]):011d}1"}
    click = tiktok_body("im_referral_msg", business, tiktok_ad_referral_content("e2e-hang-1", business, now * 1000, ad), now)
    delivery = signed_tiktok("", click, local_secret_value("TIKTOK_APP_SECRET"), now)
    started = time.monotonic()
    try:
        requests.post(f"{stack.api}/webhooks/tiktok", data=click, headers=delivery.headers, timeout=10).raise_for_status()
        stack.drained()
    finally:
        requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5)
    took = time.monotonic() - started

    assert stack.status()["overruns"][overruns_before:] == [], "an invocation ran past its function's timeout"
    assert took < 30 + 5
    conversation = stack.conversation(f"tiktok#{business}#e2e-hang-1").json()
    assert conversation["source"] == "tiktok_ad"
    assert conversation["ad"]["ad_id"] == ad["ad_id"]  # what the click said is kept; the card says what is missing
    assert "TikTok" in conversation["ad"].get("unresolved_reason", "")


# ---------------------------------------------------------------- tokens and connections while TikTok hangs
REFRESH = "/tt_user/oauth2/refresh_token/"


def refresh_calls(stack: RunningStack) -> list[dict[str, Any]]:
    calls = requests.get(f"{stack.tiktok}/_emulator/calls", timeout=10).json()["calls"]
    return [call for call in calls if call["path"] == REFRESH]


def business(stack: RunningStack) -> dict[str, Any]:
    answer = requests.get(f"{stack.api}/admin/businesses/{BUSINESS}", timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def test_a_hanging_refresh_keeps_the_account_active_and_the_next_run_refreshes_it(stack: RunningStack) -> None:
    assert follow(stack, "business").status_code == 200  # a fresh connection: its token expires in 24 h
    version = business(stack)["version"]
    overruns_before, calls_before = len(stack.status()["overruns"]), len(refresh_calls(stack))
    # TikTok holds the refresh for 30 s, then fails it without rotating: the refresher stops listening long before.
    hang = {"delay_ms": 30_000, "code": 50000, "times": 1, "path": REFRESH}
    requests.post(f"{stack.tiktok}/_emulator/faults", json=hang, timeout=5).raise_for_status()
    started = time.monotonic()
    try:
        first = fire_refresher(stack, timedelta(hours=23))
    finally:
        requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5)
    took = time.monotonic() - started

    assert (first["refreshed"], first["needs_reauth"], list(first["unresolved"])) == ([], [], [BUSINESS])
    assert len(refresh_calls(stack)) == calls_before + 1  # not tried again with a token TikTok may have rotated
    assert took < 15  # the 10 s read timeout, not the hang
    held = business(stack)
    assert (held["status"], held["version"]) == ("ACTIVE", version)
    assert "refresh_unconfirmed_since_ms" in held
    assert "next run" in held["refresh_issue"]

    second = fire_refresher(stack, timedelta(hours=24))  # the next hourly run
    assert (second["refreshed"], second["resolved"], second["unresolved"]) == ([BUSINESS], [BUSINESS], {})
    after = business(stack)
    assert (after["status"], after["version"]) == ("ACTIVE", version + 1)
    assert "refresh_unconfirmed_since_ms" not in after
    assert "refresh_issue" not in after
    assert stack.status()["overruns"][overruns_before:] == []


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("business", "/tt_user/oauth2/token/"),  # the code exchange, a POST: tried once
        ("advertiser", "/oauth2/advertiser/get/"),  # a GET: retried while the deadline allows
    ],
)
def test_the_oauth_callback_answers_a_hanging_tiktok_with_a_page_in_time(stack: RunningStack, kind: str, path: str) -> None:
    overruns_before = len(stack.status()["overruns"])
    hang = {"delay_ms": 40_000, "times": 3, "path": path}  # longer than OAuthFunction's 15 s timeout
    requests.post(f"{stack.tiktok}/_emulator/faults", json=hang, timeout=5).raise_for_status()
    started = time.monotonic()
    try:
        page = follow(stack, kind)
    finally:
        requests.delete(f"{stack.tiktok}/_emulator/faults", timeout=5)
    took = time.monotonic() - started

    assert took < 15
    assert page.status_code == 504
    assert "TikTok did not answer in time" in page.text
    assert "Start the connection again" in page.text
    assert stack.status()["overruns"][overruns_before:] == []
