"""TikTok Business Messaging webhooks: the signature header and every event type (tiktok.md 6c, 6d)."""

from __future__ import annotations

import json

import pytest

from local.scenario import (
    tiktok_ad_referral_content,
    tiktok_body,
    tiktok_short_link_content,
    tiktok_signature_header,
    tiktok_text_content,
)
from messaging_partner.adapters.channels import tiktok
from messaging_partner.domain.errors import HandshakeNotSupported, UnparseablePayload
from messaging_partner.domain.models import MessageKind, VerificationPolicy, WebhookRequest
from tests.fakes import FakeSecrets

SECRETS = FakeSecrets()
BUSINESS = "-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"
NOW = 1_763_800_000
BODY = tiktok_body("im_receive_msg", BUSINESS, tiktok_text_content("user-1", BUSINESS, "msg-1", NOW * 1000, "hello"), NOW)


def verify(header: str | None, body: bytes = BODY, now: float = NOW, tolerance: int = 300) -> bool:
    headers = {} if header is None else {"tiktok-signature": header}
    return tiktok.verify(WebhookRequest("POST", headers, {}, body), SECRETS, VerificationPolicy(now, tolerance))


def sig(timestamp: int, body: bytes = BODY, secret: str = SECRETS.tiktok_secret) -> str:
    return tiktok.signature(secret, timestamp, body)


def test_valid_header() -> None:
    assert verify(tiktok_signature_header(SECRETS.tiktok_secret, BODY, NOW))


@pytest.mark.parametrize(
    ("label", "header"),
    [
        ("missing header", None),
        ("empty header", ""),
        ("no t", f"s={sig(NOW)}"),
        ("no s", f"t={NOW}"),
        ("t without value", f"t=,s={sig(NOW)}"),
        ("not key=value", f"{NOW},{sig(NOW)}"),
        ("two t values", f"t={NOW},t={NOW},s={sig(NOW)}"),
        ("non-numeric t", f"t=abc,s={sig(NOW)}"),
        ("negative t", f"t=-{NOW},s={sig(NOW)}"),
        ("wrong secret", f"t={NOW},s={sig(NOW, secret='someone-else')}"),
        ("signature of another body", f"t={NOW},s={sig(NOW, body=b'{}')}"),
        ("signature for another t", f"t={NOW},s={sig(NOW - 1)}"),
        ("only wrong signatures", f"t={NOW},s={'0' * 64},s={'f' * 64}"),
        ("old timestamp", f"t={NOW - 301},s={sig(NOW - 301)}"),
        ("future timestamp", f"t={NOW + 301},s={sig(NOW + 301)}"),
        ("t of thousands of digits", f"t={'9' * 5000},s={sig(NOW)}"),
        ("t in superscript digits", f"t=\u00b9\u2077\u2076\u00b3,s={sig(NOW)}"),
        ("t in Arabic-Indic digits", f"t=\u0661\u0667\u0666\u0663,s={sig(NOW)}"),
        ("t with a sign", f"t=+{NOW},s={sig(NOW)}"),
        ("non-ASCII s", f"t={NOW},s=\u00e9{sig(NOW)[1:]}"),
        ("full-width hex s", f"t={NOW},s={sig(NOW).translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})}"),
        ("s one digit short", f"t={NOW},s={sig(NOW)[:-1]}"),
        ("s not hex", f"t={NOW},s={'z' * 64}"),
    ],
)
def test_refused(label: str, header: str | None) -> None:
    assert not verify(header), label


@pytest.mark.parametrize(
    ("label", "header"),
    [
        ("two s values, one right (secret rotation)", f"t={NOW},s={'0' * 64},s={sig(NOW)}"),
        ("spaces after commas", f"t={NOW}, s={sig(NOW)}"),
        ("uppercase hex", f"t={NOW},s={sig(NOW).upper()}"),
        ("parts in another order", f"s={sig(NOW)},t={NOW}"),
        ("unknown extra part", f"t={NOW},v=1,s={sig(NOW)}"),
        ("an s of another kind beside ours", f"t={NOW},s=v2:\u00e9,s={sig(NOW)}"),
        ("at the edge of the tolerance", f"t={NOW - 300},s={sig(NOW - 300)}"),
    ],
)
def test_accepted(label: str, header: str) -> None:
    assert verify(header), label


def test_tolerance_is_configurable() -> None:
    header = f"t={NOW - 10},s={sig(NOW - 10)}"
    assert verify(header, tolerance=300)
    assert not verify(header, tolerance=5)


def test_no_get_handshake() -> None:
    with pytest.raises(HandshakeNotSupported):
        tiktok.handshake({"hub.mode": "subscribe"}, SECRETS)


def test_receive_msg() -> None:
    [message] = tiktok.parse(BODY).messages
    assert (message.kind, message.customer_id, message.business_account_id) == (MessageKind.MESSAGE, "user-1", BUSINESS)
    assert (message.platform_message_id, message.text, message.sent_at_ms) == ("msg-1", "hello", NOW * 1000)
    assert message.conversation_key == f"tiktok#{BUSINESS}#user-1"


