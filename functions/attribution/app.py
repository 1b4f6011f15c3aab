"""AttributionFunction: InboundQueue batches -> conversations, ConversationAttributed, MessageReceived."""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.deadline import tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.settings import settings
from handler_support.wiring import AttributionAdapters
from messaging_partner.domain.attribution import Attribution
from messaging_partner.domain.models import InboundMessage
from messaging_partner.domain.tracking import TrackingIdExtractor

# A failed message returns the later messages of its conversation too, never processed ahead of it.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@lru_cache(maxsize=1)
def _adapters() -> AttributionAdapters:
    """Built once per container: the router's and resolver's memories are what keep TikTok calls rare."""
    return AttributionAdapters.from_settings(settings())


@lru_cache(maxsize=1)
def _extractor() -> TrackingIdExtractor:
    patterns = settings().tracking_id_patterns
    return TrackingIdExtractor(patterns) if patterns else TrackingIdExtractor()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@tiktok_calls_bounded
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    adapters = _adapters()
    attribution = Attribution(
        adapters.conversations,
        adapters.publisher,
        adapters.signals,
        adapters.router,
        adapters.ad_cards,
        _extractor(),
        accounts=adapters.accounts,
        known_customers=adapters.known_customers,
    )
    parsed = {}
    for record in event.get("Records", []):
        with suppress(ValueError):  # an unreadable record fails in the record handler, in its FIFO place
            parsed[record["messageId"]] = InboundMessage.model_validate_json(record["body"])
    attribution.prefetch(list(parsed.values()))

    def record_handler(record: SQSRecord) -> str:
        message = parsed.get(record.message_id) or InboundMessage.model_validate_json(record.body)
        return attribution.handle(message)

    response = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    attribution.flush()  # raises on a refused send: the whole batch is retried, and every step is idempotent
    for outcome, count in attribution.outcomes.items():
        metrics.add_metric(name=f"Attribution_{outcome}", unit=MetricUnit.Count, value=count)
    logger.info("Batch attributed", extra={"outcomes": dict(attribution.outcomes), "failed": len(response["batchItemFailures"])})
    return response
