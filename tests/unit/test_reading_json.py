"""Reading webhook JSON is total: what no field can use is read as unusable, never a crash (issue 13's fuzz findings)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messaging_partner.adapters.channels import CHANNELS, tiktok, whatsapp
from messaging_partner.adapters.channels.base import MAX_JSON_DEPTH, UnreadableNumber, read_json
from messaging_partner.domain.errors import UnparseablePayload
from tests.unit.test_whatsapp_parser import body, change, message

NOW_S = 1_763_800_000


def whatsapp_text(text_json: str) -> bytes:
    """A documented WhatsApp text message whose body is the given JSON string literal, written raw."""
    raw = body(change([message("text", {"body": "PLACEHOLDER"})])).decode()
    return raw.replace('"PLACEHOLDER"', text_json).encode()


@pytest.mark.parametrize(
    ("literal", "read"),
    [
        ('"a\\ud800b"', "a\ufffdb"),  # a high surrogate alone
        ('"\\udc00"', "\ufffd"),  # a low surrogate alone
        ('"\\ude00\\ud83d"', "\ufffd\ufffd"),  # a pair in the wrong order is two halves
        ('"\\ud83d\\ude00"', "\U0001f600"),  # a real pair is the character it encodes
        ('"hi \\ud83d"', "hi \ufffd"),  # text cut in the middle of an emoji
    ],
)
def test_a_lone_surrogate_becomes_the_replacement_character_and_the_message_is_kept(literal: str, read: str) -> None:
    [parsed] = whatsapp.parse(whatsapp_text(literal)).messages
    assert parsed.text == read
    parsed.model_dump_json()  # the queue's JSON: a lone surrogate would not encode as UTF-8


def test_a_lone_surrogate_in_a_key_is_replaced_too() -> None:
    assert read_json(b'{"a\\udfff": 1}') == {"a\ufffd": 1}


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, str(2**63), str(2**64), "1" + "0" * 65]
)
def test_a_timestamp_no_clock_can_read_is_replaced_by_the_receipt_time(literal: str) -> None:
    raw = body(change([message("text", {"body": "hi"}, timestamp="PLACEHOLDER")])).decode()
    delivery = whatsapp.parse(raw.replace('"PLACEHOLDER"', literal).encode())
    [parsed] = delivery.messages
    assert parsed.sent_at_ms == 0  # the webhook rule dates it by its receipt, with a note (tests/unit/test_webhooks.py)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("NaN", UnreadableNumber("NaN")), ("1e400", UnreadableNumber("1e400")), ("9" * 65, UnreadableNumber("9" * 65))],
)
def test_unusable_numbers_are_kept_as_their_text(literal: str, value: UnreadableNumber) -> None:
    parsed = read_json(f'{{"n": {literal}}}'.encode())
    assert parsed == {"n": value}
    assert json.loads(json.dumps(parsed, default=str)) == {"n": literal}  # how a parked fragment writes it


@pytest.mark.parametrize("number", ["9" * 64, "-" + "9" * 64, "1.5", "0"])
def test_numbers_of_sensible_size_are_numbers(number: str) -> None:
    assert read_json(f"[{number}]".encode()) == [json.loads(number)]


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def test_json_up_to_the_depth_limit_is_read() -> None:
    assert read_json(nested(MAX_JSON_DEPTH))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900, 1_000, 100_000])
def test_json_nested_deeper_than_the_limit_is_unparseable_whole(depth: int) -> None:
    with pytest.raises(UnparseablePayload, match="nested too deep"):
        read_json(nested(depth))


@pytest.mark.parametrize("channel", ["whatsapp", "messenger", "instagram", "tiktok"])
def test_a_deep_body_is_unparseable_on_every_platform(channel: str) -> None:
    inner = "[" * 1_000 + "]" * 1_000
    raw = f'{{"object": "page", "event": "im_receive_msg", "user_openid": "b", "entry": [{{"x": {inner}}}]}}'
    with pytest.raises(UnparseablePayload, match="nested too deep"):
        CHANNELS[channel].parse(raw.encode())


@pytest.mark.parametrize("field", [[], {}, ["messages"], 7, UnreadableNumber("NaN")])
def test_a_whatsapp_field_of_any_type_is_parked_with_its_reason(field: Any) -> None:
    raw = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": field, "value": {}}]}]}, default=str
    )
    [rejected] = whatsapp.parse(raw.encode()).rejected
    assert rejected.reason.startswith("unknown WhatsApp webhook field")


@pytest.mark.parametrize("event", [[], {}, 7, None])
def test_a_tiktok_event_of_any_type_is_unparseable(event: Any) -> None:
    with pytest.raises(UnparseablePayload, match="not a TikTok webhook envelope"):
        tiktok.parse(json.dumps({"event": event, "user_openid": "b", "content": "{}"}).encode())


@pytest.mark.parametrize("message_type", [[], {"a": 1}, 7])
def test_a_message_type_of_any_type_is_rejected_for_parking(message_type: Any) -> None:
    content = {"from_user": {"id": "u"}, "message_id": "m", "type": message_type}
    envelope = {"event": "im_receive_msg", "user_openid": "b", "create_time": NOW_S, "content": json.dumps(content)}
    [rejected] = tiktok.parse(json.dumps(envelope).encode()).rejected
    assert "not a string" in rejected.reason
    raw = body(change([message("text", None, type=message_type)]))
    [rejected] = whatsapp.parse(raw).rejected
    assert "unknown WhatsApp message type" in rejected.reason


def test_a_reason_quotes_a_huge_value_cut_short() -> None:
    with pytest.raises(UnparseablePayload) as error:
        CHANNELS["messenger"].parse(json.dumps({"object": "x" * 1_000_000, "entry": []}).encode())
    assert len(error.value.reason) < 200