def test_content_as_an_object_is_accepted_too() -> None:
    envelope = json.loads(BODY)
    envelope["content"] = json.loads(envelope["content"])
    assert tiktok.parse(json.dumps(envelope).encode()).messages[0].text == "hello"


@pytest.mark.parametrize("kind", ["image", "sticker", "share_post", "emoji"])
def test_non_text_messages_have_no_text(kind: str) -> None:
    content = tiktok_text_content("user-1", BUSINESS, "msg-2", NOW * 1000, "")
    content.pop("text")
    content["type"] = kind
    assert tiktok.parse(tiktok_body("im_receive_msg", BUSINESS, content, NOW)).messages[0].text is None


def test_send_msg_is_our_outbound_echo() -> None:
    content = tiktok_text_content("user-1", BUSINESS, "msg-out", NOW * 1000, "Thanks!", inbound=False)
    [echo] = tiktok.parse(tiktok_body("im_send_msg", BUSINESS, content, NOW)).messages
    assert (echo.kind, echo.customer_id) == (MessageKind.ECHO, "user-1")


def test_eu_event_is_stripped_and_attributed_to_no_one() -> None:
    content = {"to": "brand", "to_user": {"id": BUSINESS, "role": "business_account"}, "timestamp": NOW * 1000}
    body = tiktok_body("im_receive_msg_eu", BUSINESS, content, NOW)
    [stripped] = tiktok.parse(body).messages
    assert stripped.kind is MessageKind.STRIPPED
    assert stripped.customer_id == ""
    assert stripped.text is None
    assert stripped.business_account_id == BUSINESS
    assert tiktok.parse(body).messages[0].platform_message_id == stripped.platform_message_id


def test_ad_referral_before_any_message() -> None:
    ad = {
        "advertiser_id": "7100000000000000001",
        "ad_id": "1790000000000001",
        "ad_name": "Sneakers DM ad",
        "embed_url": "https://www.tiktok.com/embed/1",
    }
    [click] = tiktok.parse(
        tiktok_body("im_referral_msg", BUSINESS, tiktok_ad_referral_content("user-2", BUSINESS, NOW * 1000, ad), NOW)
    ).messages
    assert click.kind is MessageKind.REFERRAL
    assert click.customer_id == "user-2"
    assert click.referral is not None
    assert click.referral.is_ad
    assert (click.referral.ad_id, click.referral.ad_name, click.referral.advertiser_id) == (
        "1790000000000001",
        "Sneakers DM ad",
        "7100000000000000001",
    )
    assert click.referral.media_urls == ("https://www.tiktok.com/embed/1",)
    assert click.platform_message_id.startswith("h:")


def test_smart_plus_referral_keeps_the_creative_material_id() -> None:
    ad = {
        "advertiser_id": "7100000000000000001",
        "ad_id": "1800000000000009",
        "ad_name": "Smart+",
        "message_material_id": "mm-42",
    }
    [click] = tiktok.parse(
        tiktok_body("im_referral_msg", BUSINESS, tiktok_ad_referral_content("user-3", BUSINESS, NOW * 1000, ad), NOW)
    ).messages
    assert click.referral is not None
    assert click.referral.creative_material_id == "mm-42"


def test_short_link_referral_is_not_an_ad() -> None:
    content = tiktok_short_link_content("user-4", BUSINESS, NOW * 1000, "vip_2026")
    [click] = tiktok.parse(tiktok_body("im_referral_msg", BUSINESS, content, NOW)).messages
    assert click.referral is not None
    assert not click.referral.is_ad
    assert (click.referral.source, click.referral.tracking_ref) == ("short_link", "vip_2026")


def test_mark_read() -> None:
    content = {"from_user": {"id": "user-1", "role": "personal_account"}, "read": {"last_read_timestamp": NOW * 1000 + 5}}
    [read] = tiktok.parse(tiktok_body("im_mark_read_msg", BUSINESS, content, NOW)).messages
    assert (read.kind, read.sent_at_ms) == (MessageKind.READ, NOW * 1000 + 5)


@pytest.mark.parametrize(
    "event", ["im_auto_message_config_update", "im_auto_message_audit_update", "im_receive_high_intent_comment"]
)
def test_known_non_conversation_events_are_counted(event: str) -> None:
    delivery = tiktok.parse(tiktok_body(event, BUSINESS, {}, NOW))
    assert delivery.messages == []
    assert delivery.recognized[event] == 1


