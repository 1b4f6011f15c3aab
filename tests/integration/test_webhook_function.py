from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest

from local.scenario import WhatsAppChange, WhatsAppMessage, hub_signature, whatsapp_body
from tests.integration.conftest import IntegrationStack
from tests.unit.test_whatsapp_parser import body, change, message

SECRET = "local-meta-app-secret"
ANA = WhatsAppMessage("351910000001", "wamid.ANA1", 1_763_800_000, "Do you ship to Lisbon?")
BODY = whatsapp_body(WhatsAppChange((ANA,)))


def signed_headers(body: bytes) -> dict[str, str]:
    return {"content-type": "application/json", "x-hub-signature-256": hub_signature(SECRET, body)}


def test_signed_delivery_lands_on_the_fifo_queue_with_its_ids(aws_stack: IntegrationStack) -> None:
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", BODY, signed_headers(BODY))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"accepted": 1, "parked": 0}
    [message] = aws_stack.drain("InboundQueue")
    assert message["Attributes"]["MessageGroupId"] == "whatsapp#106540352242922#351910000001"
    assert message["Attributes"]["MessageDeduplicationId"] == "whatsapp:wamid.ANA1"
    assert json.loads(message["Body"])["text"] == "Do you ship to Lisbon?"


def test_base64_body_is_verified_on_the_decoded_bytes(aws_stack: IntegrationStack) -> None:
    headers = {**signed_headers(BODY), "content-type": "application/octet-stream"}
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", BODY, headers)
    assert response["statusCode"] == 200
    assert len(aws_stack.drain("InboundQueue")) == 1


def test_body_in_the_event_is_base64_for_binary_content() -> None:
    from local.apigw import build_v2_event
    from local.template import HttpRoute

    event = build_v2_event(
        HttpRoute("F", "POST", "/x", False), {}, "POST", "/x", {"content-type": "application/octet-stream"}, b"\xff", "1"
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff"


def test_duplicate_delivery_is_enqueued_once(aws_stack: IntegrationStack) -> None:
    for _ in range(2):
        assert aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", BODY, signed_headers(BODY))["statusCode"] == 200
    assert len(aws_stack.drain("InboundQueue")) == 1


def test_bad_signature_is_401_and_nothing_stored(aws_stack: IntegrationStack) -> None:
    headers = {"content-type": "application/json", "x-hub-signature-256": hub_signature("wrong", BODY)}
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", BODY, headers)
    assert response["statusCode"] == 401
    assert aws_stack.drain("InboundQueue") == []
    assert aws_stack.drain("ParkedQueue") == []


def test_verified_unreadable_body_is_parked_with_its_reason(aws_stack: IntegrationStack) -> None:
    body = b'{"object": "whatsapp_business_account", "entry": 7}'
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", body, signed_headers(body))
    assert response["statusCode"] == 200
    [parked] = aws_stack.bodies("ParkedQueue")
    assert parked["reason"] == "entry is missing or not a list"
    assert base64.b64decode(parked["body_base64"]) == body


def test_enqueue_failure_answers_503_so_meta_retries(aws_stack: IntegrationStack) -> None:
    aws_stack.session.client("sqs").delete_queue(QueueUrl=aws_stack.queue_url("InboundQueue"))
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", BODY, signed_headers(BODY))
    assert response["statusCode"] == 503
    assert "retry" in json.loads(response["body"])["message"]


@pytest.mark.parametrize(("token", "status"), [("local-verify-token", 200), ("guess", 403)])
def test_handshake(aws_stack: IntegrationStack, token: str, status: int) -> None:
    path = f"/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
    response = aws_stack.http("WebhookFunction", "GET", path)
    assert response["statusCode"] == status
    assert response["headers"]["Content-Type"].startswith("text/plain")
    if status == 200:
        assert response["body"] == "1158201444"


def test_unknown_channel_is_404(aws_stack: IntegrationStack) -> None:
    assert aws_stack.http("WebhookFunction", "POST", "/webhooks/telegram", BODY, signed_headers(BODY))["statusCode"] == 404


def test_logs_carry_neither_secrets_nor_message_text(aws_stack: IntegrationStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from handler_support.observability import logger

    captured = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", captured)
    aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", BODY, signed_headers(BODY))
    aws_stack.http(
        "WebhookFunction", "GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=local-verify-token&hub.challenge=1"
    )
    output = captured.getvalue()
    assert "Webhook answered" in output
    for needle in (SECRET, "local-verify-token", "Do you ship to Lisbon?"):
        assert needle not in output


def parked_payload(aws_stack: IntegrationStack, record: dict[str, Any]) -> bytes:
    """What a parked record holds, or names in S3 (the claim check)."""
    if "s3" in record:
        obj = aws_stack.session.client("s3").get_object(Bucket=record["s3"]["bucket"], Key=record["s3"]["key"])
        stored: bytes = obj["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == record["sha256"]
        return stored
    if "body_base64" in record:
        return base64.b64decode(record["body_base64"])
    return json.dumps(record["fragment"]).encode()


def test_two_600_kb_messages_and_a_1_5_mb_fragment_are_parked_through_s3_and_answered_200(aws_stack: IntegrationStack) -> None:
    """Each of these answered 503 on every retry (issue 13): SQS takes 256 KiB a message, the parked queue too."""
    texts = {f"wamid.BIG{i}": f"{i}" * 600_000 for i in (1, 2)}
    messages = [message("text", {"body": "small"}, id="wamid.SMALL")]
    messages += [message("text", {"body": text}, id=wamid) for wamid, text in texts.items()]
    unknown = {"field": "mystery_field", "value": {"blob": "x" * 1_500_000}}
    raw = body(change(messages), unknown)
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", raw, signed_headers(raw))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"accepted": 1, "parked": 3}
    [queued] = aws_stack.bodies("InboundQueue")
    assert queued["platform_message_id"] == "wamid.SMALL"
    records = aws_stack.bodies("ParkedQueue")
    assert all("s3" in record for record in records)
    kept = [json.loads(parked_payload(aws_stack, record)) for record in records]
    assert {k["platform_message_id"]: k["text"] for k in kept if "platform_message_id" in k} == texts  # whole, as queued
    assert [k for k in kept if "platform_message_id" not in k] == [unknown]
    reasons = sorted(record["reason"] for record in records)
    assert [reason.startswith("message of 600") for reason in reasons] == [True, True, False]
    assert reasons[2] == "unknown WhatsApp webhook field 'mystery_field'"


def test_a_1_5_mb_unreadable_body_is_parked_byte_for_byte_through_s3(aws_stack: IntegrationStack) -> None:
    raw = b"\x00not json" * 150_000
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", raw, signed_headers(raw))
    assert response["statusCode"] == 200
    assert aws_stack.drain("InboundQueue") == []
    [record] = aws_stack.bodies("ParkedQueue")
    assert (record["payload"], record["size"]) == ("body", len(raw))
    assert record["reason"].startswith("body is not JSON we can read")
    assert parked_payload(aws_stack, record) == raw


def test_a_signed_body_over_3_mb_is_parked_unread_not_refused(aws_stack: IntegrationStack) -> None:
    raw = body(change([message("text", {"body": "x" * (3 * 1024 * 1024)})]))
    response = aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", raw, signed_headers(raw))
    assert response["statusCode"] == 200
    [record] = aws_stack.bodies("ParkedQueue")
    assert "over the 3145728 platforms document" in record["reason"]
    assert parked_payload(aws_stack, record) == raw
