"""Webhook receipt rules, with fake queue and parker."""

from __future__ import annotations

import json

import pytest

from messaging_partner.adapters.channels import CHANNELS
from messaging_partner.adapters.channels.meta import hub_signature
from messaging_partner.domain.errors import DeliveryFailed, UnparseablePayload
from messaging_partner.domain.models import VerificationPolicy, WebhookRequest
from messaging_partner.domain.webhooks import MAX_REASON_CHARS, NOTHING_RECOGNISED, PARSER_FAILED, receive_webhook
from tests.fakes import FakeInboundQueue, FakeParker, FakeSecrets
from tests.unit.test_whatsapp_parser import DOCUMENTED_EXAMPLE, body, change, message

SECRETS = FakeSecrets()


POLICY = VerificationPolicy(now=1_763_800_000)


def post(
    raw: bytes, signature: str | None = None, channel: str = "whatsapp"
) -> tuple[int, dict[str, object], FakeInboundQueue, FakeParker]:
    headers = {} if signature is None else {"x-hub-signature-256": signature}
    queue, parker = FakeInboundQueue(), FakeParker()
    reply = receive_webhook(channel, WebhookRequest("POST", headers, {}, raw), CHANNELS, SECRETS, queue, parker, POLICY)
    assert reply.content_type == "application/json"
    return reply.status, json.loads(reply.body), queue, parker


def signed(raw: bytes) -> str:
    return hub_signature(SECRETS.meta_secret, raw)


def test_signed_delivery_is_enqueued() -> None:
    status, answer, queue, parker = post(DOCUMENTED_EXAMPLE, signed(DOCUMENTED_EXAMPLE))
    assert status == 200
    assert answer == {"accepted": 1, "parked": 0}
    assert [m.text for m in queue.sent] == ["Does it come in another color?"]
    assert parker.parked == []


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_unverifiable_delivery_is_refused_and_nothing_kept(signature: str | None) -> None:
    status, answer, queue, parker = post(DOCUMENTED_EXAMPLE, signature)
    assert status == 401
    assert "nothing was stored" in str(answer["message"])
    assert queue.sent == []
    assert parker.parked == []


def test_verified_but_unreadable_is_parked_with_reason() -> None:
    raw = b'{"object": "whatsapp_business_account", "entry": "oops"}'
    status, answer, queue, parker = post(raw, signed(raw))
    assert status == 200
    assert answer == {"parked": "entry is missing or not a list"}
    assert queue.sent == []
    assert parker.parked == [("whatsapp", "entry is missing or not a list", raw)]


def test_unreadable_fragments_are_parked_and_the_rest_enqueued() -> None:
    broken = message("text", {"body": "x"})
    del broken["id"]
    raw = body(change([message("text", {"body": "ok"}, id="wamid.ok"), broken]))
    status, answer, queue, parker = post(raw, signed(raw))
    assert status == 200
    assert answer == {"accepted": 1, "parked": 1}
    assert [m.platform_message_id for m in queue.sent] == ["wamid.ok"]
    assert parker.parked[0][2] == broken


def test_enqueue_failure_propagates_so_the_platform_retries() -> None:
    queue = FakeInboundQueue(fail=True)
    request = WebhookRequest("POST", {"x-hub-signature-256": signed(DOCUMENTED_EXAMPLE)}, {}, DOCUMENTED_EXAMPLE)
    with pytest.raises(DeliveryFailed):
        receive_webhook("whatsapp", request, CHANNELS, SECRETS, queue, FakeParker(), POLICY)


def test_unknown_channel_is_404_with_the_known_ones() -> None:
    status, answer, _, _ = post(DOCUMENTED_EXAMPLE, signed(DOCUMENTED_EXAMPLE), channel="telegram")
    assert status == 404
    assert "whatsapp" in str(answer["message"])


def test_an_unsigned_body_of_any_size_is_refused_and_nothing_kept() -> None:
    queue, parker = FakeInboundQueue(), FakeParker()
    request = WebhookRequest("POST", {}, {}, b"x" * 101)
    reply = receive_webhook("whatsapp", request, CHANNELS, SECRETS, queue, parker, POLICY, max_body_bytes=100)
    assert reply.status == 401
    assert (queue.sent, parker.parked) == ([], [])


def test_a_verified_body_over_the_documented_size_is_parked_whole_unread() -> None:
    """A 413 would only have the platform send it again for days; the parker keeps any size (claim check)."""
    queue, parker = FakeInboundQueue(), FakeParker()
    request = WebhookRequest("POST", {"x-hub-signature-256": signed(DOCUMENTED_EXAMPLE)}, {}, DOCUMENTED_EXAMPLE)
    reply = receive_webhook("whatsapp", request, CHANNELS, SECRETS, queue, parker, POLICY, max_body_bytes=100)
    assert (reply.status, reply.parked, queue.sent) == (200, 1, [])
    [(_, reason, kept)] = parker.parked
    assert kept == DOCUMENTED_EXAMPLE
    assert reason == f"body of {len(DOCUMENTED_EXAMPLE)} bytes, over the 100 platforms document; kept unread"


def test_a_message_the_queue_cannot_carry_is_parked_whole_and_the_rest_queued() -> None:
    huge = message("text", {"body": "x" * 600_000}, id="wamid.huge")
    raw = body(change([message("text", {"body": "ok"}, id="wamid.ok"), huge, dict(huge, id="wamid.huge2")]))
    status, answer, queue, parker = post(raw, signed(raw))
    assert (status, answer) == (200, {"accepted": 1, "parked": 2})
    assert [m.platform_message_id for m in queue.sent] == ["wamid.ok"]
    for (_, reason, kept), wamid in zip(parker.parked, ["wamid.huge", "wamid.huge2"], strict=True):
        assert reason.startswith("message of 600")
        assert (kept["platform_message_id"], kept["text"]) == (wamid, "x" * 600_000)  # as it would have been queued


