"""Messenger and Instagram payloads in their documented shapes (reference/meta_and_peers.md A2, A3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.scenario import (
    click_to_messenger_referral,
    messaging_echo,
    messaging_message,
    messaging_read,
    messaging_referral,
    meta_messaging_body,
)
from messaging_partner.adapters.channels import CHANNELS
from messaging_partner.domain.errors import UnparseablePayload
from messaging_partner.domain.models import Channel, MessageKind

PAGE = "104650435882311"
PSID = "6985123498273641"
META_MESSAGING = [("messenger", "page"), ("instagram", "instagram")]


def parse(channel: str, object_type: str, *items: dict[str, Any]) -> Any:
    module = CHANNELS[channel]
    assert module is not None
    return module.parse(meta_messaging_body(object_type, PAGE, *items))


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_documented_text_message(channel: str, object_type: str) -> None:
    documented = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1458692752478,
        "message": {"mid": "mid.1457764197618:41d102a3e1ae206a38", "text": "hello, world!", "quick_reply": {"payload": "X"}},
    }
    [message] = parse(channel, object_type, documented).messages
    assert message.channel is Channel(channel)
    assert message.business_account_id == PAGE
    assert message.customer_id == PSID
    assert message.platform_message_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert message.kind is MessageKind.MESSAGE
    assert message.sent_at_ms == 1458692752478  # milliseconds already
    assert message.text == "hello, world!"
    assert message.conversation_key == f"{channel}#{PAGE}#{PSID}"


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
@pytest.mark.parametrize("timestamp", [1458692752, "1458692752", 1458692752000, "1458692752000"])
def test_timestamps_in_seconds_or_strings_are_read_by_magnitude(channel: str, object_type: str, timestamp: object) -> None:
    """Meta's test payloads send seconds where live deliveries send milliseconds."""
    item = messaging_message(PSID, PAGE, "m_1", 0, "hi") | {"timestamp": timestamp}
    [message] = parse(channel, object_type, item).messages
    assert message.sent_at_ms == 1_458_692_752_000


def about(channel: str, object_type: str, event: dict[str, Any]) -> Any:
    item = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1_763_800_000_000, **event}
    [parsed] = parse(channel, object_type, item).messages
    return parsed


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_an_edit_is_an_event_with_an_id_of_its_own(channel: str, object_type: str) -> None:
    """message_edit reuses the original's mid: with it as the id, the queue would drop the edit as a repeat."""
    first = about(channel, object_type, {"message_edit": {"mid": "m_1", "text": "how much? I want to pay", "num_edit": 1}})
    second = about(channel, object_type, {"message_edit": {"mid": "m_1", "text": "how much?!", "num_edit": 2}})
    assert (first.kind, first.refers_to, first.text) == (MessageKind.EDIT, "m_1", "how much? I want to pay")
    assert len({first.platform_message_id, second.platform_message_id, "m_1"}) == 3


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_an_unsent_message_is_a_deletion_of_the_original(channel: str, object_type: str) -> None:
    parsed = about(channel, object_type, {"message": {"mid": "m_1", "is_deleted": True}})
    assert (parsed.kind, parsed.refers_to, parsed.customer_id) == (MessageKind.DELETION, "m_1", PSID)
    assert parsed.platform_message_id != "m_1"


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
@pytest.mark.parametrize(("action", "detail"), [("react", "added"), ("unreact", "removed")])
def test_a_reaction_is_an_event_about_the_message(channel: str, object_type: str, action: str, detail: str) -> None:
    reaction = {"mid": "m_business", "action": action, "reaction": "love", "emoji": "\u2764"}
    parsed = about(channel, object_type, {"reaction": reaction})
    assert (parsed.kind, parsed.refers_to, parsed.detail, parsed.text) == (MessageKind.REACTION, "m_business", detail, None)


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_an_entry_with_nothing_we_know_is_rejected_to_be_parked(channel: str, object_type: str) -> None:
    raw = json.dumps({"object": object_type, "entry": [{"id": PAGE, "time": 1, "something_new": []}]}).encode()
    delivery = CHANNELS[channel].parse(raw)
    assert [r.reason for r in delivery.rejected] == ["entry with no messaging, changes or standby"]


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_attachment_only_message_has_no_text(channel: str, object_type: str) -> None:
    [message] = parse(channel, object_type, messaging_message(PSID, PAGE, "m_1", 1, text=None)).messages
    assert message.text is None


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_echo_is_outbound_keyed_by_the_recipient(channel: str, object_type: str) -> None:
    [echo] = parse(channel, object_type, messaging_echo(PSID, PAGE, "m_echo", 5, "Thanks!")).messages
    assert echo.kind is MessageKind.ECHO
    assert echo.customer_id == PSID
    assert echo.text is None  # our own words are not kept as customer text


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_referral_on_the_first_message(channel: str, object_type: str) -> None:
    referral = click_to_messenger_referral("6045246247433", "Spring sneakers")
    [message] = parse(channel, object_type, messaging_message(PSID, PAGE, "m_1", 1, "hi", referral=referral)).messages
    assert message.referral is not None
    assert message.referral.is_ad
    assert (message.referral.ad_id, message.referral.ad_name, message.referral.tracking_ref) == (
        "6045246247433",
        "Spring sneakers",
        "spring_sale",
    )
    assert message.referral.media_urls == ("https://scontent.example/ad.jpg",)


