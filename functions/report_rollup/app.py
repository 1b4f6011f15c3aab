"""ReportRollupFunction: the schedules fan out one message per ad account; RollupQueue batches roll each one up.

A schedule event ({"granularity": "hourly" | "daily"}) sends a RollupRequest per active ad
account to RollupQueue and returns. A RollupQueue batch rolls its ad accounts up one by one
(domain/rollups.py); a failed ad account fails only its own record, which the queue tries
again and, after five receives, keeps in RollupDLQ.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.deadline import tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.settings import settings
from handler_support.wiring import RollupAdapters
from messaging_partner.domain.reports import Granularity, RollupRequest
from messaging_partner.domain.rollups import RollupOutcome, rollup_requests

# A batch whose every ad account failed (TikTok throttling all of them, say) is not a function error:
# each record goes back to the queue, as when some fail.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# An ad account takes a few paced calls; one not started this close to the timeout is left to the queue, untouched.
STOP_BEFORE_TIMEOUT_MS = 60_000


class NotStartedInTime(Exception):
    """Too little time left in this invocation to roll the ad account up; the queue delivers it again."""


@lru_cache(maxsize=1)
def _adapters() -> RollupAdapters:
    return RollupAdapters.from_settings(settings())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@tiktok_calls_bounded
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return _roll_up(event, context)
    return _fan_out(Granularity(event.get("granularity", Granularity.HOURLY)))


def _fan_out(granularity: Granularity) -> dict[str, Any]:
    adapters = _adapters()
    fan_out = rollup_requests(adapters.accounts.list_advertisers(), granularity, int(time.time() * 1000))
    adapters.queue.send(fan_out.requests)
    metrics.add_metric(name="RollupsQueued", unit=MetricUnit.Count, value=len(fan_out.requests))
    logger.info(
        "Report rollups queued",
        extra={"granularity": granularity.value, "queued": len(fan_out.requests), "needs_reauth": fan_out.not_active},
    )
    return {"granularity": granularity.value, "queued": len(fan_out.requests), "needs_reauth": fan_out.not_active}


def _roll_up(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rollup = _adapters().rollup

    def record_handler(record: SQSRecord) -> str:
        if context.get_remaining_time_in_millis() < STOP_BEFORE_TIMEOUT_MS:
            raise NotStartedInTime("left for the queue: too close to the function's timeout")
        try:
            request = RollupRequest.model_validate_json(record.body)
        except ValueError as unreadable:  # not ours to guess: it rests in RollupDLQ after its retries, with this line
            logger.error("Unreadable rollup request", extra={"message_id": record.message_id, "reason": str(unreadable)[:500]})
            raise
        try:
            result = rollup.run(request)
        except Exception as error:
            logger.warning(
                "Report rollup failed; the queue tries again",
                extra={"advertiser_id": request.advertiser_id, "reason": str(error), "error": type(error).__name__},
            )
            raise
        metrics.add_metric(name=f"Rollup_{result.outcome.value}", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RollupReportCalls", unit=MetricUnit.Count, value=result.report_calls)
        details = {**vars(result), "first_day": request.first_day, "last_day": request.last_day}
        if result.outcome is RollupOutcome.REFUSED:  # done, not retried: a person has to look (the reason says what)
            logger.error("Report rollup refused by TikTok", extra=details)
        else:
            logger.info("Report rolled up", extra=details)
        return result.outcome.value

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
