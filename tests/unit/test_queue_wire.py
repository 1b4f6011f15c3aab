"""What goes on an SQS queue stays within what SQS takes: characters, message size, batch size."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messaging_partner.adapters.aws import queues
from messaging_partner.domain.models import Channel, InboundMessage, MessageKind


def inbound(text: str, message_id: str = "m1") -> InboundMessage:
    return InboundMessage(
        channel=Channel.WHATSAPP,
        business_account_id="p",
        customer_id="c",
        platform_message_id=message_id,
        kind=MessageKind.MESSAGE,
        sent_at_ms=1_763_800_000_000,
        text=text,
    )


class RecordingSqs:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append(Entries)
        return {}


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> RecordingSqs:
    recording = RecordingSqs()
    monkeypatch.setattr(queues, "client", lambda service: recording)
    return recording


@pytest.mark.parametrize("character", ["\uffff", "\ufffe", "\x00", "\x1f"])
def test_a_character_sqs_refuses_goes_as_a_json_escape_and_reads_back_the_same(sqs: RecordingSqs, character: str) -> None:
    queues.SqsInboundQueue("https://sqs/inbound.fifo").send([inbound(f"a{character}b")])
    [[entry]] = sqs.batches
    assert character not in entry["MessageBody"]
    assert InboundMessage.model_validate_json(entry["MessageBody"]).text == f"a{character}b"


def test_characters_sqs_takes_are_sent_as_they_are(sqs: RecordingSqs) -> None:
    text = "caf\u00e9 \u4f60\u597d \U0001f600 \u2028 \ufffd"
    queues.SqsInboundQueue("https://sqs/inbound.fifo").send([inbound(text)])
    assert text in json.loads(sqs.batches[0][0]["MessageBody"])["text"]


def test_batches_hold_ten_messages_and_256_kib_at_most(sqs: RecordingSqs) -> None:
    messages = [inbound("x" * 100_000, f"big{i}") for i in range(5)] + [inbound("y", f"small{i}") for i in range(25)]
    queues.SqsInboundQueue("https://sqs/inbound.fifo").send(messages)
    for batch in sqs.batches:
        assert len(batch) <= queues.SQS_BATCH_LIMIT
        assert sum(len(entry["MessageBody"].encode()) for entry in batch) <= queues.BATCH_LIMIT_BYTES
    assert [entry["MessageDeduplicationId"] for batch in sqs.batches for entry in batch] == [
        f"whatsapp:{m.platform_message_id}" for m in messages
    ]


def test_the_queue_refuses_only_a_message_larger_than_it_takes() -> None:
    queue = queues.SqsInboundQueue("https://sqs/inbound.fifo")
    assert queue.refusal(inbound("x" * 200_000)) is None
    reason = queue.refusal(inbound("\u00e9" * 200_000))  # two bytes each in UTF-8: the size is in bytes
    assert reason is not None
    assert reason.startswith("message of 400")
