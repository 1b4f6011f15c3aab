"""Payloads as the platforms really send them, through WebhookFunction and AttributionFunction against moto.

Each class, on every platform where it exists: what is not a customer message (reactions,
edits, deletions, system notices, unsupported content) is kept as a conversation event and
never opens a conversation or counts a lead; nothing verified is dropped; timestamps are read
by magnitude; TikTok's app events; one conversation key per WhatsApp customer.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.scenario import (
    DEMO_PHONE_NUMBER_ID,
    DEMO_TIKTOK_BUSINESS_ID,
    WhatsAppChange,
    WhatsAppMessage,
    messaging_message,
    messaging_unsend,
    meta_messaging_body,
    tiktok_body,
    tiktok_ping_body,
    tiktok_reaction_content,
    tiktok_text_content,
    whatsapp_body,
)
from messaging_partner.domain.webhooks import NOTHING_RECOGNISED
from tests.integration.conftest import IntegrationStack
from tests.integration.test_ad_cards import linked
from tests.integration.test_connections import bus_events, connect
from tests.integration.test_webhook_channels import attribute, post_meta, post_tiktok

WA, PAGE, TT = DEMO_PHONE_NUMBER_ID, "104650435882311", DEMO_TIKTOK_BUSINESS_ID
NOW = int(time.time())
PHONE, BSUID = "351910000001", "PT.1502576394655843"


def admin_get(stack: IntegrationStack, path: str) -> tuple[int, Any]:
    response = stack.http("AdminFunction", "GET", path)
    return int(response["statusCode"]), json.loads(str(response["body"]))


def conversation(stack: IntegrationStack, key: str) -> tuple[int, Any]:
    return admin_get(stack, "/admin/conversations/" + key.replace("#", "%23"))


def leads(stack: IntegrationStack) -> int:
    items = stack.session.client("dynamodb").scan(TableName=stack.provisioned.attribute("ReportsTable", "Ref"))["Items"]
    return sum(int(item["leads"]["N"]) for item in items)


def whatsapp(*messages: WhatsAppMessage) -> bytes:
    return whatsapp_body(WhatsAppChange(messages))


def wa_event(message_id: str, kind: str, content: dict[str, Any], **fields: Any) -> WhatsAppMessage:
    return WhatsAppMessage(PHONE, message_id, NOW, kind=kind, content=content, **fields)


WHATSAPP_EVENTS = {
    "reaction": wa_event("wamid.R", "reaction", {"message_id": "wamid.OURS", "emoji": "\U0001f44d"}),
    "edit": wa_event(
        "wamid.E", "edit", {"original_message_id": "wamid.A1", "message": {"type": "text", "text": {"body": "new"}}}
    ),
    "deletion": wa_event("wamid.D", "revoke", {"original_message_id": "wamid.A1"}),
    "system": wa_event("wamid.S", "system", {"body": "changed", "wa_id": "351910009999", "type": "user_changed_number"}),
    "unsupported": wa_event("wamid.U", "unsupported", {"type": "poll"}),
}


@pytest.mark.parametrize("kind", list(WHATSAPP_EVENTS))
def test_whatsapp_events_alone_open_nothing_and_are_kept(aws_stack: IntegrationStack, kind: str) -> None:
    linked(aws_stack, ("whatsapp", WA, "+1 555-078-3881"))
    assert post_meta(aws_stack, "whatsapp", whatsapp(WHATSAPP_EVENTS[kind]))["statusCode"] == 200
    assert attribute(aws_stack) == {"batchItemFailures": []}
    status, body = conversation(aws_stack, f"whatsapp#{WA}#{PHONE}")
    assert status == 200
    assert "source" not in body  # no conversation was opened
    assert [event["kind"] for event in body["events"]] == [kind]
    assert leads(aws_stack) == 0


@pytest.mark.parametrize("kind", ["reaction", "edit", "deletion"])
def test_whatsapp_events_in_an_open_conversation_change_no_count(aws_stack: IntegrationStack, kind: str) -> None:
    linked(aws_stack, ("whatsapp", WA, "+1 555-078-3881"))
    first = WhatsAppMessage(PHONE, "wamid.A1", NOW, "how much?")
    post_meta(aws_stack, "whatsapp", whatsapp(first))
    post_meta(aws_stack, "whatsapp", whatsapp(WHATSAPP_EVENTS[kind]))
    attribute(aws_stack)
    _, body = conversation(aws_stack, f"whatsapp#{WA}#{PHONE}")
    assert (body["customer_message_count"], [e["kind"] for e in body["events"]]) == (1, [kind])
    assert leads(aws_stack) == 1
    bodies = [json.loads(m["Body"]) for m in aws_stack.drain("SignalQueue")]
    signals = [body["message"] for body in bodies if body.get("type") == "MessageReceived"]
    assert [(s["platform_message_id"], s["kind"]) for s in signals] == [("wamid.A1", "message")]


@pytest.mark.parametrize(("channel", "object_type"), [("messenger", "page"), ("instagram", "instagram")])
def test_meta_edits_unsends_and_reactions_are_events_each_kept_once(
    aws_stack: IntegrationStack, channel: str, object_type: str
) -> None:
    ms = NOW * 1000
    items = [
        messaging_message("psid-1", PAGE, "m_1", ms, "how much?"),
        {
            "sender": {"id": "psid-1"},
            "recipient": {"id": PAGE},
            "timestamp": ms + 1,
            "message_edit": {"mid": "m_1", "text": "?", "num_edit": 1},
        },
        {
            "sender": {"id": "psid-1"},
            "recipient": {"id": PAGE},
            "timestamp": ms + 2,
            "reaction": {"mid": "m_ours", "action": "react", "emoji": "x"},
        },
        messaging_unsend("psid-1", PAGE, "m_1", ms + 3),
    ]
    body = meta_messaging_body(object_type, PAGE, *items)
    assert json.loads(str(post_meta(aws_stack, channel, body)["body"])) == {"accepted": 4, "parked": 0}
    post_meta(aws_stack, channel, body)  # Meta redelivers: nothing twice
    attribute(aws_stack)
    _, stored = conversation(aws_stack, f"{channel}#{PAGE}#psid-1")
    assert stored["customer_message_count"] == 1
    assert [e["kind"] for e in stored["events"]] == ["edit", "reaction", "deletion"]
    assert [e["refers_to"] for e in stored["events"]] == ["m_1", "m_ours", "m_1"]


def test_a_tiktok_reaction_with_no_conversation_opens_none(aws_stack: IntegrationStack) -> None:
    content = tiktok_reaction_content("tt-zoe", TT, "tt-msg-Z", NOW * 1000, "tt-msg-ours")
    post_tiktok(aws_stack, tiktok_body("im_receive_msg", TT, content, NOW))
    attribute(aws_stack)
    _, stored = conversation(aws_stack, f"tiktok#{TT}#tt-zoe")
    assert ("source" in stored, [e["kind"] for e in stored["events"]]) == (False, ["reaction"])


def test_tiktok_ping_is_answered_and_nothing_else(aws_stack: IntegrationStack) -> None:
    answer = post_tiktok(aws_stack, tiktok_ping_body(NOW * 1000))
    assert (answer["statusCode"], json.loads(str(answer["body"]))) == (200, {"accepted": 0, "parked": 0})
    assert aws_stack.drain("InboundQueue") == []
    assert aws_stack.drain("ParkedQueue") == []


def test_authorization_removed_disconnects_the_business_account_and_keeps_its_conversations(
    aws_stack: IntegrationStack,
) -> None:
    connect(aws_stack, "business")
    captured = bus_events(aws_stack)
    post_tiktok(aws_stack, tiktok_body("im_receive_msg", TT, tiktok_text_content("tt-1", TT, "tt-m1", NOW * 1000, "hi"), NOW))
    removed = json.dumps(
        {
            "client_key": "local-tiktok-app",
            "event": "authorization.removed",
            "create_time": int(time.time()) + 1,  # after the connection it removes
            "user_openid": TT,
            "content": json.dumps({"reason": 1}),
        }
    ).encode()
    post_tiktok(aws_stack, removed)
    post_tiktok(aws_stack, removed)  # TikTok retries: announced once
    attribute(aws_stack)
    status, business = admin_get(aws_stack, f"/admin/businesses/{TT}")
    assert (status, business["status"]) == (200, "DISCONNECTED")
    assert "the user disconnected the app in TikTok" in business["reauth_reason"]
    assert "access_token_ciphertext" not in business
    announced = [e for e in captured() if e["detail-type"] == "AccountNeedsReauth"]
    assert [(e["detail"]["kind"], e["detail"]["account_id"]) for e in announced] == [("business", TT)]
    assert conversation(aws_stack, f"tiktok#{TT}#tt-1")[1]["customer_message_count"] == 1
    refresh = aws_stack.runtime.invoke("TokenRefreshFunction", {"time": "2100-01-01T00:00:00Z"})
    assert refresh["due"] == 0  # a disconnected account leaves the refresh schedule


def test_an_unknown_tiktok_event_stays_parked(aws_stack: IntegrationStack) -> None:
    post_tiktok(aws_stack, tiktok_body("im_something_new", TT, {}, NOW))
    assert [json.loads(m["Body"])["reason"] for m in aws_stack.drain("ParkedQueue")] == [
        "unknown TikTok event type 'im_something_new'"
    ]


@pytest.mark.parametrize(
    ("channel", "body", "reason"),
    [
        (
            "whatsapp",
            {"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [{"value": {}}]}]},
            "change without a field",
        ),
        (
            "whatsapp",
            {"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [{"field": "new_thing", "value": {}}]}]},
            "unknown WhatsApp webhook field 'new_thing'",
        ),
        ("whatsapp", {"object": "whatsapp_business_account", "entry": []}, NOTHING_RECOGNISED),
        ("messenger", {"object": "page", "entry": [{"id": PAGE, "time": 1}]}, "entry with no messaging, changes or standby"),
        ("instagram", {"object": "instagram", "entry": []}, NOTHING_RECOGNISED),
    ],
)
def test_nothing_verified_is_dropped(aws_stack: IntegrationStack, channel: str, body: dict[str, Any], reason: str) -> None:
    raw = json.dumps(body).encode()
    assert post_meta(aws_stack, channel, raw)["statusCode"] == 200
    assert [json.loads(m["Body"])["reason"] for m in aws_stack.drain("ParkedQueue")] == [reason]


@pytest.mark.parametrize(
    ("channel", "sent", "expected_ms"),
    [
        ("whatsapp", "1749416383", 1_749_416_383_000),
        ("whatsapp", 1749416383123, 1_749_416_383_123),
        ("messenger", 1749416383, 1_749_416_383_000),
        ("messenger", "1749416383123", 1_749_416_383_123),
        ("tiktok", str(NOW), NOW * 1000),
    ],
)
def test_timestamps_by_magnitude_date_the_conversation(
    aws_stack: IntegrationStack, channel: str, sent: object, expected_ms: int
) -> None:
    if channel == "whatsapp":
        post_meta(aws_stack, "whatsapp", whatsapp(WhatsAppMessage(PHONE, "wamid.T", 0, "hi", raw_timestamp=sent)))  # type: ignore[arg-type]
        key = f"whatsapp#{WA}#{PHONE}"
    elif channel == "messenger":
        item = messaging_message("psid-t", PAGE, "m_t", 0, "hi") | {"timestamp": sent}
        post_meta(aws_stack, "messenger", meta_messaging_body("page", PAGE, item))
        key = f"messenger#{PAGE}#psid-t"
    else:
        content = tiktok_text_content("tt-t", TT, "tt-m-t", 0, "hi") | {"timestamp": sent}
        post_tiktok(aws_stack, tiktok_body("im_receive_msg", TT, content, NOW))
        key = f"tiktok#{TT}#tt-t"
    attribute(aws_stack)
    assert conversation(aws_stack, key)[1]["started_at_ms"] == expected_ms


@pytest.mark.parametrize("sent", ["1517", 0, "2100000000", "later"])
def test_a_time_outside_the_window_never_dates_a_lead(aws_stack: IntegrationStack, sent: object) -> None:
    linked(aws_stack, ("whatsapp", WA, "+1 555-078-3881"))
    before = time.time() * 1000
    post_meta(aws_stack, "whatsapp", whatsapp(WhatsAppMessage(PHONE, "wamid.T", 0, "hi", raw_timestamp=sent)))  # type: ignore[arg-type]
    attribute(aws_stack)
    stored = conversation(aws_stack, f"whatsapp#{WA}#{PHONE}")[1]
    assert before <= stored["started_at_ms"] <= time.time() * 1000
    assert stored["day"] == time.strftime("%Y-%m-%d", time.gmtime())  # the advertiser's zone is UTC here


@pytest.mark.parametrize("later", ["phone", "bsuid"])
def test_one_customer_one_key_whichever_identifier_comes_later(aws_stack: IntegrationStack, later: str) -> None:
    """The rule: a conversation keeps the identifier it opened with; a payload naming both records the other."""
    both = WhatsAppMessage(BSUID, "wamid.B1", NOW, "hello", bsuid=True, phone=PHONE)
    alone = (
        WhatsAppMessage(PHONE, "wamid.B2", NOW + 1, "again")
        if later == "phone"
        else WhatsAppMessage(BSUID, "wamid.B2", NOW + 1, "again", bsuid=True)
    )
    post_meta(aws_stack, "whatsapp", whatsapp(both))
    attribute(aws_stack)
    post_meta(aws_stack, "whatsapp", whatsapp(alone))
    attribute(aws_stack)
    assert conversation(aws_stack, f"whatsapp#{WA}#{BSUID}")[1]["customer_message_count"] == 2
    assert conversation(aws_stack, f"whatsapp#{WA}#{PHONE}")[0] == 404


def test_a_phone_conversation_keeps_its_key_when_the_bsuid_appears(aws_stack: IntegrationStack) -> None:
    for message in (
        WhatsAppMessage(PHONE, "wamid.P1", NOW, "from before usernames"),
        WhatsAppMessage(BSUID, "wamid.P2", NOW + 1, "now with a BSUID", bsuid=True, phone=PHONE),
        WhatsAppMessage(BSUID, "wamid.P3", NOW + 2, "phone withheld", bsuid=True),
    ):
        post_meta(aws_stack, "whatsapp", whatsapp(message))
        attribute(aws_stack)
    assert conversation(aws_stack, f"whatsapp#{WA}#{PHONE}")[1]["customer_message_count"] == 3
    assert conversation(aws_stack, f"whatsapp#{WA}#{BSUID}")[0] == 404
