"""Failed InboundQueue records through the local stack: each leaves its reason, and none takes a good one with it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.scenario import WhatsAppChange, WhatsAppMessage, hub_signature, whatsapp_body
from messaging_partner.domain.models import Channel, InboundMessage, MessageKind
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
NUMBER_ID = "106540352242922"
SECRET = "local-meta-app-secret"
MAX_RECEIVE_COUNT = 5  # InboundQueue's, in template.yaml


def message(customer: str, message_id: str) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WHATSAPP,
        business_account_id=NUMBER_ID,
        customer_id=customer,
        platform_message_id=message_id,
        kind=MessageKind.MESSAGE,
        sent_at_ms=1_763_800_000_000,
        text="Is the blue one in stock?",
    )


def find(stack: RunningStack, queue: str, needle: str, timeout: float = 45) -> dict[str, Any]:
    """A message of the queue whose body or attributes name `needle`, left on the queue (peeked)."""
    sqs, url = stack.aws("sqs"), stack.status()["resources"][queue]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        for found in answer.get("Messages", []):
            if needle in found["Body"] or needle in str(found.get("MessageAttributes", {})):
                return dict(found)
        time.sleep(0.3)
    raise AssertionError(f"nothing naming {needle} on {queue} within {timeout} s")


@pytest.fixture
def faults(stack: RunningStack) -> Iterator[str]:
    url = f"{stack.api}/_local/faults/aws"
    yield url
    requests.delete(url, timeout=10)


def test_a_poison_record_is_parked_with_its_reason_and_the_next_of_its_conversation_is_stored(stack: RunningStack) -> None:
    good = message("5511900000020", "wamid.E2E.AFTER.POISON")
    group = good.conversation_key
    sent = stack.aws("sqs").send_message_batch(
        QueueUrl=stack.status()["resources"]["InboundQueue"],
        Entries=[  # one FIFO group, in this order: the unreadable one first
            {"Id": "poison", "MessageBody": "{not json", "MessageGroupId": group, "MessageDeduplicationId": "e2e-poison"},
            {"Id": "good", "MessageBody": good.model_dump_json(), "MessageGroupId": group, "MessageDeduplicationId": "e2e-good"},
        ],
    )
    poison_id = next(entry["MessageId"] for entry in sent["Successful"] if entry["Id"] == "poison")
    before = stack.status()["pumps"]["AttributionFunction"]["failed_records"]
    stack.drained()
    assert stack.conversation(group).json()["customer_message_count"] == 1
    parked = find(stack, "ParkedQueue", poison_id)
    assert f'"reason": "InboundQueue message {poison_id}: not an inbound message: body: Invalid JSON' in parked["Body"]
    after = stack.status()
    assert after["pumps"]["AttributionFunction"]["failed_records"] == before  # parked at once: never retried
    assert after["queues"]["InboundDLQ"]["visible"] == 0


def test_a_failure_that_outlasts_the_retries_reaches_the_dlq_with_its_reason_and_redrives(
    stack: RunningStack, faults: str
) -> None:
    fault = {"operation": "TransactWriteItems", "function": "AttributionFunction", "match": "wamid.E2E.THROTTLED"}
    assert requests.post(faults, json=fault, timeout=10).status_code == 200
    body = whatsapp_body(WhatsAppChange((WhatsAppMessage("5511900000021", "wamid.E2E.THROTTLED", 1_763_800_000, "oi"),)))
    headers = {"content-type": "application/json", "X-Hub-Signature-256": hub_signature(SECRET, body)}
    assert requests.post(f"{stack.api}/webhooks/whatsapp", data=body, headers=headers, timeout=30).status_code == 200
    dead = find(stack, "InboundDLQ", "wamid.E2E.THROTTLED")
    reason = dead["MessageAttributes"]["failure_reason"]["StringValue"]
    assert reason.startswith("An error occurred (ThrottlingException) when calling the TransactWriteItems operation")
    assert dead["MessageAttributes"]["receive_count"]["StringValue"] == str(MAX_RECEIVE_COUNT)
    assert dead["MessageAttributes"]["failed_by"]["StringValue"] == "AttributionFunction"
    assert dead["Attributes"]["MessageGroupId"] == f"whatsapp#{NUMBER_ID}#5511900000021"
    [recorded] = requests.get(faults, timeout=10).json()["faults"]
    assert recorded["hits"] == MAX_RECEIVE_COUNT  # tried on every receive, no more
    key = f"whatsapp#{NUMBER_ID}#5511900000021"
    assert stack.conversation(key).status_code == 404

    requests.delete(faults, timeout=10)  # the cause is gone: send it back, as SQS's DLQ redrive would
    moved = requests.post(f"{stack.api}/_local/redrive/InboundDLQ", timeout=30).json()
    assert moved["to"] == "InboundQueue"
    assert moved["moved"] >= 1
    stack.drained()
    assert stack.conversation(key).json()["customer_message_count"] == 1
    assert stack.status()["queues"]["InboundDLQ"]["visible"] == 0
