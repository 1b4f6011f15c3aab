"""KeywordSignalFunction, AdminFunction, OAuthFunction and the scheduled functions against moto."""

from __future__ import annotations

import json

from messaging_partner.domain.attribution import first_touch
from messaging_partner.domain.domain_events import ConversationAttributed, MessageReceived
from tests.integration.conftest import IntegrationStack
from tests.unit.test_attribution import inbound


def signal_record(message_id: str, body: str) -> dict[str, object]:
    return {
        "messageId": message_id,
        "receiptHandle": "r",
        "body": body,
        "attributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
    }


def test_keyword_signal_reads_both_shapes_and_fails_only_the_malformed(aws_stack: IntegrationStack) -> None:
    attributed = ConversationAttributed.for_conversation(first_touch(inbound("m1")))
    envelope = json.dumps(
        {"detail-type": "ConversationAttributed", "source": "messaging-partner", "detail": attributed.model_dump(mode="json")}
    )
    event = {
        "Records": [
            signal_record("a", envelope),
            signal_record("b", MessageReceived.for_message(inbound("m1")).model_dump_json()),
            signal_record("c", '{"type": "Unknown"}'),
        ]
    }
    assert aws_stack.runtime.invoke("KeywordSignalFunction", event) == {"batchItemFailures": [{"itemIdentifier": "c"}]}


def test_admin_unknown_conversation_says_what_keys_look_like(aws_stack: IntegrationStack) -> None:
    response = aws_stack.http("AdminFunction", "GET", "/admin/conversations/whatsapp%23nobody%230")
    assert response["statusCode"] == 404
    assert "whatsapp#<phone_number_id>#<customer id>" in json.loads(response["body"])["message"]
