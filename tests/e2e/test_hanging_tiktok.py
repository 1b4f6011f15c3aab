"""A TikTok that hangs: calls end by the invocation's deadline, the batch answers in time, nothing is lost."""

from __future__ import annotations

import time

import pytest
import requests

from local.control import connect_ad_accounts
from local.provision import local_secret_value
from local.scenario import signed_tiktok, tiktok_ad_referral_content, tiktok_body
from tests.e2e.conftest import RunningStack

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
