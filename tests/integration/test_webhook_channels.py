"""Messenger, Instagram and TikTok through WebhookFunction and AttributionFunction, against moto."""

from __future__ import annotations

import json
import time

import pytest

from local.scenario import (
    DEMO_TIKTOK_BUSINESS_ID,
    click_to_messenger_referral,
    hub_signature,
    messaging_echo,
    messaging_message,
    messaging_referral,
    meta_messaging_body,
    tiktok_ad_referral_content,
    tiktok_body,
    tiktok_signature_header,
    tiktok_text_content,
)
from tests.integration.conftest import IntegrationStack

META_SECRET = "local-meta-app-secret"
TIKTOK_SECRET = "local-tiktok-app-secret"
PAGE = "104650435882311"


def post_meta(stack: IntegrationStack, channel: str, body: bytes) -> dict[str, object]:
    headers = {"content-type": "application/json", "x-hub-signature-256": hub_signature(META_SECRET, body)}
    return stack.http("WebhookFunction", "POST", f"/webhooks/{channel}", body, headers)


def post_tiktok(stack: IntegrationStack, body: bytes, timestamp: int | None = None) -> dict[str, object]:
    signed_at = int(time.time()) if timestamp is None else timestamp
    headers = {"content-type": "application/json", "tiktok-signature": tiktok_signature_header(TIKTOK_SECRET, body, signed_at)}
    return stack.http("WebhookFunction", "POST", "/webhooks/tiktok", body, headers)


def attribute(stack: IntegrationStack) -> dict[str, object]:
    return dict(stack.runtime.invoke("AttributionFunction", stack.sqs_event(stack.drain("InboundQueue"), "InboundQueue")))


def conversation(stack: IntegrationStack, key: str) -> dict[str, object]:
    response = stack.http("AdminFunction", "GET", "/admin/conversations/" + key.replace("#", "%23"))
    assert response["statusCode"] == 200, response
    return dict(json.loads(str(response["body"])))


@pytest.mark.parametrize(("channel", "object_type"), [("messenger", "page"), ("instagram", "instagram")])
def test_click_to_messenger_ad_opens_a_meta_ad_conversation_and_echoes_stay_apart(
    aws_stack: IntegrationStack, channel: str, object_type: str
) -> None:
    referral = click_to_messenger_referral("6045246247433", "Spring sneakers")
    body = meta_messaging_body(
        object_type,
        PAGE,
        messaging_message("psid-1", PAGE, "m_1", 1_763_800_000_000, "Hi, is this on sale?", referral=referral),
        messaging_echo("psid-1", PAGE, "m_2", 1_763_800_001_000, "Yes, 20% off!"),
    )
    response = post_meta(aws_stack, channel, body)
    assert json.loads(str(response["body"])) == {"accepted": 2, "parked": 0}
    assert attribute(aws_stack) == {"batchItemFailures": []}
    stored = conversation(aws_stack, f"{channel}#{PAGE}#psid-1")
    assert stored["source"] == "meta_ad"
    assert stored["customer_message_count"] == 1  # the echo is outbound, not a customer message


def test_referral_on_an_existing_thread_is_recorded_without_a_message(aws_stack: IntegrationStack) -> None:
    click = messaging_referral("psid-2", PAGE, 1_763_800_000_000, click_to_messenger_referral("6045246247433", "Spring"))
    post_meta(aws_stack, "messenger", meta_messaging_body("page", PAGE, click))
    attribute(aws_stack)
    stored = conversation(aws_stack, f"messenger#{PAGE}#psid-2")
    assert stored["customer_message_count"] == 0
    assert stored["referral"]["ad_id"] == "6045246247433"  # type: ignore[index]


def test_tiktok_ad_click_then_message(aws_stack: IntegrationStack) -> None:
    now = int(time.time())
    ad = {"advertiser_id": "7100000000000000001", "ad_id": "1790000000000001", "ad_name": "Sneakers DM ad"}
    click = tiktok_body(
        "im_referral_msg",
        DEMO_TIKTOK_BUSINESS_ID,
        tiktok_ad_referral_content("tt-user-1", DEMO_TIKTOK_BUSINESS_ID, now * 1000, ad),
        now,
    )
    assert post_tiktok(aws_stack, click)["statusCode"] == 200
    attribute(aws_stack)
    key = f"tiktok#{DEMO_TIKTOK_BUSINESS_ID}#tt-user-1"
    opened = conversation(aws_stack, key)
    assert (opened["source"], opened["customer_message_count"]) == ("tiktok_ad", 0)

    text = tiktok_text_content("tt-user-1", DEMO_TIKTOK_BUSINESS_ID, "msg-1", now * 1000 + 10, "Do you have size 41?")
    post_tiktok(aws_stack, tiktok_body("im_receive_msg", DEMO_TIKTOK_BUSINESS_ID, text, now))
    attribute(aws_stack)
    assert conversation(aws_stack, key)["customer_message_count"] == 1
    assert conversation(aws_stack, key)["source"] == "tiktok_ad"  # first touch wins


def test_tiktok_replayed_old_delivery_is_refused(aws_stack: IntegrationStack) -> None:
    now = int(time.time())
    body = tiktok_body(
        "im_receive_msg", DEMO_TIKTOK_BUSINESS_ID, tiktok_text_content("u", DEMO_TIKTOK_BUSINESS_ID, "m", now * 1000, "x"), now
    )
    response = post_tiktok(aws_stack, body, timestamp=now - 3600)
    assert response["statusCode"] == 401
    assert aws_stack.drain("InboundQueue") == []


def test_tiktok_unknown_event_is_parked_not_failed(aws_stack: IntegrationStack) -> None:
    now = int(time.time())
    response = post_tiktok(aws_stack, tiktok_body("im_future_event", DEMO_TIKTOK_BUSINESS_ID, {}, now))
    assert response["statusCode"] == 200
    [parked] = aws_stack.bodies("ParkedQueue")
    assert parked["channel"] == "tiktok"
    assert "im_future_event" in parked["reason"]


def test_tiktok_get_is_405(aws_stack: IntegrationStack) -> None:
    assert aws_stack.http("WebhookFunction", "GET", "/webhooks/tiktok")["statusCode"] == 405


def test_tiktok_eea_events_are_counted_per_business_account_and_day_once(aws_stack: IntegrationStack) -> None:
    from messaging_partner.adapters.aws.conversations import DynamoConversationStore

    now = int(time.time())
    contents = [{"to": "b", "to_user": {"id": DEMO_TIKTOK_BUSINESS_ID}, "timestamp": now * 1000 + i} for i in range(2)]
    bodies = [tiktok_body("im_receive_msg_eu", DEMO_TIKTOK_BUSINESS_ID, content, now) for content in contents]
    for body in bodies:
        post_tiktok(aws_stack, body)
    event = aws_stack.sqs_event(aws_stack.drain("InboundQueue"), "InboundQueue")
    aws_stack.runtime.invoke("AttributionFunction", event)
    aws_stack.runtime.invoke("AttributionFunction", event)  # SQS redelivers the batch: counted once
    store = DynamoConversationStore(aws_stack.provisioned.attribute("ConversationsTable", "Ref"))
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    assert store.stripped_count(f"tiktok#{DEMO_TIKTOK_BUSINESS_ID}#", day) == 2
