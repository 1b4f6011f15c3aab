"""KeywordSignalFunction: reads SignalQueue (ConversationAttributed via the bus, MessageReceived direct).

Today it validates and counts what arrives, so a malformed signal input goes to SignalDLQ;
keyword matching and the TikTok sender plug in here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.observability import logger, metrics, tracer
from messaging_partner.domain.domain_events import parse_signal_body

processor = BatchProcessor(event_type=EventType.SQS)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    received: Counter[str] = Counter()

    def record_handler(record: SQSRecord) -> None:
        signal_input = parse_signal_body(record.body)
        received[signal_input.detail_type] += 1

    response = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    for detail_type, count in received.items():
        metrics.add_metric(name=f"SignalInput_{detail_type}", unit=MetricUnit.Count, value=count)
    logger.info("Signal inputs received", extra={"received": dict(received)})
    return response
