"""AttributionFunction: InboundQueue batches -> conversations, ConversationAttributed, MessageReceived.

A record that fails leaves a trail (messaging_partner/domain/inbound_records.py): logged with its
reason, parked at once when unreadable, returned to SQS with the rest of its conversation when the
failure may pass, and written to InboundDLQ with its reason on its last receive.
"""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.deadline import tiktok_calls_bounded
from handler_support.inbound_batch import InboundBatchProcessor, LoggedFailures, queued_record
from handler_support.observability import logger, metrics, tracer
from handler_support.settings import settings
from handler_support.wiring import AttributionAdapters
from messaging_partner.domain.attribution import Attribution
from messaging_partner.domain.errors import DeliveryFailed
from messaging_partner.domain.inbound_records import InboundRecords
from messaging_partner.domain.models import InboundMessage
from messaging_partner.domain.tracking import TrackingIdExtractor


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
    inbound = InboundRecords(attribution, adapters.parker, adapters.dead_letters, LoggedFailures(), adapters.max_receive_count)
    parsed = {}
    for record in event.get("Records", []):
        with suppress(ValueError):  # an unreadable record is parked in its FIFO place
            parsed[record["messageId"]] = InboundMessage.model_validate_json(record["body"])
    attribution.prefetch(list(parsed.values()))

    def record_handler(record: SQSRecord) -> str:
        return inbound.process(queued_record(record), parsed.get(record.message_id))

    # Every record failing raises (a function error: Lambda backs off, as it should when DynamoDB throttles).
    processor = InboundBatchProcessor(inbound)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    unsent = inbound.flush()
    if unsent:
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        failed += [message_id for message_id in unsent if message_id not in failed]
        if len(failed) == len(event["Records"]):
            raise DeliveryFailed(f"The batch's events could not be sent; all {len(failed)} records go back to the queue")
        response = {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    for outcome, count in attribution.outcomes.items():
        metrics.add_metric(name=f"Attribution_{outcome}", unit=MetricUnit.Count, value=count)
    logger.info("Batch attributed", extra={"outcomes": dict(attribution.outcomes), "failed": len(response["batchItemFailures"])})
    return dict(response)
