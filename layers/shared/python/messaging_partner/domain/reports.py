"""Reports: TikTok's numbers per ad and day beside our lead counters, summed and derived.

Reports items (adapters/aws/reports.py) are one per ad account, day and lead bucket: the lead
counter attribution adds to, and for TikTok ads the numbers the rollup copies from
/report/integrated/get/ (domain/rollups.py). Everything here is arithmetic on those items:
money stays Decimal from TikTok's string to the page, sums are taken before ratios (a
campaign's CTR is its clicks over its impressions, never an average of its ads' CTRs), and
a ratio over zero is None, never 0 or infinity. The formulas are Appstack's:
CTR = clicks / impressions, CPC = spend / clicks, CPM = 1000 x spend / impressions,
cost per lead = spend / ad leads, lead rate = ad leads / clicks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from .models import AdReference

UNRESOLVED_BUCKET = "AD#UNRESOLVED"
AD_BUCKET_PREFIX = "AD#"
# Buckets with no TikTok ad behind them, and how a person reads them.
OTHER_BUCKETS = {
    UNRESOLVED_BUCKET: "TikTok ad, which one unknown",
    "META_AD": "Meta ads",
    "SHORT_LINK": "TikTok short links",
    "ORGANIC": "Organic",
}
# The Leads field each bucket without an ad of its own counts in (AD#<ad_id>: tiktok_ad).
LEAD_FIELD_OF_BUCKET = {UNRESOLVED_BUCKET: "unresolved", "META_AD": "meta_ad", "SHORT_LINK": "short_link", "ORGANIC": "organic"}
MAX_REPORT_DAYS = 93
RATE_PLACES = Decimal("0.000001")  # CTR and lead rate are fractions: 0.021345
MONEY_PLACES = Decimal("0.0001")  # CPC, CPM and cost per lead, in the ad account's currency


class ReportUnreadable(Exception):
    """A report row TikTok sent that cannot be read as numbers; asking again would get the same row."""


class ReportPagesDisagree(Exception):
    """The pages of one report do not add up (rows missing or repeated, as when numbers move while paging);
    nothing is written from such a read, and it is tried again."""


# ---------------------------------------------------------------- what a rollup is asked to do


class Granularity(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"


class RollupRequest(BaseModel):
    """One ad account's date range to roll up: a RollupQueue message."""

    kind: str = "ReportRollup"
    advertiser_id: str
    first_day: str
    last_day: str
    granularity: Granularity
    currency: str | None = None  # None: an ad account connected before currencies were kept; asked of TikTok

    @property
    def days(self) -> list[str]:
        return days_between(date.fromisoformat(self.first_day), date.fromisoformat(self.last_day))


