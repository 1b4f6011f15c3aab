"""AttributionFunction against moto: FIFO batches, idempotency, partial failures, both outputs on SignalQueue."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.scenario import DEMO_TIKTOK_BUSINESS_ID, WhatsAppChange, WhatsAppMessage, hub_signature, tiktok_body, whatsapp_body
from tests.integration.conftest import IntegrationStack
from tests.integration.test_webhook_channels import post_tiktok

SECRET = "local-meta-app-secret"
ANA_KEY = "whatsapp#106540352242922#351910000001"


def deliver(stack: IntegrationStack, *messages: WhatsAppMessage) -> list[dict[str, Any]]:
    """POST the messages through WebhookFunction and return what reached InboundQueue."""
    body = whatsapp_body(WhatsAppChange(messages))
    headers = {"content-type": "application/json", "x-hub-signature-256": hub_signature(SECRET, body)}
    assert stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", body, headers)["statusCode"] == 200
    return stack.drain("InboundQueue")


def ana(n: int) -> WhatsAppMessage:
    return WhatsAppMessage("351910000001", f"wamid.ANA{n}", 1_763_800_000 + n, f"message {n}")


def signal_types(stack: IntegrationStack) -> list[str]:
    return sorted(b.get("detail-type") or b["type"] for b in stack.bodies("SignalQueue"))


def conversation(stack: IntegrationStack, key: str = ANA_KEY) -> dict[str, Any]:
    response = stack.http("AdminFunction", "GET", f"/admin/conversations/{key.replace('#', '%23')}")
    assert response["statusCode"] == 200, response
    return dict(json.loads(response["body"]))


def test_new_conversation_stored_announced_and_signalled(aws_stack: IntegrationStack) -> None:
    queued = deliver(aws_stack, ana(1), ana(2))
    result = aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(queued, "InboundQueue"))
    assert result == {"batchItemFailures": []}
    stored = conversation(aws_stack)
    assert stored["source"] == "organic"
    assert stored["customer_message_count"] == 2
    assert stored["started_at_ms"] == 1_763_800_001_000
    assert signal_types(aws_stack) == ["ConversationAttributed", "MessageReceived", "MessageReceived"]


def test_redelivery_is_not_counted_twice_and_re_emits(aws_stack: IntegrationStack) -> None:
    queued = deliver(aws_stack, ana(1))
    event = aws_stack.sqs_event(queued, "InboundQueue")
    aws_stack.runtime.invoke("AttributionFunction", event)
    aws_stack.drain("SignalQueue")
    aws_stack.runtime.invoke("AttributionFunction", event)  # SQS redelivers after a lost acknowledgement
    assert conversation(aws_stack)["customer_message_count"] == 1
    # The redelivered message opened the conversation, so its announcement is repeated (same event_id).
    assert signal_types(aws_stack) == ["ConversationAttributed", "MessageReceived"]


def test_a_poison_message_fails_alone_with_the_rest_of_its_conversation(aws_stack: IntegrationStack) -> None:
    ben = WhatsAppMessage("447700900002", "wamid.BEN1", 1_763_800_100, "hi")
    queued = deliver(aws_stack, ana(1), ana(2), ben)
    records = aws_stack.sqs_event(queued, "InboundQueue")["Records"]
    ana1, ana2, ben1 = (next(r for r in records if f'"{mid}"' in r["body"]) for mid in ("wamid.ANA1", "wamid.ANA2", "wamid.BEN1"))
    ana1["body"] = "{not json"
    # FIFO order: Ana's two messages then Ben's.
    result = aws_stack.runtime.invoke("AttributionFunction", {"Records": [ana1, ana2, ben1]})
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted([ana1["messageId"], ana2["messageId"]])
    assert conversation(aws_stack, "whatsapp#106540352242922#447700900002")["customer_message_count"] == 1
    missing = aws_stack.http("AdminFunction", "GET", "/admin/conversations/" + ANA_KEY.replace("#", "%23"))
    assert missing["statusCode"] == 404  # Ana's second message was not processed ahead of her first


def test_a_batch_that_fails_entirely_raises(aws_stack: IntegrationStack) -> None:
    queued = deliver(aws_stack, ana(1))
    event = aws_stack.sqs_event(queued, "InboundQueue")
    event["Records"][0]["body"] = "[]"
    with pytest.raises(BatchProcessingError):
        aws_stack.runtime.invoke("AttributionFunction", event)


def test_one_transaction_per_message_in_an_open_conversation(aws_stack: IntegrationStack) -> None:
    aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(deliver(aws_stack, ana(1)), "InboundQueue"))
    before = aws_stack.requests_by_operation()
    aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(deliver(aws_stack, ana(2), ana(3)), "InboundQueue"))
    after = aws_stack.requests_by_operation()
    assert after[("dynamodb", "TransactWriteItems")] - before[("dynamodb", "TransactWriteItems")] == 2
    assert after[("sqs", "SendMessageBatch")] - before[("sqs", "SendMessageBatch")] == 2  # webhook 1 + signals 1
    assert after.get(("eventbridge", "PutEvents"), 0) == before.get(("eventbridge", "PutEvents"), 0)


def test_last_message_time_only_moves_forward_and_an_older_message_costs_one_more_write(aws_stack: IntegrationStack) -> None:
    """Meta and TikTok do not promise order: a message sent earlier may arrive after a later one."""

    def transactions() -> int:
        return aws_stack.requests_by_operation()[("dynamodb", "TransactWriteItems")]

    aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(deliver(aws_stack, ana(1)), "InboundQueue"))
    written = transactions()
    aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(deliver(aws_stack, ana(5)), "InboundQueue"))
    assert transactions() - written == 1  # in order: one write
    written = transactions()
    aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(deliver(aws_stack, ana(3)), "InboundQueue"))
    assert transactions() - written == 2  # older than the last: refused by the time, written without it
    stored = conversation(aws_stack)
    assert stored["last_message_at_ms"] == (1_763_800_000 + 5) * 1000
    assert stored["started_at_ms"] == (1_763_800_000 + 1) * 1000
    assert stored["customer_message_count"] == 3
    aws_stack.runtime.invoke("AttributionFunction", aws_stack.sqs_event(deliver(aws_stack, ana(3)), "InboundQueue"))
    assert conversation(aws_stack)["customer_message_count"] == 3  # the late one redelivered: still a duplicate


def test_stripped_events_of_one_business_are_queued_in_groups_of_their_own(aws_stack: IntegrationStack) -> None:
    """EEA-stripped events name no customer: one group per business would let one failure hold up the rest."""
    now = int(time.time())
    for i in range(2):
        content = {"to": "b", "to_user": {"id": DEMO_TIKTOK_BUSINESS_ID}, "timestamp": now * 1000 + i}
        post_tiktok(aws_stack, tiktok_body("im_receive_msg_eu", DEMO_TIKTOK_BUSINESS_ID, content, now))
    queued = aws_stack.drain("InboundQueue")
    groups = {m["Attributes"]["MessageGroupId"] for m in queued}
    assert len(queued) == len(groups) == 2
    assert all(g.startswith(f"tiktok#{DEMO_TIKTOK_BUSINESS_ID}##h:") for g in groups)
