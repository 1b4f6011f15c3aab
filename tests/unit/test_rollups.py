"""Report rollups: the windows, the fan-out, the pacing, and one ad account's rollup against fakes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from messaging_partner.adapters.tiktok_api.pacing import Pacer
from messaging_partner.domain.errors import AdvertiserUnavailable, TikTokApiError
from messaging_partner.domain.models import AccountLinkStatus, AdReference, AdvertiserAccount
from messaging_partner.domain.reports import AdDayMetrics, AdDayReport, Granularity, ReportItem, ReportUnreadable, RollupRequest
from messaging_partner.domain.rollups import (
    ROLLUP_QPS_SHARE,
    ReportRollup,
    RollupOutcome,
    rollup_pace,
    rollup_requests,
    rollup_window,
)


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


# ---------------------------------------------------------------- windows and fan-out


def test_hourly_is_yesterday_and_today_in_the_ad_accounts_own_time_zone() -> None:
    now = epoch_ms("2026-11-30T23:30:00")
    assert rollup_window(Granularity.HOURLY, now, "UTC") == ("2026-11-29", "2026-11-30")
    assert rollup_window(Granularity.HOURLY, now, "Asia/Tokyo") == ("2026-11-30", "2026-12-01")
    assert rollup_window(Granularity.HOURLY, now, "America/Los_Angeles") == ("2026-11-29", "2026-11-30")
    assert rollup_window(Granularity.HOURLY, now, "Not/A_Zone") == ("2026-11-29", "2026-11-30")  # UTC


def test_daily_is_the_seven_days_before_yesterday() -> None:
    first, last = rollup_window(Granularity.DAILY, epoch_ms("2026-12-01T00:30:00"), "UTC")
    assert (first, last) == ("2026-11-23", "2026-11-29")
    request = RollupRequest(advertiser_id="1", first_day=first, last_day=last, granularity=Granularity.DAILY)
    assert len(request.days) == 7


def account(advertiser_id: str, status: AccountLinkStatus = AccountLinkStatus.ACTIVE, **extra: str) -> AdvertiserAccount:
    return AdvertiserAccount(
        advertiser_id=advertiser_id, workspace="w", token_ciphertext="x", connected_at_ms=1, status=status, **extra
    )


def test_the_fan_out_is_one_request_per_active_ad_account_with_its_currency() -> None:
    accounts = [
        account("1", timezone="Asia/Tokyo", currency="JPY"),
        account("2", AccountLinkStatus.NEEDS_REAUTH),
        account("3"),
    ]
    fan_out = rollup_requests(accounts, Granularity.HOURLY, epoch_ms("2026-11-30T23:30:00"))
    assert [(r.advertiser_id, r.first_day, r.last_day, r.currency) for r in fan_out.requests] == [
        ("1", "2026-11-30", "2026-12-01", "JPY"),
        ("3", "2026-11-29", "2026-11-30", None),
    ]
    assert fan_out.not_active == ["2"]
    assert RollupRequest.model_validate_json(fan_out.requests[0].model_dump_json()) == fan_out.requests[0]


@pytest.mark.parametrize("tier", [10, 20, 30, 50])
@pytest.mark.parametrize("concurrency", [2, 8, 40])
def test_pacing_keeps_all_invocations_together_within_the_tiers_share(tier: int, concurrency: int) -> None:
    assert concurrency / rollup_pace(tier, concurrency) == pytest.approx(tier * ROLLUP_QPS_SHARE)


def test_a_pacer_spaces_calls_per_thread() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(1.0, clock=lambda: clock[0], sleep=sleep)
    pacer.wait()
    clock[0] += 0.25
    pacer.wait()
    clock[0] += 3
    pacer.wait()  # a long pause earns no burst later
    pacer.wait()
    assert slept == [0.75, 1.0]


# ---------------------------------------------------------------- one ad account's rollup


class FakeTokens:
    def __init__(self, unavailable: bool = False) -> None:
        self.unavailable = unavailable
        self.rejections: list[int] = []

    def token(self, advertiser_id: str) -> str:
        if self.unavailable:
            raise AdvertiserUnavailable(f"Ad account {advertiser_id} needs re-authorization; connect it again.")
        return "token"

    def rejected(self, advertiser_id: str, error: TikTokApiError) -> bool:
        self.rejections.append(error.code)
        return True

    def event_set_id(self, advertiser_id: str) -> str | None:
        return None


@dataclass
class FakeReports:
    rows: list[AdDayMetrics]
    error: Exception | None = None
    currency_asked: int = 0

    def ad_days(self, advertiser_id: str, access_token: str, first_day: str, last_day: str) -> AdDayReport:
        if self.error:
            raise self.error
        return AdDayReport([r for r in self.rows if first_day <= r.day <= last_day], calls=1)

    def currency(self, advertiser_id: str, access_token: str) -> str | None:
        self.currency_asked += 1
        return "USD"


@dataclass
class FakeReportStore:
    held: dict[tuple[str, str], ReportItem] = field(default_factory=dict)
    writes: int = 0

    def items(self, advertiser_id: str, days: Sequence[str]) -> list[ReportItem]:
        return [item for (day, _), item in sorted(self.held.items()) if day in days]

    def rolled_up(self, advertiser_id: str, days: Sequence[str]) -> list[ReportItem]:
        return [item for item in self.items(advertiser_id, days) if item.metrics]

    def put_metrics(self, advertiser_id: str, metrics: AdDayMetrics, currency: str | None) -> None:
        key = (metrics.day, f"AD#{metrics.ad_id}")
        leads = self.held[key].leads if key in self.held else 0
        self.held[key] = ReportItem(metrics.day, key[1], leads, metrics, currency)
        self.writes += 1

    def clear_metrics(self, advertiser_id: str, day: str, bucket: str) -> None:
        self.held[(day, bucket)] = ReportItem(day, bucket, self.held[(day, bucket)].leads)
        self.writes += 1


class FakeCurrencies:
    def __init__(self) -> None:
        self.kept: dict[str, str] = {}

    def remember_currency(self, advertiser_id: str, currency: str) -> None:
        self.kept.setdefault(advertiser_id, currency)


class FakeCards:
    def __init__(self, cards: Iterable[AdReference] = ()) -> None:
        self.cards = {c.ad_id: c for c in cards}

    def get_many(self, advertiser_id: str, ad_ids: Iterable[str]) -> dict[str, AdReference]:
        return {a: self.cards[a] for a in ad_ids if a in self.cards}

    def put_many(self, advertiser_id: str, cards: Iterable[AdReference]) -> None:
        raise AssertionError("a rollup never writes cards")


def numbers(ad_id: str, day: str, spend: str = "10.00") -> AdDayMetrics:
    return AdDayMetrics(ad_id, day, Decimal(spend), 1000, 10, 1, 2, ad_name=f"report name {ad_id}", campaign_id="c")


REQUEST = RollupRequest(
    advertiser_id="7100000000000000001",
    first_day="2026-11-29",
    last_day="2026-11-30",
    granularity=Granularity.HOURLY,
    currency="EUR",
)


def test_a_rollup_sets_tiktoks_numbers_beside_the_leads_and_names_ads_from_the_cache() -> None:
    store = FakeReportStore({("2026-11-30", "AD#1"): ReportItem("2026-11-30", "AD#1", leads=3)})
    cards = FakeCards([AdReference(ad_id="1", ad_name="Card name", campaign_name="Spring", adgroup_name="18-34")])
    tiktok = FakeReports([numbers("1", "2026-11-29"), numbers("1", "2026-11-30"), numbers("2", "2026-11-30")])
    result = ReportRollup(FakeTokens(), tiktok, store, cards, FakeCurrencies()).run(REQUEST)
    assert (result.outcome, result.ad_days, result.written, result.cleared, result.report_calls) == (
        RollupOutcome.ROLLED_UP,
        3,
        3,
        0,
        1,
    )
    held = store.held[("2026-11-30", "AD#1")]
    assert held.leads == 3  # the counter is left alone
    assert held.metrics is not None
    assert (held.metrics.ad_name, held.metrics.campaign_name, held.metrics.campaign_id) == ("Card name", "Spring", "c")
    assert held.currency == "EUR"
    assert store.held[("2026-11-30", "AD#2")].metrics.ad_name == "report name 2"  # type: ignore[union-attr]


def test_running_it_again_writes_nothing_and_leaves_the_same_items() -> None:
    store = FakeReportStore()
    tiktok = FakeReports([numbers("1", "2026-11-29"), numbers("1", "2026-11-30")])
    rollup = ReportRollup(FakeTokens(), tiktok, store, FakeCards(), FakeCurrencies())
    rollup.run(REQUEST)
    first = dict(store.held)
    again = rollup.run(REQUEST)
    assert (again.written, again.cleared) == (0, 0)
    assert store.held == first


def test_tiktoks_corrections_replace_and_remove_what_was_rolled_up() -> None:
    store = FakeReportStore()
    tiktok = FakeReports([numbers("1", "2026-11-29"), numbers("2", "2026-11-29")])
    rollup = ReportRollup(FakeTokens(), tiktok, store, FakeCards(), FakeCurrencies())
    rollup.run(REQUEST)
    store.held[("2026-11-29", "AD#2")] = replace(store.held[("2026-11-29", "AD#2")], leads=1)
    tiktok.rows = [numbers("1", "2026-11-29", spend="12.00")]  # TikTok corrected ad 1 and took ad 2's day away
    result = rollup.run(REQUEST)
    assert (result.written, result.cleared) == (1, 1)
    assert store.held[("2026-11-29", "AD#1")].metrics.spend == Decimal("12.00")  # type: ignore[union-attr]
    assert store.held[("2026-11-29", "AD#2")] == ReportItem("2026-11-29", "AD#2", leads=1)


def test_an_ad_account_without_a_known_currency_asks_tiktok_once_and_keeps_it() -> None:
    tiktok = FakeReports([numbers("1", "2026-11-30")])
    store, currencies = FakeReportStore(), FakeCurrencies()
    ReportRollup(FakeTokens(), tiktok, store, FakeCards(), currencies).run(REQUEST.model_copy(update={"currency": None}))
    assert tiktok.currency_asked == 1
    assert store.held[("2026-11-30", "AD#1")].currency == "USD"
    assert currencies.kept == {REQUEST.advertiser_id: "USD"}  # the next fan-out carries it: no second question


@pytest.mark.parametrize("code", [40105, 40106])
def test_a_revoked_token_marks_the_ad_account_and_the_request_is_done(code: int) -> None:
    tokens = FakeTokens()
    tiktok = FakeReports([], error=TikTokApiError(code, "revoked", path="report/integrated/get/"))
    result = ReportRollup(tokens, tiktok, FakeReportStore(), FakeCards(), FakeCurrencies()).run(REQUEST)
    assert result.outcome is RollupOutcome.NEEDS_REAUTH
    assert tokens.rejections == [code]


def test_an_ad_account_that_needs_reauthorization_is_done_without_calling_tiktok() -> None:
    tiktok = FakeReports([], error=AssertionError("TikTok must not be called"))
    result = ReportRollup(FakeTokens(unavailable=True), tiktok, FakeReportStore(), FakeCards(), FakeCurrencies()).run(REQUEST)
    assert result.outcome is RollupOutcome.NEEDS_REAUTH
    assert "connect it again" in (result.reason or "")


@pytest.mark.parametrize("code", [40001, 40118, 40125, 40002, 40300, 40301])
def test_what_asking_again_cannot_change_ends_the_request_as_refused(code: int) -> None:
    tiktok = FakeReports([], error=TikTokApiError(code, "no", path="report/integrated/get/"))
    store = FakeReportStore()
    result = ReportRollup(FakeTokens(), tiktok, store, FakeCards(), FakeCurrencies()).run(REQUEST)
    assert result.outcome is RollupOutcome.REFUSED
    assert str(code) in (result.reason or "")
    assert store.writes == 0


def test_an_unreadable_report_ends_the_request_as_refused_and_writes_nothing() -> None:
    tiktok = FakeReports([], error=ReportUnreadable("metric spend is 'abc', not a number"))
    result = ReportRollup(FakeTokens(), tiktok, FakeReportStore(), FakeCards(), FakeCurrencies()).run(REQUEST)
    assert result.outcome is RollupOutcome.REFUSED
    assert result.reason == "TikTok's report cannot be read: metric spend is 'abc', not a number"


@pytest.mark.parametrize("code", [40100, 40133, 40016, 50000, 51065])
def test_throttling_and_other_failures_are_raised_for_the_queue_to_try_again(code: int) -> None:
    tokens = FakeTokens()
    tiktok = FakeReports([], error=TikTokApiError(code, "no", path="report/integrated/get/"))
    store = FakeReportStore()
    with pytest.raises(TikTokApiError):
        ReportRollup(tokens, tiktok, store, FakeCards(), FakeCurrencies()).run(REQUEST)
    assert tokens.rejections == []
    assert store.writes == 0
