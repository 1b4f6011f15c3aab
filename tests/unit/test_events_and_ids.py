from __future__ import annotations

import json

import pytest

from messaging_partner.adapters.aws.queues import sqs_safe_id
from messaging_partner.domain.domain_events import ConversationAttributed, MessageReceived, parse_signal_body
from messaging_partner.domain.models import Channel, InboundMessage, MessageKind
from tests.unit.test_attribution import inbound


def test_text_never_in_repr() -> None:
    message = inbound("m1")
    assert "hello" not in repr(message)
    assert "hello" not in repr(MessageReceived.for_message(message))


def test_keys() -> None:
    message = inbound("wamid.1")
    assert message.conversation_key == "whatsapp#106540352242922#16505551234"
    assert message.deduplication_key == "whatsapp:wamid.1"
    assert message.ordering_key == message.conversation_key


def test_each_stripped_event_is_ordered_alone_and_a_redelivery_with_itself() -> None:
    """EEA-stripped events share a conversation key (no customer) but not an order: they are only counted."""
    first, second = (inbound(f"h:eu{n}", customer="", kind=MessageKind.STRIPPED) for n in (1, 2))
    assert first.conversation_key == second.conversation_key == "whatsapp#106540352242922#"
    assert first.ordering_key != second.ordering_key
    assert first.ordering_key == inbound("h:eu1", customer="", kind=MessageKind.STRIPPED).ordering_key
    removed = inbound("h:gone", customer="", kind=MessageKind.DEAUTHORIZATION)
    assert removed.ordering_key == removed.conversation_key  # app events stay in order per business account


def test_event_ids_are_stable_and_distinct() -> None:
    assert MessageReceived.for_message(inbound("a")).event_id == MessageReceived.for_message(inbound("a")).event_id
    assert MessageReceived.for_message(inbound("a")).event_id != MessageReceived.for_message(inbound("b")).event_id


def test_signal_queue_bodies_of_both_shapes() -> None:
    received = MessageReceived.for_message(inbound("m1"))
    assert parse_signal_body(received.model_dump_json()) == received

    from messaging_partner.domain.attribution import first_touch

    attributed = ConversationAttributed.for_conversation(first_touch(inbound("m1")))
    envelope = {
        "version": "0",
        "detail-type": "ConversationAttributed",
        "source": "messaging-partner",
        "detail": attributed.model_dump(mode="json"),
    }
    assert parse_signal_body(json.dumps(envelope)) == attributed


@pytest.mark.parametrize("body", ["[]", '{"type": "Other"}', '{"detail-type": "AccountConnected", "detail": {}}', "not json"])
def test_signal_queue_rejects_unknown_bodies(body: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json and pydantic errors are both ValueError
        parse_signal_body(body)


def test_message_round_trips_through_the_queue_body() -> None:
    message = InboundMessage(
        channel=Channel.WHATSAPP,
        business_account_id="1",
        customer_id="2",
        platform_message_id="3",
        kind=MessageKind.MESSAGE,
        sent_at_ms=4,
    )
    assert InboundMessage.model_validate_json(message.model_dump_json(exclude_none=True)) == message


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("whatsapp#106540352242922#16505551234", True),
        ("whatsapp:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("tiktok#biz#user with space", False),
        ("whatsapp#1#ñandú", False),
    ],
)
def test_sqs_safe_id(value: str, kept: bool) -> None:
    result = sqs_safe_id(value)
    assert (result == value) is kept
    assert len(result) <= 128
    assert sqs_safe_id(value) == result
