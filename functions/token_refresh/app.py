"""TokenRefreshFunction (hourly schedule): refreshes TikTok Business Account tokens.

No account can be connected yet (the OAuth flows come next), so there is nothing to refresh;
the function reports that instead of claiming work it did not do.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info("Token refresh triggered", extra={"trigger": event.get("detail-type", "direct")})
    return {"refreshed": 0, "note": "token refresh is not available in this version yet"}
