"""AttributionFunction: InboundQueue batches -> conversations, ConversationAttributed, MessageReceived."""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.observability import logger, metrics, tracer
from messaging_partner.ads import AdResolver
from messaging_partner.attribution import Attribution
from messaging_partner.bus import EventBridgePublisher
from messaging_partner.connections import advertiser_token_failed
from messaging_partner.kms import KmsTokenCipher
from messaging_partner.models import InboundMessage
from messaging_partner.queues import SqsSignalSender
from messaging_partner.settings import settings
from messaging_partner.store.account_links import AdvertiserTokenSource, CachedRouter, DynamoAccountStore
from messaging_partner.store.ad_lookups import DynamoAdCache
from messaging_partner.store.conversations import DynamoConversationStore
from messaging_partner.tiktok.client import TikTokClient
from messaging_partner.tracking import TrackingIdExtractor

# A failed message returns the later messages of its conversation too, never processed ahead of it.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@lru_cache(maxsize=1)
def _adapters() -> tuple[DynamoConversationStore, EventBridgePublisher, SqsSignalSender, CachedRouter, AdResolver]:
    """Built once per container: the router's and resolver's memories are what keep TikTok calls rare."""
    config = settings()
    accounts = DynamoAccountStore(config.account_links_table)
    publisher = EventBridgePublisher(config.domain_bus_name)
    tokens = AdvertiserTokenSource(
        accounts,
        KmsTokenCipher(config.token_key_id),
        lambda account, error: advertiser_token_failed(error, account, accounts, publisher),
    )
    return (
        DynamoConversationStore(config.conversations_table, config.message_marker_ttl_days, reports_table=config.reports_table),
        publisher,
        SqsSignalSender(config.signal_queue_url),
        CachedRouter(accounts),
        AdResolver(DynamoAdCache(config.ad_lookups_table), tokens, TikTokClient(config.tiktok_api_base_url)),
    )


@lru_cache(maxsize=1)
def _extractor() -> TrackingIdExtractor:
    patterns = settings().tracking_id_patterns
    return TrackingIdExtractor(patterns) if patterns else TrackingIdExtractor()


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, publisher, signals, router, ads = _adapters()
    attribution = Attribution(store, publisher, signals, router, ads, _extractor())
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
