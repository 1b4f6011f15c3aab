"""Properties of the report row parser and of the figures, over arbitrary input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from messaging_partner.domain.reports import Figures, Leads, ReportUnreadable, parse_report_row

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
money = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10**12)
metric_names = st.sampled_from(["spend", "impressions", "clicks", "conversion", "ad_name", "ctr"])


@given(
    st.fixed_dictionaries(
        {
            "dimensions": st.dictionaries(st.sampled_from(["ad_id", "stat_time_day"]), json_values, max_size=2),
            "metrics": st.dictionaries(metric_names, json_values, max_size=5),
        }
    )
    | json_values
)
def test_any_row_is_read_or_refused_with_a_reason_never_a_crash(row: Any) -> None:
    try:
        parsed = parse_report_row(row)
    except ReportUnreadable as refused:
        reason = str(refused)
        assert reason, "a refusal says why"
        return
    assert parsed.spend >= 0
    assert parsed.impressions >= 0


@given(money, counts, counts, st.sampled_from([str, lambda n: n]))
def test_numbers_tiktok_writes_are_read_back_exactly(spend: Decimal, impressions: int, clicks: int, form: Any) -> None:
    row = {
        "dimensions": {"ad_id": "1790000000000001", "stat_time_day": "2026-11-30 00:00:00"},
        "metrics": {"spend": str(spend), "impressions": form(impressions), "clicks": form(clicks)},
    }
    parsed = parse_report_row(row)
    assert (parsed.spend, parsed.impressions, parsed.clicks) == (spend, impressions, clicks)


figures = st.builds(
    Figures,
    money,
    counts,
    counts,
    counts,
    counts,
    st.builds(Leads, counts, counts, counts, counts, counts),
)


@given(figures)
def test_a_derived_metric_is_none_exactly_when_its_denominator_is_zero(f: Figures) -> None:
    assert (f.ctr is None) == (f.impressions == 0)
    assert (f.cpc is None) == (f.clicks == 0)
    assert (f.cpm is None) == (f.impressions == 0)
    assert (f.cost_per_lead is None) == (f.leads.ad_leads == 0)
    assert (f.lead_rate is None) == (f.clicks == 0)


@given(st.lists(figures, max_size=5))
def test_sums_do_not_depend_on_order(parts: list[Figures]) -> None:
    assert sum(parts, Figures()) == sum(reversed(parts), Figures())
