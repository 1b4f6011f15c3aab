"""WebhookFunction: GET handshake and POST deliveries for /webhooks/{channel}. Verify, enqueue, answer."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.http import json_response, raw_body
from handler_support.observability import logger, metrics, tracer
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import WebhookAdapters
from messaging_partner.adapters.channels import CHANNELS
from messaging_partner.domain.errors import DeliveryFailed
from messaging_partner.domain.models import VerificationPolicy, WebhookRequest
from messaging_partner.domain.webhooks import receive_webhook

app = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def _adapters() -> WebhookAdapters:
    return WebhookAdapters.from_settings(settings())


@app.route("/webhooks/<channel>", method=["GET", "POST"])
def webhook(channel: str) -> Response[str]:
    event = app.current_event
    request = WebhookRequest(
        method=event.request_context.http.method,
        headers=event.headers,
        query=event.query_string_parameters or {},
        raw_body=raw_body(event.raw_event),
    )
    adapters = _adapters()
    policy = VerificationPolicy(now=time.time(), max_signature_age_seconds=settings().tiktok_signature_tolerance_seconds)
    try:
        reply = receive_webhook(channel, request, CHANNELS, secret_source(), adapters.inbound_queue, adapters.parker, policy)
    except DeliveryFailed as error:
        # Never 200 with the data dropped: the platform retries, dedup ids make that safe.
        logger.error("Webhook not enqueued; asking the platform to retry", extra={"channel": channel, "error": str(error)})
        metrics.add_metric(name="WebhookEnqueueFailed", unit=MetricUnit.Count, value=1)
        return json_response(503, {"message": "Could not queue the delivery; please retry."})

    if reply.outcome == "parser_failed":  # kept and answered, but a parser has a bug to fix
        logger.error("Webhook parser failed; delivery parked whole", extra={"channel": channel, "reason": reply.body})
    metrics.add_metric(name=f"Webhook_{reply.outcome}", unit=MetricUnit.Count, value=1)
    if reply.enqueued:
        metrics.add_metric(name="InboundMessagesEnqueued", unit=MetricUnit.Count, value=reply.enqueued)
    if reply.parked:
        metrics.add_metric(name="PayloadsParked", unit=MetricUnit.Count, value=reply.parked)
    logger.info(
        "Webhook answered",
        extra={
            "channel": channel,
            "outcome": reply.outcome,
            "status": reply.status,
            "enqueued": reply.enqueued,
            "recognized": dict(reply.recognized),
        },
    )
    return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