def test_unknown_event_type_is_unparseable_so_it_gets_parked() -> None:
    with pytest.raises(UnparseablePayload) as error:
        tiktok.parse(tiktok_body("im_brand_new_event", BUSINESS, {}, NOW))
    assert "im_brand_new_event" in error.value.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[]", "body is JSON but not an object"),
        (b'{"event": "im_receive_msg"}', "not a TikTok webhook envelope"),
        (b'{"user_openid": "b"}', "not a TikTok webhook envelope"),
    ],
)
def test_not_an_envelope(raw: bytes, reason: str) -> None:
    with pytest.raises(UnparseablePayload) as error:
        tiktok.parse(raw)
    assert error.value.reason.startswith(reason)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1]", json.dumps({"from_user": {"id": "u"}, "timestamp": 1}), json.dumps({"message_id": "m", "timestamp": 1})],
    ids=["content not JSON", "content not an object", "no message_id", "no sender"],
)
def test_unreadable_event_is_rejected_for_parking(content: str) -> None:
    envelope = {"event": "im_receive_msg", "user_openid": BUSINESS, "create_time": NOW, "content": content}
    delivery = tiktok.parse(json.dumps(envelope).encode())
    assert delivery.messages == []
    assert len(delivery.rejected) == 1


def app_event(event: str, content: object, create_time: int = NOW) -> bytes:
    envelope = {"client_key": "app", "event": event, "create_time": create_time, "user_openid": BUSINESS, "content": content}
    return json.dumps(envelope).encode()


@pytest.mark.parametrize("create_time", [NOW, NOW * 1000])  # pings seen in the wild carry milliseconds
def test_a_ping_is_acknowledged_and_nothing_else(create_time: int) -> None:
    delivery = tiktok.parse(app_event("tiktok.ping", json.dumps({"reason": "testing Webhook"}), create_time))
    assert (delivery.messages, delivery.rejected, dict(delivery.recognized)) == ([], [], {"tiktok.ping": 1})


def test_a_ping_needs_no_business_account() -> None:
    delivery = tiktok.parse(json.dumps({"event": "tiktok.ping", "content": "testing Webhook"}).encode())
    assert delivery.recognized["tiktok.ping"] == 1


@pytest.mark.parametrize(("code", "reason"), [(1, "the user disconnected the app in TikTok"), (7, "unknown reason")])
def test_authorization_removed_disconnects_the_business_account(code: int, reason: str) -> None:
    [removed] = tiktok.parse(app_event("authorization.removed", json.dumps({"reason": code}))).messages
    assert (removed.kind, removed.business_account_id, removed.customer_id) == (MessageKind.DEAUTHORIZATION, BUSINESS, "")
    assert removed.detail == f"{reason} (reason {code})"
    assert removed.sent_at_ms == NOW * 1000
    again = tiktok.parse(app_event("authorization.removed", json.dumps({"reason": code}))).messages[0]
    assert again.platform_message_id == removed.platform_message_id  # a redelivery dedupes


@pytest.mark.parametrize(("operation", "detail"), [("ADD", "added"), ("REMOVE", "removed")])
def test_a_reaction_is_an_event_about_the_message(operation: str, detail: str) -> None:
    content = tiktok_text_content("user-1", BUSINESS, "msg-r", NOW * 1000, "")
    content.pop("text")
    reaction = {"operation": operation, "type": "EMOJI", "emoji": "\u2764", "original_msg_id": "msg-business", "timestamp": 1}
    content.update(type="reaction", reaction=[reaction])
    [parsed] = tiktok.parse(tiktok_body("im_receive_msg", BUSINESS, content, NOW)).messages
    assert (parsed.kind, parsed.refers_to, parsed.detail, parsed.text) == (MessageKind.REACTION, "msg-business", detail, None)


def test_an_unknown_message_type_is_rejected_for_parking() -> None:
    content = tiktok_text_content("user-1", BUSINESS, "msg-x", NOW * 1000, "hi")
    content["type"] = "hologram"
    delivery = tiktok.parse(tiktok_body("im_receive_msg", BUSINESS, content, NOW))
    assert delivery.messages == []
    assert "unknown TikTok message type 'hologram'" in delivery.rejected[0].reason


@pytest.mark.parametrize("timestamp", [NOW, NOW * 1000, str(NOW), str(NOW * 1000)])
def test_content_timestamps_by_magnitude(timestamp: object) -> None:
    content = tiktok_text_content("user-1", BUSINESS, "msg-t", NOW * 1000, "hi") | {"timestamp": timestamp}
    assert tiktok.parse(tiktok_body("im_receive_msg", BUSINESS, content, NOW)).messages[0].sent_at_ms == NOW * 1000


@pytest.mark.parametrize("referral", ["oops", None, []])
def test_a_referral_that_is_not_an_object_is_rejected_for_parking(referral: object) -> None:
    content = {"from_user": {"id": "c"}, "timestamp": NOW * 1000, "referral": referral}
    delivery = tiktok.parse(tiktok_body("im_referral_msg", BUSINESS, content, NOW))  # type: ignore[arg-type]
    assert delivery.messages == []
    assert "referral missing or not an object" in delivery.rejected[0].reason


def test_content_nested_too_deep_is_rejected_for_parking() -> None:
    envelope = {"event": "im_receive_msg", "user_openid": BUSINESS, "create_time": NOW, "content": "[" * 5000 + "]" * 5000}
    delivery = tiktok.parse(json.dumps(envelope).encode())
    assert "nested too deep" in delivery.rejected[0].reason
