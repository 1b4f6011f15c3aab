"""The report page and CSV, as text: self-contained, accessible, bars carrying the JSON numbers, CSV equal to JSON."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest

from handler_support.report_page import nice_ceiling, report_csv, report_page
from messaging_partner.domain.reports import AdDayMetrics, Grouping, Report, ReportItem, ReportQuery, build_report

ITEMS = [
    ReportItem(
        "2026-11-29",
        "AD#1",
        leads=3,
        metrics=AdDayMetrics("1", "2026-11-29", Decimal("10.00"), 1000, 20, 0, 2, ad_name="Sneakers <DM>"),
        currency="EUR",
    ),
    ReportItem("2026-11-30", "META_AD", leads=2),
    ReportItem("2026-11-30", "ORGANIC", leads=5),
    ReportItem("2026-11-30", "SHORT_LINK", leads=1),
]


def reports(items: list[ReportItem]) -> tuple[Report, Report]:
    def one(grouping: Grouping) -> Report:
        return build_report(ReportQuery("7100000000000000001", date(2026, 11, 28), date(2026, 11, 30), grouping), items, "UTC")

    return one(Grouping.DAY), one(Grouping.AD)


def test_the_page_is_self_contained_with_an_accessible_chart() -> None:
    daily, by_ad = reports(ITEMS)
    page = report_page(daily, by_ad, "Demo & Sons")
    assert not re.search(r'<script|<link(?! rel="icon" href="data:,">)|@import|url\(|src=|href="http', page, re.IGNORECASE)
    assert 'role="img"' in page
    assert 'aria-labelledby="chart-title chart-desc"' in page
    assert '<desc id="chart-desc">Bar chart of leads per day from 2026-11-28 to 2026-11-30: 5 ad-flow leads' in page
    assert "Demo &amp; Sons" in page
    assert "Sneakers &lt;DM&gt;" in page  # names are escaped


def test_each_bar_carries_its_day_series_and_value_and_heights_are_proportional() -> None:
    daily, by_ad = reports(ITEMS)
    page = report_page(daily, by_ad, None)
    bars = re.findall(r'data-day="([^"]+)" data-series="([^"]+)" data-value="(\d+)" [^>]*height="([\d.]+)"', page)
    assert len(bars) == 3 * 2
    drawn = {(day, series): (int(value), float(height)) for day, series, value, height in bars}
    assert drawn[("2026-11-29", "ad_flow_leads")][0] == 3
    assert drawn[("2026-11-30", "ad_flow_leads")][0] == 2  # Meta ads are ad flow
    assert drawn[("2026-11-30", "organic_flow_leads")][0] == 6  # organic and short links
    per_lead = {height / value for value, height in drawn.values() if value}
    assert max(per_lead) - min(per_lead) < 0.01


def test_an_empty_range_draws_no_bars_and_says_so() -> None:
    daily, by_ad = reports([])
    page = report_page(daily, by_ad, None)
    assert 'height="0.00"' in page
    assert "there were no leads in this range" in page


def test_the_csv_has_a_header_row_and_the_json_rows_text() -> None:
    daily, _ = reports(ITEMS)
    parsed = list(csv.DictReader(io.StringIO(report_csv(daily))))
    rows = daily.as_json()["rows"]
    assert [r["day"] for r in parsed] == [r["day"] for r in rows]
    for csv_row, json_row in zip(parsed, rows, strict=True):
        for name, value in json_row.items():
            assert csv_row[name] == ("" if value is None else str(value))


@pytest.mark.parametrize(("value", "top"), [(0, 4), (1, 1), (3, 4), (7, 10), (11, 20), (45, 50), (51, 100)])
def test_the_axis_top_is_a_round_number_at_or_above_the_largest_bar(value: int, top: int) -> None:
    assert nice_ceiling(value) == top
