"""The report as a page people look at, and as CSV: one self-contained HTML page with a chart drawn on the server.

Nothing is loaded from elsewhere (no script, font or image): the page works offline, in an
email, or saved to disk. The chart is SVG with a title and a description a screen reader
reads; each bar carries its day, series and value, so what is drawn can be checked against
the JSON report.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from html import escape
from typing import Any

from messaging_partner.domain.reports import Report

CHART_WIDTH, CHART_HEIGHT = 960, 320
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 16, 16, 40
SERIES = (("ad_flow_leads", "Ad flow", "#1f6feb"), ("organic_flow_leads", "Organic flow", "#2da44e"))


def report_csv(report: Report) -> str:
    """The JSON report's rows, one per line under a header row; empty cells where JSON has null."""
    rows = report.csv_rows()
    columns = list(dict.fromkeys(name for row in rows for name in row)) or ["currency"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def report_page(daily: Report, by_ad: Report, advertiser_name: str | None) -> str:
    """The chart of ad-flow vs organic leads per day, then the per-ad table."""
    who = advertiser_name or daily.query.advertiser_id
    span = f"{daily.query.first_day} to {daily.query.last_day}"
    title = f"Leads from ads and organic, {who}, {span}"
    currency = daily.currency or "the ad account's currency"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><!-- no favicon request: the page asks for nothing but itself -->
<title>{escape(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:62rem;padding:0 1rem;color:#1f2328}}
h1{{font-size:1.35rem;margin-bottom:.25rem}} p.sub{{color:#59636e;margin-top:0}}
svg{{width:100%;height:auto;display:block}} .axis text,.legend text{{font-size:12px;fill:#59636e}}
.grid line{{stroke:#d1d9e0}} table{{border-collapse:collapse;width:100%;margin-top:1.5rem;font-size:.92rem}}
th,td{{padding:.4rem .6rem;border-bottom:1px solid #d1d9e0;text-align:right}} th:first-child,td:first-child{{text-align:left}}
th{{background:#f6f8fa}} td.none{{color:#818b98}} .totals td{{font-weight:600}}
</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">Days in the ad account's time zone ({escape(daily.timezone)}); spend in {escape(currency)}.
Ad flow: conversations that came through a TikTok or Meta ad. Organic flow: everything else (profile, short links).</p>
{chart_svg(daily)}
{ad_table(by_ad)}
</body></html>
"""


def chart_svg(daily: Report) -> str:
    report = daily.as_json()
    rows, totals = report["rows"], report["totals"]
    values = [int(row[key]) for row in rows for key, _, _ in SERIES]
    top = nice_ceiling(max(values, default=0))
    plot_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / max(len(rows), 1)
    bar = slot * 0.8 / len(SERIES)
    scale = plot_height / top
    baseline = MARGIN_TOP + plot_height
    parts = []
    for step in range(5):  # gridlines and their labels
        value = top * step / 4
        y = baseline - value * scale
        parts.append(
            f'<g class="grid"><line x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - MARGIN_RIGHT}" y1="{y:.2f}" y2="{y:.2f}"/></g>'
            f'<g class="axis"><text x="{MARGIN_LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{value:g}</text></g>'
        )
    label_every = max(1, round(len(rows) / 15))  # at most about 15 day labels, whatever the range
    for index, row in enumerate(rows):
        left = MARGIN_LEFT + index * slot + slot * 0.1
        for offset, (key, name, colour) in enumerate(SERIES):
            value = int(row[key])
            height = value * scale
            parts.append(
                f'<rect class="bar" data-day="{row["day"]}" data-series="{key}" data-value="{value}" '
                f'x="{left + offset * bar:.2f}" y="{baseline - height:.2f}" width="{bar:.2f}" height="{height:.2f}" '
                f'fill="{colour}"><title>{row["day"]}: {value} {name.lower()} leads</title></rect>'
            )
        if index % label_every == 0:
            parts.append(
                f'<g class="axis"><text x="{left + bar:.2f}" y="{baseline + 16}" text-anchor="middle">{row["day"][5:]}</text></g>'
            )
    legend = "".join(
        f'<rect x="{MARGIN_LEFT + i * 130}" y="{CHART_HEIGHT - 14}" width="12" height="12" fill="{colour}"/>'
        f'<text x="{MARGIN_LEFT + i * 130 + 18}" y="{CHART_HEIGHT - 4}">{name}</text>'
        for i, (_, name, colour) in enumerate(SERIES)
    )
    description = (
        f"Bar chart of leads per day from {daily.query.first_day} to {daily.query.last_day}: "
        f"{totals['ad_flow_leads']} ad-flow leads and {totals['organic_flow_leads']} organic-flow leads in all"
        + (f"; the busiest day was {busiest(rows)}." if any(values) else "; there were no leads in this range.")
    )
    return (
        f'<svg role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT + 4}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">Ad-flow and organic-flow leads per day</title>'
        f'<desc id="chart-desc">{escape(description)}</desc>' + "".join(parts) + f'<g class="legend">{legend}</g></svg>'
    )


def nice_ceiling(value: int) -> int:
    """The axis top: the smallest of 1, 2, 4, 5 or 10 times a power of ten at or above value (4 when there is none)."""
    if value <= 0:
        return 4
    power = 1
    while True:
        for step in (1, 2, 4, 5):
            if step * power >= value:
                return step * power
        power *= 10


def busiest(rows: list[dict[str, Any]]) -> str:
    row = max(rows, key=lambda r: (r["ad_flow_leads"] + r["organic_flow_leads"], r["day"]))
    return f"{row['day']} with {row['ad_flow_leads'] + row['organic_flow_leads']} leads"


def ad_table(by_ad: Report) -> str:
    report = by_ad.as_json()
    head = (
        "<tr><th scope='col'>Ad (campaign / ad group)</th><th scope='col'>Spend</th><th scope='col'>All leads</th>"
        "<th scope='col'>TikTok-ad leads</th><th scope='col'>Cost per lead</th><th scope='col'>TikTok's count</th>"
        "<th scope='col'>Ours minus TikTok's</th></tr>"
    )
    body = "".join(_table_row(_card_name(row), row) for row in report["rows"])
    totals = _table_row("All", report["totals"], css="totals")
    caption = (
        "Leads per ad, counted from conversations; cost per lead is spend over TikTok-ad leads. "
        "TikTok's count comes from its messaging conversation metrics."
    )
    return f"<table><caption>{escape(caption)}</caption><thead>{head}</thead><tbody>{body}{totals}</tbody></table>"


def _card_name(row: dict[str, Any]) -> str:
    if not row.get("ad_id"):
        return str(row.get("kind"))
    name = row.get("ad_name") or f"Ad {row['ad_id']}"
    where = " / ".join(part for part in (row.get("campaign_name"), row.get("adgroup_name")) if part)
    return f"{name} ({where})" if where else name


def _table_row(name: str, row: dict[str, Any], css: str = "") -> str:
    cells = [
        _cell(row["spend"]),
        _cell(row["ad_flow_leads"] + row["organic_flow_leads"]),
        _cell(row["ad_leads"]),
        _cell(row["cost_per_lead"]),  # spend over the TikTok-ad leads beside it
        _cell(row["tiktok_conversations"]),
        _cell(row["conversation_difference"]),
    ]
    return f"<tr class='{css}'><td>{escape(name)}</td>{''.join(cells)}</tr>"


def _cell(value: Any) -> str:
    if value is None:
        return "<td class='none'>n/a</td>"
    text = f"{Decimal(value):,.2f}" if isinstance(value, str) else f"{value:,}"
    return f"<td>{escape(text)}</td>"
