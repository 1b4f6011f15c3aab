"""ReportRollupFunction (hourly and daily schedules): lead counters joined with TikTok spend.

Lead counters and the TikTok report client come with the attribution and reporting work;
until then the function reports that it has nothing to roll up.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    granularity = event.get("granularity", "hourly")
    logger.info("Report rollup triggered", extra={"granularity": granularity})
    return {"granularity": granularity, "rolled_up": 0, "note": "report rollups are not available in this version yet"}
