"""AdminFunction: IAM-authorized admin API."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.http import json_response
from handler_support.observability import logger, metrics, tracer
from messaging_partner.settings import settings
from messaging_partner.store.conversations import DynamoConversationStore

app = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def _conversations() -> DynamoConversationStore:
    return DynamoConversationStore(settings().conversations_table)


@app.get("/admin/conversations/<conversation_key>")
def get_conversation(conversation_key: str) -> Response[str]:
    key = unquote(conversation_key)  # keys hold '#', sent as %23
    conversation = _conversations().get(key)
    if conversation is None:
        return json_response(
            404, {"message": f"No conversation {key!r}. Keys look like whatsapp#<phone_number_id>#<customer id>."}
        )
    return json_response(200, conversation.model_dump(mode="json", exclude_none=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
