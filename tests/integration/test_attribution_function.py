"""AttributionFunction against moto: FIFO batches, idempotency, partial failures, both outputs on SignalQueue."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from local.runtime import AwsFault, AwsFaults
from local.scenario import DEMO_TIKTOK_BUSINESS_ID, WhatsAppChange, WhatsAppMessage, hub_signature, tiktok_body, whatsapp_body
from messaging_partner.domain.errors import DeliveryFailed
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


def test_a_poison_record_is_parked_with_its_reason_and_the_rest_of_its_conversation_is_stored(
    aws_stack: IntegrationStack, caplog: pytest.LogCaptureFixture
) -> None:
    ben = WhatsAppMessage("447700900002", "wamid.BEN1", 1_763_800_100, "hi")
    records = aws_stack.sqs_event(deliver(aws_stack, ana(1), ana(2), ben), "InboundQueue")["Records"]
    ana1, ana2, ben1 = (next(r for r in records if f'"{mid}"' in r["body"]) for mid in ("wamid.ANA1", "wamid.ANA2", "wamid.BEN1"))
    ana1["body"] = '{"channel": "whatsapp", "text": "message 1"'  # FIFO order: Ana's two messages then Ben's
    result = aws_stack.runtime.invoke("AttributionFunction", {"Records": [ana1, ana2, ben1]})
    assert result == {"batchItemFailures": []}  # it would fail on every receive: parked at once, acknowledged
    assert conversation(aws_stack)["customer_message_count"] == 1  # Ana's second message, not held behind it
    assert conversation(aws_stack, "whatsapp#106540352242922#447700900002")["customer_message_count"] == 1
    [parked] = aws_stack.bodies("ParkedQueue")
    assert parked["channel"] == "unknown"  # cut short: the body cannot say
    assert parked["reason"].startswith(f"InboundQueue message {ana1['messageId']}: not an inbound message: body: Invalid JSON")
    assert base64.b64decode(parked["body_base64"]).decode() == ana1["body"]
    [logged] = failure_lines(caplog)
    assert (logged["outcome"], logged["message_id"], logged["level"]) == ("parked", ana1["messageId"], "ERROR")
    assert aws_stack.drain("InboundDLQ") == []


def test_a_failure_that_may_pass_returns_the_record_and_its_conversation_with_the_reason_logged(
    aws_stack: IntegrationStack, aws_faults: AwsFaults, caplog: pytest.LogCaptureFixture
) -> None:
    aws_faults.add(AwsFault("TransactWriteItems", function="AttributionFunction", match="wamid.ANA1"))
    ben = WhatsAppMessage("447700900002", "wamid.BEN1", 1_763_800_100, "hi")
    records = aws_stack.sqs_event(deliver(aws_stack, ana(1), ana(2), ben), "InboundQueue")["Records"]
    result = aws_stack.runtime.invoke("AttributionFunction", {"Records": records})
    ana1, ana2, _ = (r["messageId"] for r in records)
    assert result == {"batchItemFailures": [{"itemIdentifier": ana1}, {"itemIdentifier": ana2}]}
    retried, held = failure_lines(caplog)
    assert (retried["outcome"], retried["message_id"], retried["receive_count"]) == ("retried", ana1, 1)
    assert retried["reason"].startswith("An error occurred (ThrottlingException) when calling the TransactWriteItems operation")
    assert (held["outcome"], held["message_id"]) == ("held", ana2)
    assert held["reason"].startswith(f"held behind {ana1} of its group (An error occurred (ThrottlingException)")
    assert aws_stack.drain("InboundDLQ") == []


def test_on_its_last_receive_a_failing_record_reaches_the_dlq_with_its_reason(
    aws_stack: IntegrationStack, aws_faults: AwsFaults, caplog: pytest.LogCaptureFixture
) -> None:
    aws_faults.add(AwsFault("TransactWriteItems", function="AttributionFunction", match="wamid.ANA1"))
    records = aws_stack.sqs_event(deliver(aws_stack, ana(1), ana(2)), "InboundQueue")["Records"]
    for record in records:
        record["attributes"]["ApproximateReceiveCount"] = "5"  # InboundQueue's maxReceiveCount
    result = aws_stack.runtime.invoke("AttributionFunction", {"Records": records})
    assert result == {"batchItemFailures": []}
    assert conversation(aws_stack)["customer_message_count"] == 1  # Ana's second message went on, in the same invocation
    [dead] = receive_all(aws_stack, "InboundDLQ")
    assert dead["Body"] == records[0]["body"]
    assert dead["Attributes"]["MessageGroupId"] == ANA_KEY
    assert dead["Attributes"]["MessageDeduplicationId"] == records[0]["messageId"]
    attributes = {name: value["StringValue"] for name, value in dead["MessageAttributes"].items()}
    assert attributes["failure_reason"].startswith("An error occurred (ThrottlingException)")
    assert attributes["failure_reason"].endswith("in _transact)")  # our line it came through
    assert attributes["failed_by"] == "AttributionFunction"
    assert attributes["receive_count"] == "5"
    assert attributes["source_message_id"] == records[0]["messageId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", attributes["failed_at"])
    [logged] = failure_lines(caplog)
    assert (logged["outcome"], logged["reason"]) == ("dead_lettered", attributes["failure_reason"])


def test_when_the_batchs_events_cannot_be_sent_its_records_go_back_or_to_the_dlq(
    aws_stack: IntegrationStack, aws_faults: AwsFaults
) -> None:
    queue_name = aws_stack.queue_url("SignalQueue").rsplit("/", 1)[-1]
    aws_faults.add(AwsFault("SendMessageBatch", function="AttributionFunction", match=queue_name, code="ServiceUnavailable"))
    records = aws_stack.sqs_event(deliver(aws_stack, ana(1), ana(2)), "InboundQueue")["Records"]
    with pytest.raises(DeliveryFailed):  # every record goes back: a function error, so Lambda backs off
        aws_stack.runtime.invoke("AttributionFunction", {"Records": records})
    records[1]["attributes"]["ApproximateReceiveCount"] = "5"
    result = aws_stack.runtime.invoke("AttributionFunction", {"Records": records})
    assert result == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    [dead] = receive_all(aws_stack, "InboundDLQ")
    assert dead["MessageAttributes"]["failure_reason"]["StringValue"].startswith("its events could not be sent: DeliveryFailed")
    aws_faults.clear()
    aws_stack.runtime.invoke("AttributionFunction", {"Records": records[:1]})  # the retry sends them
    assert "MessageReceived" in signal_types(aws_stack)


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The function's log lines about failed records, with their fields; none holds a message's text."""
    lines = [{"level": r.levelname, "message": r.getMessage(), **vars(r)} for r in caplog.records]
    said = json.dumps(lines, default=str)
    assert "message 1" not in said
    assert "message 2" not in said
    return [line for line in lines if line["message"].startswith("Inbound record ")]


def receive_all(stack: IntegrationStack, logical_id: str) -> list[dict[str, Any]]:
    sqs = stack.session.client("sqs")
    answer = sqs.receive_message(
        QueueUrl=stack.queue_url(logical_id),
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


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