def days_between(first: date, last: date) -> list[str]:
    """Every day from first to last, both included, as YYYY-MM-DD."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


# ---------------------------------------------------------------- TikTok's numbers


@dataclass(frozen=True)
class AdDayMetrics:
    """TikTok's numbers for one ad on one day (the ad account's time zone), as /report/integrated/get/ gives them."""

    ad_id: str
    day: str
    spend: Decimal
    impressions: int
    clicks: int
    conversions: int
    tiktok_conversations: int  # TikTok's own count: direct messages plus instant messaging apps
    ad_name: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    adgroup_id: str | None = None
    adgroup_name: str | None = None

    def named_by(self, card: AdReference | None) -> AdDayMetrics:
        """Names from the ad cache where it has them (what the conversations' cards show), else TikTok's report."""
        if card is None:
            return self
        return replace(
            self,
            ad_name=card.ad_name or self.ad_name,
            campaign_id=card.campaign_id or self.campaign_id,
            campaign_name=card.campaign_name or self.campaign_name,
            adgroup_id=card.adgroup_id or self.adgroup_id,
            adgroup_name=card.adgroup_name or self.adgroup_name,
        )


CONVERSATION_METRICS = (
    "messaging_total_conversation_tiktok_direct_message",
    "messaging_total_conversation_instant_messaging_app",
)
NAME_METRICS = ("ad_name", "campaign_id", "campaign_name", "adgroup_id", "adgroup_name")
REPORT_METRICS = ("spend", "impressions", "clicks", "conversion", *CONVERSATION_METRICS, *NAME_METRICS)
EMPTY_METRIC = frozenset({"", "-"})  # TikTok leaves a metric it has no value for empty or "-"


@dataclass(frozen=True)
class AdDayReport:
    """Every page of one ad account's report, read; `calls` counts the requests it took."""

    rows: Sequence[AdDayMetrics]
    calls: int


def parse_report_row(row: Any) -> AdDayMetrics:
    """One row of /report/integrated/get/ (dimensions ad_id and stat_time_day); ReportUnreadable says what is wrong."""
    if not isinstance(row, Mapping):
        raise ReportUnreadable(f"a report row is {type(row).__name__}, not an object")
    dimensions, metrics = row.get("dimensions"), row.get("metrics")
    if not isinstance(dimensions, Mapping) or not isinstance(metrics, Mapping):
        raise ReportUnreadable("a report row lacks its dimensions or metrics object")
    ad_id = str(dimensions.get("ad_id") or "").strip()
    if not ad_id.isdecimal() or not ad_id.isascii():
        raise ReportUnreadable(f"a report row has ad_id {dimensions.get('ad_id')!r}, not a TikTok id")
    return AdDayMetrics(
        ad_id=ad_id,
        day=report_day(dimensions.get("stat_time_day")),
        spend=decimal_metric(metrics, "spend"),
        impressions=count_metric(metrics, "impressions"),
        clicks=count_metric(metrics, "clicks"),
        conversions=count_metric(metrics, "conversion"),
        tiktok_conversations=sum(count_metric(metrics, name) for name in CONVERSATION_METRICS),
        **{name: _text(metrics.get(name)) for name in NAME_METRICS},
    )


def complete_report(rows: Sequence[AdDayMetrics], total_number: int | None, calls: int) -> AdDayReport:
    """Every page read, checked: as many rows as TikTok counted, no ad and day twice (ReportPagesDisagree otherwise).

    A row missing from a read would look like a row TikTok took back, and its numbers would be cleared.
    """
    keys = [(row.day, row.ad_id) for row in rows]
    repeated = len(keys) - len(set(keys))
    if repeated:
        raise ReportPagesDisagree(f"{repeated} ad and day rows came twice across the report's pages")
    if total_number is not None and total_number != len(rows):
        raise ReportPagesDisagree(f"TikTok counted {total_number} rows, its pages held {len(rows)}")
    return AdDayReport(rows, calls)


def report_day(value: Any) -> str:
    """stat_time_day, "2026-11-30 00:00:00" (or a bare date), as 2026-11-30."""
    text = str(value or "")[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ReportUnreadable(f"a report row has stat_time_day {value!r}, not a date") from None


def decimal_metric(metrics: Mapping[str, Any], name: str) -> Decimal:
    """A metric TikTok sends as a string ("12.34"), or now and then as a JSON number, read exactly."""
    value = metrics.get(name)
    if value is None or (isinstance(value, str) and value.strip() in EMPTY_METRIC):
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ReportUnreadable(f"metric {name} is {type(value).__name__}, not a number")
    try:
        number = Decimal(str(value).strip())  # str() first: a JSON float keeps the digits it was written with
    except InvalidOperation:
        raise ReportUnreadable(f"metric {name} is {str(value)[:40]!r}, not a number") from None
    if not number.is_finite() or number < 0:
        raise ReportUnreadable(f"metric {name} is {number}, not a finite amount >= 0")
    return number


def count_metric(metrics: Mapping[str, Any], name: str) -> int:
    number = decimal_metric(metrics, name)
    if number != number.to_integral_value():
        raise ReportUnreadable(f"metric {name} is {number}, not a whole count")
    return int(number)


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if text not in EMPTY_METRIC else None


# ---------------------------------------------------------------- what Reports holds


@dataclass(frozen=True)
class Leads:
    """Our counted leads by bucket (domain/leads.py decides the bucket)."""

    tiktok_ad: int = 0
    unresolved: int = 0  # TikTok ad flow, which ad unknown
    meta_ad: int = 0
    short_link: int = 0
    organic: int = 0

    @classmethod
    def in_bucket(cls, bucket: str, count: int) -> Leads:
        return cls(**{LEAD_FIELD_OF_BUCKET.get(bucket, "tiktok_ad"): count})

    def __add__(self, other: Leads) -> Leads:
        return Leads(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def ad_leads(self) -> int:
        """Leads from TikTok ads: what TikTok's spend bought."""
        return self.tiktok_ad + self.unresolved

    @property
    def ad_flow(self) -> int:
        """Conversations that came through an ad, TikTok's or Meta's."""
        return self.tiktok_ad + self.unresolved + self.meta_ad

    @property
    def organic_flow(self) -> int:
        return self.organic + self.short_link


@dataclass(frozen=True)
class ReportItem:
    """One Reports item: an ad account's day and bucket (AD#<ad_id>, AD#UNRESOLVED, META_AD, SHORT_LINK, ORGANIC)."""

    day: str
    bucket: str
    leads: int = 0
    metrics: AdDayMetrics | None = None  # TikTok's numbers, once rolled up (TikTok ads only)
    currency: str | None = None

    @property
    def ad_id(self) -> str | None:
        is_ad = self.bucket.startswith(AD_BUCKET_PREFIX) and self.bucket != UNRESOLVED_BUCKET
        return self.bucket[len(AD_BUCKET_PREFIX) :] if is_ad else None


# ---------------------------------------------------------------- figures, summed then derived


@dataclass(frozen=True)
class Figures:
    spend: Decimal = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    tiktok_conversations: int = 0
    leads: Leads = field(default_factory=Leads)

    @classmethod
    def of(cls, item: ReportItem) -> Figures:
        metrics = item.metrics
        leads = Leads.in_bucket(item.bucket, item.leads)
        if metrics is None:
            return cls(leads=leads)
        return cls(metrics.spend, metrics.impressions, metrics.clicks, metrics.conversions, metrics.tiktok_conversations, leads)

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.spend + other.spend,
            self.impressions + other.impressions,
            self.clicks + other.clicks,
            self.conversions + other.conversions,
            self.tiktok_conversations + other.tiktok_conversations,
            self.leads + other.leads,
        )

    @property
    def ctr(self) -> Decimal | None:
        return ratio(self.clicks, self.impressions, RATE_PLACES)

    @property
    def cpc(self) -> Decimal | None:
        return ratio(self.spend, self.clicks, MONEY_PLACES)

    @property
    def cpm(self) -> Decimal | None:
        return ratio(1000 * self.spend, self.impressions, MONEY_PLACES)

    @property
    def cost_per_lead(self) -> Decimal | None:
        return ratio(self.spend, self.leads.ad_leads, MONEY_PLACES)

    @property
    def lead_rate(self) -> Decimal | None:
        return ratio(self.leads.ad_leads, self.clicks, RATE_PLACES)

    def as_columns(self) -> dict[str, Any]:
        """The report's columns, in order: TikTok's numbers, our leads, TikTok's count beside ours, derived."""
        return {
            "spend": self.spend,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
            "leads_tiktok_ad": self.leads.tiktok_ad,
            "leads_tiktok_ad_unresolved": self.leads.unresolved,
            "leads_meta_ad": self.leads.meta_ad,
            "leads_short_link": self.leads.short_link,
            "leads_organic": self.leads.organic,
            "ad_leads": self.leads.ad_leads,
            "ad_flow_leads": self.leads.ad_flow,
            "organic_flow_leads": self.leads.organic_flow,
            "tiktok_conversations": self.tiktok_conversations,
            "conversation_difference": self.leads.ad_leads - self.tiktok_conversations,  # ours minus TikTok's
            "ctr": self.ctr,
            "cpc": self.cpc,
            "cpm": self.cpm,
            "cost_per_lead": self.cost_per_lead,
            "lead_rate": self.lead_rate,
        }


def ratio(numerator: Decimal | int, denominator: Decimal | int, places: Decimal) -> Decimal | None:
    """numerator / denominator rounded half-even to `places`; None over zero (no ratio exists, 0 would be a lie)."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(places, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------- the report a person asks for


class Grouping(StrEnum):
    DAY = "day"
    AD = "ad"
    CAMPAIGN = "campaign"


class InvalidReportQuery(Exception):
    """A report asked for in a way we cannot answer; the message says what to send instead."""


@dataclass(frozen=True)
class ReportQuery:
    advertiser_id: str
    first_day: date
    last_day: date
    grouping: Grouping = Grouping.DAY

    @property
    def days(self) -> list[str]:
        return days_between(self.first_day, self.last_day)


def report_query(advertiser_id: str, first: str | None, last: str | None, grouping: str | None, today: date) -> ReportQuery:
    """The range asked for, in the ad account's days: both ends default to the last 7 days up to today."""
    try:
        group = Grouping(grouping or Grouping.DAY)
    except ValueError:
        raise InvalidReportQuery(f"Unknown group_by {grouping!r}. Use one of: {', '.join(g.value for g in Grouping)}.") from None
    last_day = _day(last, "to") if last else today
    first_day = _day(first, "from") if first else last_day - timedelta(days=6)
    if first_day > last_day:
        raise InvalidReportQuery(f"from ({first_day}) is after to ({last_day}).")
    if (last_day - first_day).days + 1 > MAX_REPORT_DAYS:
        raise InvalidReportQuery(
            f"The range {first_day} to {last_day} is {(last_day - first_day).days + 1} days; at most {MAX_REPORT_DAYS} at a time."
        )
    return ReportQuery(advertiser_id, first_day, last_day, group)


def _day(value: str, name: str) -> date:
    try:
        if len(value) != 10 or not value.isascii():
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidReportQuery(f"{name} takes a date as YYYY-MM-DD (2026-11-30), not {value[:40]!r}.") from None


@dataclass(frozen=True)
class ReportRow:
    key: str  # the day, the ad's bucket, or the campaign id
    labels: dict[str, str | None]
    figures: Figures


@dataclass(frozen=True)
class Report:
    query: ReportQuery
    currency: str | None
    timezone: str
    totals: Figures
    rows: list[ReportRow]

    def as_json(self) -> dict[str, Any]:
        return {
            "advertiser_id": self.query.advertiser_id,
            "from": self.query.first_day.isoformat(),
            "to": self.query.last_day.isoformat(),
            "group_by": self.query.grouping.value,
            "currency": self.currency,
            "timezone": self.timezone,
            "totals": _json_columns(self.totals.as_columns()),
            "rows": [{**row.labels, **_json_columns(row.figures.as_columns())} for row in self.rows],
        }

    def csv_rows(self) -> list[dict[str, Any]]:
        """The JSON rows, flat: the same columns and the same text for each number."""
        return [{**row.labels, "currency": self.currency, **_json_columns(row.figures.as_columns())} for row in self.rows]


def _json_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """Decimals as strings (exact, as TikTok sends them); None stays null."""
    return {name: str(value) if isinstance(value, Decimal) else value for name, value in columns.items()}


def build_report(
    query: ReportQuery,
    items: Iterable[ReportItem],
    timezone: str,
    cards: Mapping[str, AdReference] | None = None,
    currency: str | None = None,
) -> Report:
    """The rows of one grouping and the totals, from the ad account's Reports items in the range.

    `cards` (the ad cache, by ad id) names ads that had leads but no TikTok numbers on a day;
    `currency` (the ad account's) stands in when no item in the range was rolled up.
    """
    items = list(items)
    cards = cards or {}
    rows: dict[str, ReportRow] = {}
    if query.grouping is Grouping.DAY:
        for day in query.days:  # every day of the range, empty ones too: a chart has no gaps
            rows[day] = ReportRow(day, {"day": day}, Figures())
    for item in sorted(items, key=lambda i: (i.day, i.bucket)):
        key, labels = _row_key(query.grouping, item, cards.get(item.ad_id or ""))
        known = rows.get(key)
        figures = Figures.of(item) + known.figures if known else Figures.of(item)
        # Items come oldest day first, so a renamed ad or campaign shows its newest name.
        merged = {**known.labels, **{k: v for k, v in labels.items() if v}} if known else labels
        rows[key] = ReportRow(key, merged, figures)
    totals = sum((Figures.of(item) for item in items), Figures())
    currency = next((item.currency for item in items if item.currency), currency)
    ordered = sorted(rows.values(), key=lambda row: (_other_last(row.key), row.key))
    return Report(query, currency, timezone, totals, ordered)


def _other_last(key: str) -> bool:
    return key in OTHER_BUCKETS


def _row_key(grouping: Grouping, item: ReportItem, card: AdReference | None) -> tuple[str, dict[str, str | None]]:
    if grouping is Grouping.DAY:
        return item.day, {"day": item.day}
    if item.ad_id is None:  # organic, Meta, short links, unresolved: a row each, whatever the grouping
        return item.bucket, {"kind": OTHER_BUCKETS.get(item.bucket, item.bucket), "ad_id": None}
    names = _names(item.metrics, card)
    if grouping is Grouping.AD:
        return item.bucket, {
            "kind": "TikTok ad",
            "ad_id": item.ad_id,
            "ad_name": names["ad_name"],
            "campaign_name": names["campaign_name"],
            "adgroup_name": names["adgroup_name"],
        }
    return f"CAMPAIGN#{names['campaign_id'] or 'unknown'}", {
        "kind": "TikTok campaign",
        "campaign_id": names["campaign_id"],
        "campaign_name": names["campaign_name"],
    }


def _names(metrics: AdDayMetrics | None, card: AdReference | None) -> dict[str, str | None]:
    """The names TikTok's report gave on that day; the ad cache's where it gave none."""
    return {
        name: (getattr(metrics, name) if metrics else None) or (getattr(card, name) if card else None) for name in NAME_METRICS
    }
