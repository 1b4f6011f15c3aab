from __future__ import annotations

import base64
import io
import json

import pytest

from local.scenario import WhatsAppChange, WhatsAppMessage, hub_signature, whatsapp_body
from tests.integration.conftest import IntegrationStack

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
