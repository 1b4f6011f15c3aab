"""Report rollups: TikTok's numbers per ad and day copied beside our lead counters, one ad account at a time.

The policy, whole:
- the schedules never loop over every ad account in one run: each fans out one RollupRequest
  per ACTIVE ad account onto RollupQueue (rollup_requests), and the same function consumes
  them in batches. Hourly: yesterday and today in the ad account's time zone; daily: the
  seven days before, so TikTok's late corrections land;
- one request is one ad account: every page of /report/integrated/get/, checked to add up,
  then one write per changed ad and day (rollup). What is written depends only on TikTok's
  answer and the ad cache, never on when or how often the rollup ran: running it again, or
  two at once, on the same answer leaves the same items (two runs that read different
  answers end with the numbers of the one that wrote last, and the next run settles them).
  Lead counters are never touched (attribution adds to them);
- TikTok's app QPS is shared by every concurrent invocation: the event source's maximum
  concurrency times each invocation's pacing stays within the tier (rollup_pace);
- throttling (40100/40133), TikTok's system errors, unreachable answers and pages that do
  not add up are tried again within the call, then by the queue; a revoked token marks the
  ad account NEEDS_REAUTH and its request is done; what asking again cannot change (missing
  permission, an ad account TikTok no longer has, a parameter or row TikTok refuses) ends the
  request as REFUSED, with the reason, so it never cycles through the DLQ every hour; one ad
  account's failure fails only its own record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from .errors import ADVERTISER_TOKEN_REVOKED, PERMISSION_MISSING, AdvertiserUnavailable, RetryPolicy, TikTokApiError
from .leads import local_date
from .models import AccountLinkStatus, AdvertiserAccount
from .ports import AdCache, AdvertiserTokens, CurrencyMemory, ReportStore, TikTokReports
from .reports import AdDayMetrics, Granularity, ReportItem, ReportUnreadable, RollupRequest

# TikTok's advice for throttling is "retry after the current second"; three tries 1, 2 and 4 s apart
# span one QPS window and a QPM-ish blip, then the queue tries again after its visibility timeout.
REPORT_RETRY = RetryPolicy(retries=3, first_backoff_seconds=1.0)
# The rollup's part of the app's QPS: the rest stays for ad lookups and OAuth, which run while people wait.
ROLLUP_QPS_SHARE = 0.8
HOURLY_DAYS = 2
DAILY_DAYS = 7
# Answers asking again cannot change: a missing permission, a parameter TikTok refuses, an ad account it no longer has.
REFUSALS = PERMISSION_MISSING | {40000, 40002, 40300, 40301}


def rollup_window(granularity: Granularity, now_ms: int, timezone: str) -> tuple[str, str]:
    """The days one run covers, in the ad account's time zone (TikTok's report days are counted in it)."""
    today = local_date(now_ms, timezone)
    if granularity is Granularity.HOURLY:
        return (today - timedelta(days=HOURLY_DAYS - 1)).isoformat(), today.isoformat()
    return (today - timedelta(days=DAILY_DAYS + 1)).isoformat(), (today - timedelta(days=2)).isoformat()


@dataclass(frozen=True)
class FanOut:
    requests: list[RollupRequest]
    not_active: list[str]  # ad accounts that need re-authorization: nothing to roll up with


def rollup_requests(accounts: Iterable[AdvertiserAccount], granularity: Granularity, now_ms: int) -> FanOut:
    requests, not_active = [], []
    for account in accounts:
        if account.status is not AccountLinkStatus.ACTIVE:
            not_active.append(account.advertiser_id)
            continue
        first, last = rollup_window(granularity, now_ms, account.timezone)
        requests.append(
            RollupRequest(
                advertiser_id=account.advertiser_id,
                first_day=first,
                last_day=last,
                granularity=granularity,
                currency=account.currency,
            )
        )
    return FanOut(requests, not_active)


def rollup_pace(qps_tier: int, max_concurrency: int) -> float:
    """Seconds between one invocation's report calls so that max_concurrency invocations stay within the tier's share."""
    return max_concurrency / (qps_tier * ROLLUP_QPS_SHARE)


class RollupOutcome(StrEnum):
    ROLLED_UP = "rolled_up"
    NEEDS_REAUTH = "needs_reauth"  # done: nothing to roll up until the ad account is connected again
    REFUSED = "refused"  # done: TikTok refused what asking again would not change (the reason says what)


@dataclass(frozen=True)
class RollupResult:
    advertiser_id: str
    outcome: RollupOutcome
    report_calls: int = 0
    ad_days: int = 0  # rows TikTok reported: one per ad and day with numbers
    written: int = 0  # items whose TikTok numbers changed
    cleared: int = 0  # items TikTok no longer reports (a correction took the ad's day away)
    reason: str | None = None


class ReportRollup:
    def __init__(
        self, tokens: AdvertiserTokens, tiktok: TikTokReports, store: ReportStore, cards: AdCache, currencies: CurrencyMemory
    ) -> None:
        self._tokens, self._tiktok, self._store, self._cards = tokens, tiktok, store, cards
        self._currencies = currencies

    def run(self, request: RollupRequest) -> RollupResult:
        """Rolls one ad account's range up; raises what should be tried again (throttling, TikTok or AWS faults)."""
        advertiser_id = request.advertiser_id
        try:
            token = self._tokens.token(advertiser_id)
            currency = request.currency or self._currency(advertiser_id, token)
            report = self._tiktok.ad_days(advertiser_id, token, request.first_day, request.last_day)
        except AdvertiserUnavailable as unavailable:
            return RollupResult(advertiser_id, RollupOutcome.NEEDS_REAUTH, reason=str(unavailable))
        except ReportUnreadable as unreadable:
            return RollupResult(advertiser_id, RollupOutcome.REFUSED, reason=f"TikTok's report cannot be read: {unreadable}")
        except TikTokApiError as error:
            if error.code in ADVERTISER_TOKEN_REVOKED:
                self._tokens.rejected(advertiser_id, error)
                reason = f"TikTok refused the token (code {error.code})"
                return RollupResult(advertiser_id, RollupOutcome.NEEDS_REAUTH, reason=reason)
            if error.code in REFUSALS:
                return RollupResult(advertiser_id, RollupOutcome.REFUSED, reason=str(error))
            raise
        cards = self._cards.get_many(advertiser_id, sorted({row.ad_id for row in report.rows}))
        fresh = {(row.day, f"AD#{row.ad_id}"): row.named_by(cards.get(row.ad_id)) for row in report.rows}
        held = {(item.day, item.bucket): item for item in self._store.rolled_up(advertiser_id, request.days)}
        written = cleared = 0
        for (day, bucket), metrics in sorted(fresh.items()):
            if _unchanged(held.get((day, bucket)), metrics, currency):
                continue
            self._store.put_metrics(advertiser_id, metrics, currency)
            written += 1
        for day, bucket in sorted(held.keys() - fresh.keys()):
            self._store.clear_metrics(advertiser_id, day, bucket)
            cleared += 1
        return RollupResult(advertiser_id, RollupOutcome.ROLLED_UP, report.calls, len(fresh), written, cleared)

    def _currency(self, advertiser_id: str, token: str) -> str | None:
        """An ad account connected before currencies were kept: asked of TikTok once, then kept on the account."""
        currency = self._tiktok.currency(advertiser_id, token)
        if currency:
            self._currencies.remember_currency(advertiser_id, currency)
        return currency


def _unchanged(held: ReportItem | None, metrics: AdDayMetrics, currency: str | None) -> bool:
    """An hourly run mostly finds what the last one wrote: those items are not written again."""
    return held is not None and held.metrics == metrics and held.currency == currency