@pytest.mark.parametrize(("channel", "object_type"), META_MESSAGING)
def test_referral_without_a_message_still_records_the_click(channel: str, object_type: str) -> None:
    item = messaging_referral(PSID, PAGE, 1458692752478, click_to_messenger_referral("6045246247433", "Spring sneakers"))
    [click] = parse(channel, object_type, item).messages
    assert click.kind is MessageKind.REFERRAL
    assert click.referral is not None
    assert click.referral.ad_id == "6045246247433"
    again = parse(channel, object_type, item).messages[0]
    assert click.platform_message_id == again.platform_message_id  # a stable id: redeliveries dedupe


def test_postback_with_referral_starts_a_thread() -> None:
    item = {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE},
        "timestamp": 1,
        "postback": {
            "title": "Get Started",
            "payload": "GET_STARTED",
            "referral": {"ref": "promo", "source": "SHORTLINK", "type": "OPEN_THREAD"},
        },
    }
    [message] = parse("messenger", "page", item).messages
    assert message.kind is MessageKind.MESSAGE
    assert message.text == "Get Started"
    assert message.referral is not None
    assert not message.referral.is_ad
    assert message.referral.tracking_ref == "promo"


def test_chat_plugin_user_ref_identifies_the_customer() -> None:
    item = {"sender": {"user_ref": "ref-123"}, "recipient": {"id": PAGE}, "timestamp": 1, "message": {"mid": "m", "text": "hi"}}
    assert parse("messenger", "page", item).messages[0].customer_id == "ref-123"


def test_read_is_a_read_event() -> None:
    [read] = parse("instagram", "instagram", messaging_read(PSID, PAGE, 77)).messages
    assert read.kind is MessageKind.READ


@pytest.mark.parametrize("kind", ["delivery", "optin", "policy_enforcement"])
def test_recognized_items_are_counted_not_enqueued(kind: str) -> None:
    item = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1, kind: {"watermark": 1}}
    delivery = parse("messenger", "page", item)
    assert delivery.messages == []
    assert delivery.recognized[kind] == 1


def test_unknown_item_is_parked_and_neighbours_kept() -> None:
    strange = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1, "brand_new_event": {}}
    no_mid = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1, "message": {"text": "x"}}
    delivery = parse("messenger", "page", strange, no_mid, messaging_message(PSID, PAGE, "m_ok", 2, "ok"))
    assert [m.platform_message_id for m in delivery.messages] == ["m_ok"]
    assert delivery.rejected[0].reason == "unknown messaging event"
    assert len(delivery.rejected) == 2


@pytest.mark.parametrize("key", ["message", "postback", "read"])
@pytest.mark.parametrize("value", ["hi", None, ["mid"], 7])
def test_an_item_whose_event_is_not_an_object_is_parked(key: str, value: object) -> None:
    item = {"sender": {"id": "PSID"}, "recipient": {"id": "PAGE"}, "timestamp": 1_763_800_000_000, key: value}
    delivery = parse("messenger", "page", item)
    assert delivery.messages == []
    assert [r.reason for r in delivery.rejected] == [f"messaging item not readable: TypeError('{key} is not an object')"]


def test_other_subscriptions_are_recognized() -> None:
    body = json.dumps(
        {"object": "instagram", "entry": [{"id": PAGE, "time": 1, "changes": [{"field": "comments", "value": {}}]}]}
    )
    delivery = CHANNELS["instagram"].parse(body.encode())
    assert delivery.recognized["changes"] == 1


@pytest.mark.parametrize(
    ("channel", "raw", "reason"),
    [
        ("messenger", b'{"object": "instagram", "entry": []}', "object is 'instagram', expected 'page'"),
        ("instagram", b'{"object": "page", "entry": []}', "object is 'page', expected 'instagram'"),
        ("messenger", b'{"object": "page"}', "entry is missing or not a list"),
        ("messenger", b"<xml/>", "body is not JSON"),
    ],
)
def test_unparseable(channel: str, raw: bytes, reason: str) -> None:
    with pytest.raises(UnparseablePayload) as error:
        CHANNELS[channel].parse(raw)
    assert error.value.reason.startswith(reason)


def test_unsupported_instagram_content_is_an_event_and_with_an_ad_click_an_entry() -> None:
    [event] = parse(
        "instagram",
        "instagram",
        {**messaging_message(PSID, PAGE, "m_u", 1_763_800_000_000), "message": {"mid": "m_u", "is_unsupported": True}},
    ).messages
    assert (event.kind, event.detail) == (MessageKind.UNSUPPORTED, "unsupported")
    ad = click_to_messenger_referral("6045246247433", "Spring")
    unsupported_click = {"mid": "m_v", "is_unsupported": True, "referral": ad}
    [entry] = parse(
        "instagram", "instagram", {**messaging_message(PSID, PAGE, "m_v", 1_763_800_000_000), "message": unsupported_click}
    ).messages
    assert (entry.kind, entry.referral.ad_id if entry.referral else None) == (MessageKind.REFERRAL, "6045246247433")


def test_postbacks_without_mid_or_time_keep_their_difference() -> None:
    first = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "postback": {"title": "Yes", "payload": "YES"}}
    second = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "postback": {"title": "No", "payload": "NO"}}
    ids = {m.platform_message_id for m in parse("messenger", "page", first, second).messages}
    assert len(ids) == 2
