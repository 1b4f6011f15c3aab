"""KeywordSignalFunction: SignalQueue batches -> conversation, keyword and outcome signals to TikTok.

Inputs: ConversationAttributed (via the bus), MessageReceived and OutcomeReported (direct).
Every input is decided first, the batch's signals are sent together per ad account, then
each input succeeds, or fails so SQS retries it (TikTok throttling, system errors, timeouts).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.deadline import tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.settings import settings
from handler_support.wiring import SignalAdapters
from messaging_partner.domain.domain_events import parse_signal_body
from messaging_partner.domain.signals import SignalWorker

processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def _adapters() -> SignalAdapters:
    return SignalAdapters.from_settings(settings())


class RetryLater(Exception):
    """TikTok could not take this input's signals now; SQS tries the record again."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@tiktok_calls_bounded
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    adapters = _adapters()
    worker = SignalWorker(
        adapters.router,
        adapters.keyword_lists,
        adapters.ledger,
        adapters.tokens,
        adapters.tiktok,
        adapters.events,
        adapters.matchers,
    )
    unreadable: dict[str, str] = {}
    for record in event.get("Records", []):
        try:
            worker.take(record["messageId"], parse_signal_body(record["body"]))
        except ValueError as error:  # an unreadable input fails alone, on to SignalDLQ
            unreadable[record["messageId"]] = str(error)
    worker.send()

    def record_handler(record: SQSRecord) -> None:
        if record.message_id in unreadable:
            raise ValueError(unreadable[record.message_id])
        if worker.must_retry(record.message_id):
            raise RetryLater("TikTok could not take the signals now")

    response = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    for outcome, count in worker.outcomes.items():
        metrics.add_metric(name=f"Signals_{outcome}", unit=MetricUnit.Count, value=count)
    if worker.requests:
        metrics.add_metric(name="SignalRequests", unit=MetricUnit.Count, value=worker.requests)
    logger.info(
        "Signal inputs handled",
        extra={"outcomes": dict(worker.outcomes), "requests": worker.requests, "failed": len(response["batchItemFailures"])},
    )
    return response
