"""Every platform over HTTP through the local stack: POST, drain, then look at the store and the queues."""

from __future__ import annotations

import time

import pytest
import requests

from local.scenario import (
    DEMO_INSTAGRAM_ID,
    DEMO_PAGE_ID,
    DEMO_TIKTOK_BUSINESS_ID,
    Delivery,
    click_to_messenger_referral,
    messaging_echo,
    messaging_message,
    messaging_referral,
    meta_messaging_body,
    signed_meta,
    signed_tiktok,
    tiktok_ad_referral_content,
    tiktok_body,
    tiktok_short_link_content,
    tiktok_text_content,
)
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
META_SECRET, TIKTOK_SECRET = "local-meta-app-secret", "local-tiktok-app-secret"
TT = DEMO_TIKTOK_BUSINESS_ID


def send(stack: RunningStack, delivery: Delivery) -> requests.Response:
    return requests.post(f"{stack.api}/webhooks/{delivery.channel}", data=delivery.body, headers=delivery.headers, timeout=30)


def stored(stack: RunningStack, key: str) -> dict[str, object]:
    answer = stack.conversation(key)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_messenger_ad_click_message_and_echo(stack: RunningStack) -> None:
    ms = int(time.time() * 1000)
    body = meta_messaging_body(
        "page",
        DEMO_PAGE_ID,
        messaging_message(
            "e2e-psid-1",
            DEMO_PAGE_ID,
            "m_E2E1",
            ms,
            "Is it on sale?",
            referral=click_to_messenger_referral("6045246247433", "Spring"),
        ),
        messaging_echo("e2e-psid-1", DEMO_PAGE_ID, "m_E2E2", ms + 1, "Yes"),
    )
    assert send(stack, signed_meta("", body, META_SECRET, "messenger")).json() == {"accepted": 2, "parked": 0}
    stack.drained()
    conversation = stored(stack, f"messenger#{DEMO_PAGE_ID}#e2e-psid-1")
    assert (conversation["source"], conversation["customer_message_count"]) == ("meta_ad", 1)


def test_instagram_click_on_existing_thread_records_the_referral(stack: RunningStack) -> None:
    ms = int(time.time() * 1000)
    first = meta_messaging_body(
        "instagram", DEMO_INSTAGRAM_ID, messaging_message("e2e-igsid-1", DEMO_INSTAGRAM_ID, "ig_E2E1", ms, "hi")
    )
    click = meta_messaging_body(
        "instagram",
        DEMO_INSTAGRAM_ID,
        messaging_referral("e2e-igsid-1", DEMO_INSTAGRAM_ID, ms + 5, click_to_messenger_referral("6045246247433", "X")),
    )
    for body in (first, click):
        assert send(stack, signed_meta("", body, META_SECRET, "instagram")).status_code == 200
    stack.drained()
    conversation = stored(stack, f"instagram#{DEMO_INSTAGRAM_ID}#e2e-igsid-1")
    assert conversation["source"] == "organic"  # first touch wins: the later click does not rewrite it
    assert conversation["customer_message_count"] == 1


def test_tiktok_ad_click_creates_the_conversation_before_any_message(stack: RunningStack) -> None:
    now = int(time.time())
    ad = {"advertiser_id": "7100000000000000001", "ad_id": "1790000000000001", "ad_name": "Sneakers DM ad"}
    click = tiktok_body("im_referral_msg", TT, tiktok_ad_referral_content("e2e-tt-1", TT, now * 1000, ad), now)
    assert send(stack, signed_tiktok("", click, TIKTOK_SECRET, now)).json() == {"accepted": 1, "parked": 0}
    stack.drained()
    conversation = stored(stack, f"tiktok#{TT}#e2e-tt-1")
    assert (conversation["source"], conversation["customer_message_count"]) == ("tiktok_ad", 0)
    assert conversation["referral"]["ad_name"] == "Sneakers DM ad"  # type: ignore[index]


def test_tiktok_short_link_then_message_duplicate_and_echo(stack: RunningStack) -> None:
    now = int(time.time())
    link = tiktok_body("im_referral_msg", TT, tiktok_short_link_content("e2e-tt-2", TT, now * 1000, "vip"), now)
    text = tiktok_body(
        "im_receive_msg", TT, tiktok_text_content("e2e-tt-2", TT, "e2e-tt-msg-1", now * 1000 + 1, "VIP please"), now
    )
    echo = tiktok_body(
        "im_send_msg", TT, tiktok_text_content("e2e-tt-2", TT, "e2e-tt-msg-2", now * 1000 + 2, "Welcome", inbound=False), now
    )
    for body in (link, text, text, echo):
        assert send(stack, signed_tiktok("", body, TIKTOK_SECRET, now)).status_code == 200
    stack.drained()
    conversation = stored(stack, f"tiktok#{TT}#e2e-tt-2")
    assert (conversation["source"], conversation["customer_message_count"]) == ("tiktok_short_link", 1)


def test_tiktok_stale_or_forged_signatures_are_refused(stack: RunningStack) -> None:
    now = int(time.time())
    body = tiktok_body("im_receive_msg", TT, tiktok_text_content("e2e-tt-3", TT, "e2e-tt-msg-3", now * 1000, "x"), now)
    for delivery in (signed_tiktok("", body, TIKTOK_SECRET, now - 3600), signed_tiktok("", body, "wrong-secret", now)):
        assert send(stack, delivery).status_code == 401
    unsigned = requests.post(f"{stack.api}/webhooks/tiktok", data=body, timeout=10)
    assert unsigned.status_code == 401
    stack.drained()
    assert stack.conversation(f"tiktok#{TT}#e2e-tt-3").status_code == 404


def test_tiktok_eu_event_is_accepted_but_opens_no_conversation(stack: RunningStack) -> None:
    now = int(time.time())
    before = stack.status()["pumps"]["AttributionFunction"]["record_types"].get("stripped", 0)
    eu = tiktok_body("im_receive_msg_eu", TT, {"to": "b", "to_user": {"id": TT}, "timestamp": now * 1000 + 7}, now)
    assert send(stack, signed_tiktok("", eu, TIKTOK_SECRET, now)).json() == {"accepted": 1, "parked": 0}
    stack.drained()
    assert stack.status()["pumps"]["AttributionFunction"]["record_types"]["stripped"] == before + 1
    assert stack.conversation(f"tiktok#{TT}#").status_code == 404


def test_tiktok_unknown_event_is_parked(stack: RunningStack) -> None:
    now = int(time.time())
    before = stack.status()["queues"]["ParkedQueue"]["visible"]
    answer = send(stack, signed_tiktok("", tiktok_body("im_new_kind", TT, {}, now), TIKTOK_SECRET, now))
    assert answer.status_code == 200
    assert "im_new_kind" in answer.json()["parked"]
    assert stack.status()["queues"]["ParkedQueue"]["visible"] == before + 1


def test_an_unsigned_oversized_body_is_refused(stack: RunningStack) -> None:
    answer = requests.post(f"{stack.api}/webhooks/messenger", data=b"x" * (3 * 1024 * 1024 + 1), timeout=30)
    assert answer.status_code == 401