def test_a_parser_bug_parks_the_delivery_whole_and_answers_200(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(raw_body: bytes) -> None:
        raise AttributeError("'list' object has no attribute 'get'")

    monkeypatch.setattr(CHANNELS["whatsapp"], "parse", broken)
    queue, parker = FakeInboundQueue(), FakeParker()
    request = WebhookRequest("POST", {"x-hub-signature-256": signed(DOCUMENTED_EXAMPLE)}, {}, DOCUMENTED_EXAMPLE)
    reply = receive_webhook("whatsapp", request, CHANNELS, SECRETS, queue, parker, POLICY)
    assert (reply.status, reply.outcome, reply.parked, queue.sent) == (200, "parser_failed", 1, [])
    assert parker.parked == [
        ("whatsapp", f"{PARSER_FAILED}: AttributeError: 'list' object has no attribute 'get'", DOCUMENTED_EXAMPLE)
    ]


def test_a_reason_is_stored_no_longer_than_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def quoting(raw_body: bytes) -> None:
        raise UnparseablePayload("the parser quoted everything: " + "x" * 5_000)

    monkeypatch.setattr(CHANNELS["whatsapp"], "parse", quoting)
    _, answer, _, parker = post(DOCUMENTED_EXAMPLE, signed(DOCUMENTED_EXAMPLE))
    [(_, reason, _)] = parker.parked
    assert len(reason) == MAX_REASON_CHARS
    assert answer == {"parked": reason}


@pytest.mark.parametrize(("token", "status", "answer"), [("verify-me", 200, "1158201444"), ("wrong", 403, None), ("", 403, None)])
def test_handshake(token: str, status: int, answer: str | None) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    reply = receive_webhook(
        "whatsapp", WebhookRequest("GET", {}, query, b""), CHANNELS, SECRETS, FakeInboundQueue(), FakeParker(), POLICY
    )
    assert reply.status == status
    assert reply.content_type == "text/plain"
    if answer is not None:
        assert reply.body == answer


def test_tiktok_has_no_get_handshake() -> None:
    reply = receive_webhook(
        "tiktok", WebhookRequest("GET", {}, {}, b""), CHANNELS, SECRETS, FakeInboundQueue(), FakeParker(), POLICY
    )
    assert reply.status == 405
    assert "POSTs signed events" in json.loads(reply.body)["message"]


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_meta_messaging_channels_share_the_handshake(channel: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "42"}
    reply = receive_webhook(
        channel, WebhookRequest("GET", {}, query, b""), CHANNELS, SECRETS, FakeInboundQueue(), FakeParker(), POLICY
    )
    assert (reply.status, reply.body) == (200, "42")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"object": "whatsapp_business_account", "entry": []}',
        b'{"object": "page", "entry": []}',
    ],
    ids=["whatsapp", "messenger"],
)
def test_a_verified_delivery_with_nothing_we_recognise_is_parked_whole(raw: bytes) -> None:
    channel = "whatsapp" if b"whatsapp" in raw else "messenger"
    status, answer, queue, parker = post(raw, signed(raw), channel)
    assert (status, answer, queue.sent) == (200, {"parked": NOTHING_RECOGNISED}, [])
    assert parker.parked == [(channel, NOTHING_RECOGNISED, raw)]


@pytest.mark.parametrize(
    ("timestamp", "note"),
    [
        ("1749416383", None),  # 2025, in seconds: kept
        ("1517", "timestamp 1517000 ms outside 2010..receipt+1 day; receipt time used"),  # 1970
        ("4102444800", "timestamp 4102444800000 ms outside 2010..receipt+1 day; receipt time used"),  # 2100
        ("soon", "no usable timestamp; receipt time used"),
    ],
)
def test_a_time_outside_2010_to_a_day_past_receipt_is_replaced_by_the_receipt_and_noted(timestamp: str, note: str) -> None:
    raw = body(change([message("text", {"body": "x"}, timestamp=timestamp)]))
    _, _, queue, _ = post(raw, signed(raw))
    [sent] = queue.sent
    assert sent.timestamp_note == note
    assert sent.sent_at_ms == (1_749_416_383_000 if note is None else int(POLICY.now * 1000))


@pytest.mark.parametrize(
    ("channel", "raw"),
    [
        ("whatsapp", body(change([message("text", {"body": "x"}, timestamp=int("9" * 400))]))),
        ("whatsapp", b'{"object": "whatsapp_business_account", "entry": [{"id": 1' + b"0" * 5000 + b"}]}"),
        ("whatsapp", b"[" * 5000 + b"]" * 5000),
        ("messenger", b'{"object": "page", "entry": [{"id": "p", "messaging": [{"sender": {"id": "u"}, "timestamp": 1e999}]}]}'),
    ],
    ids=["timestamp of 400 digits", "integer of 5000 digits", "nesting 5000 deep", "timestamp overflowing"],
)
def test_no_verified_body_crashes_the_receipt(channel: str, raw: bytes) -> None:
    """Found by review: each of these raised past the parsers and answered 500, so the platform retried for days."""
    status, _, queue, parker = post(raw, signed(raw), channel)
    assert status == 200
    assert queue.sent or parker.parked
