"""Checks of the reports API shared by the demo and the end-to-end tests: the page's bars as drawn, formulas, CSV.

Each is written again here, apart from messaging_partner, on purpose: a check that reused
the code it checks would agree with any bug in it.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

# What the browser drew: every bar's day, series and value, and its height on screen in CSS pixels.
BARS_AS_DRAWN = """[...document.querySelectorAll('svg rect.bar')].map(bar => ({
  day: bar.dataset.day, series: bar.dataset.series, value: Number(bar.dataset.value),
  height: bar.getBoundingClientRect().height}))"""
SERIES = ("ad_flow_leads", "organic_flow_leads")


def bar_problems(drawn: list[dict[str, Any]], daily: dict[str, Any]) -> list[str]:
    """Why the drawn bars do not show the JSON report by day (an empty list when they do)."""
    expected = {(row["day"], name): row[name] for row in daily["rows"] for name in SERIES}
    shown = {(bar["day"], bar["series"]): bar for bar in drawn}
    problems = [
        f"{key}: JSON {value}, drawn {shown.get(key, {}).get('value')}"
        for key, value in expected.items()
        if shown.get(key, {}).get("value") != value
    ]
    problems += [f"{key}: drawn but not in the JSON report" for key in shown.keys() - expected.keys()]
    per_lead = [bar["height"] / bar["value"] for bar in drawn if bar["value"]]
    if per_lead and max(per_lead) - min(per_lead) > 0.5:
        problems.append(
            f"bar heights are not proportional to their values ({min(per_lead):.2f} to {max(per_lead):.2f} px a lead)"
        )
    problems += [
        f"{(bar['day'], bar['series'])}: zero drawn {bar['height']:.1f} px high"
        for bar in drawn
        if not bar["value"] and bar["height"] > 0.5
    ]
    if per_lead and min(per_lead) < 1:
        problems.append("bars are too small to see")
    return problems


def _ratio(numerator: Any, denominator: Any, places: str) -> Decimal | None:
    if not Decimal(denominator):
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places), rounding=ROUND_HALF_EVEN)


def formula_problems(rows: list[dict[str, Any]]) -> list[str]:
    """Rows whose derived metrics do not follow the formulas (null on a zero denominator)."""
    problems = []
    for row in rows:
        spend, ad_leads = Decimal(row["spend"]), row["leads_tiktok_ad"] + row["leads_tiktok_ad_unresolved"]
        expected = {
            "ctr": _ratio(row["clicks"], row["impressions"], "0.000001"),
            "cpc": _ratio(spend, row["clicks"], "0.0001"),
            "cpm": _ratio(1000 * spend, row["impressions"], "0.0001"),
            "cost_per_lead": _ratio(spend, ad_leads, "0.0001"),
            "lead_rate": _ratio(ad_leads, row["clicks"], "0.000001"),
        }
        for name, value in expected.items():
            got = None if row[name] is None else Decimal(row[name])
            if got != value:
                problems.append(
                    f"{row.get('ad_id') or row.get('day') or row.get('kind')}: {name} {row[name]}, formula gives {value}"
                )
    return problems


def csv_problems(csv_text: str, report: dict[str, Any]) -> list[str]:
    """Where the CSV and the JSON report (same query) disagree."""
    parsed = list(csv.DictReader(io.StringIO(csv_text)))
    if len(parsed) != len(report["rows"]):
        return [f"CSV has {len(parsed)} rows, JSON {len(report['rows'])}"]
    problems = []
    for index, (line, row) in enumerate(zip(parsed, report["rows"], strict=True)):
        for name, value in row.items():
            if line.get(name) != ("" if value is None else str(value)):
                problems.append(f"row {index} {name}: CSV {line.get(name)!r}, JSON {value!r}")
    return problems
