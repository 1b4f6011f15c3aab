"""Reports: TikTok's rows read exactly, figures summed then derived (Appstack formulas), groupings and the range asked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from messaging_partner.domain.models import AdReference
from messaging_partner.domain.reports import (
    AdDayMetrics,
    Figures,
    Grouping,
    InvalidReportQuery,
    Leads,
    ReportItem,
    ReportPagesDisagree,
    ReportQuery,
    ReportUnreadable,
    build_report,
    complete_report,
    parse_report_row,
    ratio,
    report_query,
)


def row(ad_id: Any = "1790000000000001", day: Any = "2026-11-30 00:00:00", **metrics: Any) -> dict[str, Any]:
    return {"dimensions": {"ad_id": ad_id, "stat_time_day": day}, "metrics": metrics}


def metrics(ad_id: str, day: str, spend: str, impressions: int, clicks: int, **names: Any) -> AdDayMetrics:
    return AdDayMetrics(ad_id, day, Decimal(spend), impressions, clicks, 0, names.pop("tiktok", 0), **names)


# ---------------------------------------------------------------- reading TikTok's rows


def test_a_documented_row_is_read_exactly() -> None:
    parsed = parse_report_row(
        row(
            spend="12.34",
            impressions="1000",
            clicks="37",
            conversion="3",
            messaging_total_conversation_tiktok_direct_message="2",
            messaging_total_conversation_instant_messaging_app="5",
            ad_name="Sneakers DM ad",
            campaign_id="1770000000000001",
            campaign_name="Spring DM",
            adgroup_id="1780000000000001",
            adgroup_name="DM 18-34",
        )
    )
    assert parsed == AdDayMetrics(
        "1790000000000001",
        "2026-11-30",
        Decimal("12.34"),
        1000,
        37,
        3,
        7,
        "Sneakers DM ad",
        "1770000000000001",
        "Spring DM",
        "1780000000000001",
        "DM 18-34",
    )
    assert isinstance(parsed.spend, Decimal)


def test_numbers_as_json_numbers_numeric_ids_and_bare_dates_are_read_too() -> None:
    parsed = parse_report_row(row(1790000000000001, "2026-11-30", spend=0.1, impressions=10, clicks="2.0"))
    assert (parsed.ad_id, parsed.day, parsed.spend, parsed.impressions, parsed.clicks) == (
        "1790000000000001",
        "2026-11-30",
        Decimal("0.1"),  # the digits written, not 0.1000000000000000055511151231257827
        10,
        2,
    )


def test_metrics_tiktok_leaves_empty_count_as_zero() -> None:
    parsed = parse_report_row(row(spend="-", impressions="", clicks=None))
    assert (parsed.spend, parsed.impressions, parsed.clicks, parsed.tiktok_conversations) == (Decimal(0), 0, 0, 0)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (row(spend="12,34"), "metric spend"),
        (row(spend="-1.00"), "metric spend"),
        (row(spend="NaN"), "metric spend"),
        (row(spend="Infinity"), "metric spend"),
        (row(spend=True), "metric spend"),
        (row(impressions="10.5"), "metric impressions"),
        (row(clicks=["3"]), "metric clicks"),
        (row(ad_id="abc"), "ad_id"),
        (row(ad_id="١٢٣"), "ad_id"),  # Arabic-Indic digits are decimal but not an id
        (row(day="yesterday"), "stat_time_day"),
        ({"dimensions": {}}, "dimensions or metrics"),
        ([1, 2], "not an object"),
    ],
)
def test_an_unreadable_row_says_what_is_wrong(bad: Any, says: str) -> None:
    with pytest.raises(ReportUnreadable, match=says):
        parse_report_row(bad)


def test_pages_that_do_not_add_up_are_refused_before_anything_is_cleared() -> None:
    one = metrics("1", "2026-11-30", "1.00", 1, 1)
    assert complete_report([one], 1, calls=1).rows == [one]
    assert complete_report([one], None, calls=1).rows == [one]  # no count given: nothing to compare
    with pytest.raises(ReportPagesDisagree, match="counted 2 rows, its pages held 1"):
        complete_report([one], 2, calls=2)
    with pytest.raises(ReportPagesDisagree, match="came twice"):
        complete_report([one, one], 2, calls=2)


def test_names_tiktok_leaves_empty_are_none_after_trimming() -> None:
    parsed = parse_report_row(row(ad_name=" - ", campaign_name="  Spring  ", adgroup_name=""))
    assert (parsed.ad_name, parsed.campaign_name, parsed.adgroup_name) == (None, "Spring", None)


# ---------------------------------------------------------------- derived metrics


def test_derived_metrics_follow_the_formulas() -> None:
    figures = Figures(Decimal("50.00"), 20000, 400, 0, 9, Leads(tiktok_ad=8, unresolved=2, organic=5))
    assert figures.ctr == Decimal("0.020000")  # clicks / impressions
    assert figures.cpc == Decimal("0.1250")  # spend / clicks
    assert figures.cpm == Decimal("2.5000")  # 1000 x spend / impressions
    assert figures.cost_per_lead == Decimal("5.0000")  # spend / ad leads (TikTok ads, the unresolved one too)
    assert figures.lead_rate == Decimal("0.025000")  # ad leads / clicks
    columns = figures.as_columns()
    assert columns["ad_leads"] == 10
    assert columns["conversation_difference"] == 1  # ours (10) minus TikTok's (9)


def test_a_zero_denominator_gives_none_never_zero_or_infinity() -> None:
    figures = Figures(Decimal("3.00"), 0, 0, 0, 0, Leads(organic=4))
    assert (figures.ctr, figures.cpc, figures.cpm, figures.cost_per_lead, figures.lead_rate) == (None,) * 5
    assert ratio(0, 5, Decimal("0.01")) == Decimal("0.00")


def test_ratios_round_half_even() -> None:
    assert ratio(Decimal("0.00005"), 1, Decimal("0.0001")) == Decimal("0.0000")
    assert ratio(Decimal("0.00015"), 1, Decimal("0.0001")) == Decimal("0.0002")


def test_sums_come_before_ratios() -> None:
    """A campaign's CTR is its clicks over its impressions, not the mean of its ads' CTRs."""
    one = Figures(Decimal(1), 100, 10)  # 10 %
    other = Figures(Decimal(1), 900, 9)  # 1 %
    assert (one + other).ctr == Decimal("0.019000")


# ---------------------------------------------------------------- groupings

DAYS = ["2026-11-28", "2026-11-29", "2026-11-30"]
ITEMS = [
    ReportItem(
        "2026-11-29",
        "AD#1",
        leads=3,
        metrics=metrics("1", "2026-11-29", "10.00", 1000, 20, ad_name="A", campaign_id="c1", tiktok=2),
        currency="EUR",
    ),
    ReportItem("2026-11-30", "AD#1", leads=1, metrics=metrics("1", "2026-11-30", "5.50", 500, 0, ad_name="A", campaign_id="c1")),
    ReportItem("2026-11-30", "AD#2", leads=2),  # leads, but TikTok had no numbers for it that day
    ReportItem(
        "2026-11-30", "AD#3", metrics=metrics("3", "2026-11-30", "4.50", 0, 0, ad_name="C", campaign_id="c1")
    ),  # spend, no leads
    ReportItem("2026-11-30", "AD#UNRESOLVED", leads=1),
    ReportItem("2026-11-28", "ORGANIC", leads=4),
    ReportItem("2026-11-30", "META_AD", leads=1),
    ReportItem("2026-11-30", "SHORT_LINK", leads=2),
]


def query(grouping: Grouping) -> ReportQuery:
    return ReportQuery("7100000000000000001", date(2026, 11, 28), date(2026, 11, 30), grouping)


@pytest.mark.parametrize("grouping", list(Grouping))
def test_every_grouping_sums_to_the_same_totals(grouping: Grouping) -> None:
    report = build_report(query(grouping), ITEMS, "Europe/Lisbon")
    total = sum((r.figures for r in report.rows), Figures())
    assert total == report.totals
    assert report.totals.spend == Decimal("20.00")
    assert report.totals.leads == Leads(tiktok_ad=6, unresolved=1, meta_ad=1, short_link=2, organic=4)
    assert report.currency == "EUR"


def test_by_day_has_every_day_of_the_range_even_empty_ones() -> None:
    report = build_report(query(Grouping.DAY), ITEMS[:2], "UTC")
    assert [r.key for r in report.rows] == DAYS
    assert report.rows[0].figures == Figures()


def test_by_ad_names_each_ad_and_keeps_other_buckets_apart_and_last() -> None:
    cards = {"2": AdReference(ad_id="2", ad_name="B from the cache", campaign_id="c2", campaign_name="Winter")}
    rows = build_report(query(Grouping.AD), ITEMS, "UTC", cards).as_json()["rows"]
    assert [r["ad_id"] for r in rows] == ["1", "2", "3", None, None, None, None]
    assert [r["kind"] for r in rows[3:]] == ["TikTok ad, which one unknown", "Meta ads", "Organic", "TikTok short links"]
    assert rows[0]["ad_name"] == "A"
    assert rows[1]["ad_name"] == "B from the cache"
    assert rows[0]["spend"] == "15.50"
    assert rows[0]["ctr"] == "0.013333"  # 20 / 1500 over both days
    assert rows[2]["cost_per_lead"] is None  # spend but no leads
    assert rows[2]["ctr"] is None  # no impressions


def test_a_renamed_ad_shows_its_newest_name() -> None:
    items = [
        ReportItem("2026-11-28", "AD#1", metrics=metrics("1", "2026-11-28", "1.00", 1, 1, ad_name="Old name")),
        ReportItem("2026-11-30", "AD#1", metrics=metrics("1", "2026-11-30", "1.00", 1, 1, ad_name="New name")),
    ]
    (only,) = build_report(query(Grouping.AD), items, "UTC").as_json()["rows"]
    assert only["ad_name"] == "New name"


def test_the_ad_accounts_currency_stands_in_when_nothing_was_rolled_up() -> None:
    leads_only = [ReportItem("2026-11-30", "ORGANIC", leads=2)]
    assert build_report(query(Grouping.DAY), leads_only, "UTC", currency="EUR").currency == "EUR"
    assert build_report(query(Grouping.DAY), ITEMS, "UTC", currency="USD").currency == "EUR"  # what TikTok reported


def test_by_campaign_sums_ads_of_the_same_campaign() -> None:
    cards = {"2": AdReference(ad_id="2", campaign_id="c2", campaign_name="Winter")}
    rows = build_report(query(Grouping.CAMPAIGN), ITEMS, "UTC", cards).as_json()["rows"]
    by_campaign = {r["campaign_id"]: r for r in rows if r["kind"] == "TikTok campaign"}
    assert set(by_campaign) == {"c1", "c2"}
    assert by_campaign["c1"]["spend"] == "20.00"
    assert by_campaign["c1"]["leads_tiktok_ad"] == 4
    assert by_campaign["c2"]["campaign_name"] == "Winter"


def test_json_keeps_money_exact_as_strings_and_csv_rows_carry_the_same_text() -> None:
    report = build_report(query(Grouping.DAY), ITEMS, "UTC")
    body = report.as_json()
    assert body["totals"]["spend"] == "20.00"
    assert body["totals"]["cost_per_lead"] == "2.8571"  # 20.00 / 7
    for json_row, csv_row in zip(body["rows"], report.csv_rows(), strict=True):
        assert {k: v for k, v in csv_row.items() if k != "currency"} == json_row


# ---------------------------------------------------------------- the range asked for

TODAY = date(2026, 11, 30)


def test_the_range_defaults_to_the_last_seven_days_by_day() -> None:
    asked = report_query("1", None, None, None, TODAY)
    assert (asked.first_day, asked.last_day, asked.grouping) == (date(2026, 11, 24), TODAY, Grouping.DAY)
    assert len(asked.days) == 7


@pytest.mark.parametrize(
    ("first", "last", "grouping", "says"),
    [
        ("2026-11-30", "2026-11-01", "day", "after"),
        ("2026-08-01", "2026-11-30", "day", "at most 93"),
        ("30/11/2026", None, "day", "YYYY-MM-DD"),
        ("2026-11-3", None, "day", "YYYY-MM-DD"),
        ("\uff12\uff10\uff12\uff16-11-30", None, "day", "YYYY-MM-DD"),  # full-width digits
        (None, None, "week", "Unknown group_by"),
    ],
)
def test_bad_ranges_are_refused_with_what_to_send(first: str | None, last: str | None, grouping: str, says: str) -> None:
    with pytest.raises(InvalidReportQuery, match=says):
        report_query("1", first, last, grouping, TODAY)


def test_ninety_three_days_are_allowed() -> None:
    assert len(report_query("1", "2026-08-30", "2026-11-30", "ad", TODAY).days) == 93
