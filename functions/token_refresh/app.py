"""TokenRefreshFunction (hourly): refresh TikTok Business Account tokens that expire within two hours.

"Now" is the schedule's own time, so a run fired with a later time (the local stack can)
behaves as the refresher will at that hour. The run answers with what became of each due
account (refreshed, NEEDS_REAUTH, unresolved after a lost answer, failed with its reason,
deferred for lack of time) and their counts, logs the same and counts them as metrics.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.deadline import seconds_left, tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import AccountAdapters
from messaging_partner.domain.models import TikTokApp
from messaging_partner.domain.tokens import refresh_due_tokens


@lru_cache(maxsize=1)
def _adapters() -> AccountAdapters:
    return AccountAdapters.from_settings(settings())


def scheduled_time(event: dict[str, Any]) -> float:
    stamp = event.get("time")
    if isinstance(stamp, str):
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return time.time()


METRICS = {  # metric name -> the report's count it carries
    "TokensRefreshed": "refreshed",
    "TokensNeedsReauth": "needs_reauth",
    "TokensRefreshFailed": "failed",
    "TokensRefreshUnconfirmed": "unresolved",
    "TokensRefreshResolved": "resolved",
    "TokensRefreshDeferred": "deferred",
    "TokensUnreadable": "unreadable",
}


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
@tiktok_calls_bounded
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One run; one account's failure is reported with its reason, never raised (a raise would retry the whole run)."""
    config = settings()
    adapters = _adapters()
    app = TikTokApp(config.tiktok_app_id, secret_source().tiktok_app_secret(), "", "", "")
    report = refresh_due_tokens(
        app,
        adapters.accounts,
        adapters.tiktok,
        adapters.cipher,
        adapters.publisher,
        scheduled_time(event),
        seconds_left=seconds_left,
    )
    counts = report.counts()
    for name, count in METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[count])
    for business_id, reason in report.failed.items():
        logger.warning("Token not refreshed", extra={"business_id": business_id, "reason": reason})
    for business_id, reason in report.unresolved.items():
        logger.warning("Token refresh unconfirmed", extra={"business_id": business_id, "reason": reason})
    if report.deferred:
        logger.warning("Token refresh out of time", extra={"deferred": report.deferred})
    summary = {
        "due": report.due,
        "refreshed": report.refreshed,
        "lost_race": report.lost_race,
        "needs_reauth": report.needs_reauth,
        "unresolved": report.unresolved,
        "failed": report.failed,
        "resolved": report.resolved,
        "deferred": report.deferred,
        "counts": counts,
    }
    logger.info("Token refresh finished", extra=summary)
    return summary
