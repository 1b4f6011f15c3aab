"""Ad preview cards against moto and the TikTok emulator's catalogue: DM ads, Smart+, tracking IDs, failures."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from local.scenario import (
    DEMO_PAGE_ID,
    DEMO_TIKTOK_BUSINESS_ID,
    WhatsAppChange,
    WhatsAppMessage,
    messaging_message,
    meta_messaging_body,
    signed_meta,
    signed_tiktok,
    tiktok_ad_referral_content,
    tiktok_body,
    whatsapp_body,
)
from tests.integration.conftest import IntegrationStack, RunningEmulator
from tests.integration.test_connections import ADVERTISER_1, admin, connect

TT = DEMO_TIKTOK_BUSINESS_ID
META_SECRET = "local-meta-app-secret"
TRACKED = "TikTok ID: 7412345678901234567. Hello! I came across your ad on TikTok"


def linked(stack: IntegrationStack, *links: tuple[str, str, str | None]) -> None:
    connect(stack, "advertiser")
    for channel, account, display_name in links:
        status, _ = admin(
            stack,
            "PUT",
            f"/admin/advertisers/{ADVERTISER_1}/links/{channel}/{account}",
            {"display_name": display_name} if display_name else None,
        )
        assert status == 200


def deliver_tiktok_click(stack: IntegrationStack, customer: str, ad: dict[str, Any]) -> None:
    now = int(time.time())
    content = tiktok_ad_referral_content(customer, TT, now * 1000, {"advertiser_id": ADVERTISER_1, **ad})
    body = tiktok_body("im_referral_msg", TT, content, now)
    assert stack.deliver(signed_tiktok("", body, "local-tiktok-app-secret", now))["statusCode"] == 200


def attribute(stack: IntegrationStack) -> None:
    assert stack.runtime.invoke("AttributionFunction", stack.sqs_event(stack.drain("InboundQueue"), "InboundQueue")) == {
        "batchItemFailures": []
    }


def card(stack: IntegrationStack, key: str) -> dict[str, Any]:
    conversation = json.loads(stack.http("AdminFunction", "GET", "/admin/conversations/" + key.replace("#", "%23"))["body"])
    return dict(conversation.get("ad", {}))


def tiktok_calls(emulator: RunningEmulator, path: str) -> int:
    return sum(1 for call in emulator.state.calls if call["path"] == path)


def test_dm_ad_card_is_completed_from_ad_get_once_per_batch(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    linked(aws_stack, ("tiktok", TT, None))
    before = tiktok_calls(emulator, "/ad/get/")
    for customer in ("c1", "c2", "c3"):
        deliver_tiktok_click(
            aws_stack, customer, {"ad_id": "1790000000000001", "ad_name": "Sneakers DM ad", "embed_url": "https://embed/1"}
        )
    deliver_tiktok_click(aws_stack, "c4", {"ad_id": "1790000000000002", "ad_name": "Boots DM ad"})
    attribute(aws_stack)
    assert tiktok_calls(emulator, "/ad/get/") - before == 1  # four conversations, two ads, one call
    first = card(aws_stack, f"tiktok#{TT}#c1")
    assert (first["ad_name"], first["campaign_name"], first["adgroup_name"], first["resolved_by"]) == (
        "Sneakers DM ad", "Spring DM", "DM 18-34", "ad_get",
    )  # fmt: skip
    assert first["preview_url"] == "https://embed/1"
    deliver_tiktok_click(aws_stack, "c5", {"ad_id": "1790000000000001"})
    attribute(aws_stack)
    assert tiktok_calls(emulator, "/ad/get/") - before == 1  # later conversations: from memory and cache


def test_smart_plus_creative_resolves_through_smart_plus_ad_get(aws_stack: IntegrationStack) -> None:
    linked(aws_stack, ("tiktok", TT, None))
    deliver_tiktok_click(aws_stack, "s1", {"ad_id": "1800000000000009", "message_material_id": "mm-42"})
    attribute(aws_stack)
    smart = card(aws_stack, f"tiktok#{TT}#s1")
    assert (smart["ad_name"], smart["campaign_name"], smart["is_smart_plus"], smart["resolved_by"]) == (
        "Smart+ Sneakers", "Smart+ Spring", True, "smart_plus_ad_get",
    )  # fmt: skip


def test_deleted_ads_still_resolve_and_unknown_ones_say_why(aws_stack: IntegrationStack) -> None:
    linked(aws_stack, ("tiktok", TT, None))
    deliver_tiktok_click(aws_stack, "d1", {"ad_id": "1790000000000009"})
    deliver_tiktok_click(aws_stack, "u1", {"ad_id": "1799999999999999", "ad_name": "From the referral"})
    attribute(aws_stack)
    assert card(aws_stack, f"tiktok#{TT}#d1")["ad_name"] == "Old winter ad"
    unknown = card(aws_stack, f"tiktok#{TT}#u1")
    assert unknown["ad_name"] == "From the referral"  # what the referral said is kept
    assert "TikTok has no ad 1799999999999999" in unknown["unresolved_reason"]


def test_tracking_id_resolves_to_the_one_im_ad_sending_people_to_the_number(aws_stack: IntegrationStack) -> None:
    linked(aws_stack, ("whatsapp", "106540352242922", "+1 555-078-3881"), ("messenger", DEMO_PAGE_ID, None))
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("351910000007", "wamid.TR1", int(time.time()), TRACKED),)))
    aws_stack.deliver(signed_meta("", body, META_SECRET))
    page = meta_messaging_body(
        "page", DEMO_PAGE_ID, messaging_message("psid-7", DEMO_PAGE_ID, "m_TR1", int(time.time() * 1000), TRACKED)
    )
    aws_stack.deliver(signed_meta("", page, META_SECRET, "messenger"))
    attribute(aws_stack)
    whatsapp = card(aws_stack, "whatsapp#106540352242922#351910000007")
    assert (whatsapp["ad_id"], whatsapp["ad_name"], whatsapp["resolved_by"]) == (
        "1790000000000003",
        "Sneakers on WhatsApp",
        "single_active_im_ad",
    )
    messenger = card(aws_stack, f"messenger#{DEMO_PAGE_ID}#psid-7")
    assert "No active TikTok Instant Messaging ad sends people to this messenger account" in messenger["unresolved_reason"]


def test_unlinked_chat_account_card_says_so(aws_stack: IntegrationStack) -> None:
    deliver_tiktok_click(aws_stack, "n1", {"ad_id": "1790000000000001", "ad_name": "Sneakers DM ad"})
    attribute(aws_stack)
    unlinked = card(aws_stack, f"tiktok#{TT}#n1")
    assert unlinked["ad_name"] == "Sneakers DM ad"
    assert "not linked to a TikTok ad account" in unlinked["unresolved_reason"]


def test_revoked_advertiser_token_marks_needs_reauth_and_the_card_says_why(
    aws_stack: IntegrationStack, emulator: RunningEmulator
) -> None:
    linked(aws_stack, ("tiktok", TT, None))
    requests.post(f"{emulator.base_url}/_emulator/faults", json={"code": 40105, "times": 1, "path": "/ad/get/"}, timeout=5)
    deliver_tiktok_click(aws_stack, "r1", {"ad_id": "1790000000000002", "ad_name": "Boots DM ad"})
    attribute(aws_stack)
    assert "code 40105" in card(aws_stack, f"tiktok#{TT}#r1")["unresolved_reason"]
    status, detail = admin(aws_stack, "GET", f"/admin/advertisers/{ADVERTISER_1}")
    assert (status, detail["status"]) == (200, "NEEDS_REAUTH")


def test_list_conversations_by_advertiser_source_and_time(aws_stack: IntegrationStack) -> None:
    linked(aws_stack, ("tiktok", TT, None), ("whatsapp", "106540352242922", "+1 555-078-3881"))
    for customer in ("l1", "l2", "l3"):
        deliver_tiktok_click(aws_stack, customer, {"ad_id": "1790000000000001"})
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("351910000099", "wamid.L4", int(time.time()), "hello"),)))
    aws_stack.deliver(signed_meta("", body, META_SECRET))
    attribute(aws_stack)

    def page(query: str) -> tuple[int, dict[str, Any]]:
        response = aws_stack.http("AdminFunction", "GET", f"/admin/conversations?{query}")
        return response["statusCode"], json.loads(response["body"])

    status, everything = page(f"advertiser_id={ADVERTISER_1}")
    assert (status, len(everything["conversations"])) == (200, 4)
    _, ads_only = page(f"advertiser_id={ADVERTISER_1}&source=tiktok_ad")
    assert {c["customer_id"] for c in ads_only["conversations"]} == {"l1", "l2", "l3"}
    _, first = page(f"advertiser_id={ADVERTISER_1}&limit=2")
    _, rest = page(f"advertiser_id={ADVERTISER_1}&limit=2&next={first['next']}")
    assert len({c["conversation_key"] for c in first["conversations"] + rest["conversations"]}) == 4
    _, none = page(f"advertiser_id={ADVERTISER_1}&from=2001-01-01&to=2001-01-31")
    assert none["conversations"] == []
    assert page("source=tiktok_ad")[0] == 400
    assert page(f"advertiser_id={ADVERTISER_1}&source=viral")[0] == 400
    assert page(f"advertiser_id={ADVERTISER_1}&from=yesterday")[0] == 400


def test_tracking_id_patterns_are_configurable(aws_stack: IntegrationStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from handler_support import settings

    monkeypatch.setenv("TRACKING_ID_PATTERNS", json.dumps([r"\[ref:(?P<id>TT-[0-9A-Za-z-]+)\]"]))
    settings.settings.cache_clear()
    linked(aws_stack, ("whatsapp", "106540352242922", "+1 555-078-3881"))
    body = whatsapp_body(
        WhatsAppChange((WhatsAppMessage("351910000008", "wamid.P1", int(time.time()), "Hi [ref:TT-1763007625226-ab]"),))
    )
    aws_stack.deliver(signed_meta("", body, META_SECRET))
    attribute(aws_stack)
    conversation = json.loads(
        aws_stack.http("AdminFunction", "GET", "/admin/conversations/whatsapp%23106540352242922%23351910000008")["body"]
    )
    assert (conversation["source"], conversation["tracking_id"]) == ("tiktok_ad", "TT-1763007625226-ab")
    settings.settings.cache_clear()
