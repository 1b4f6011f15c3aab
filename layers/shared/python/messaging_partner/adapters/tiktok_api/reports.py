"""Reporting (reference/tiktok.md section 4): /report/integrated/get/ by ad and day, every page."""

from __future__ import annotations

import json

from messaging_partner.domain.reports import REPORT_METRICS, AdDayReport, complete_report, parse_report_row
from messaging_partner.domain.rollups import REPORT_RETRY

from .auth import advertiser_profiles
from .client import TikTokClient

PAGE_SIZE = 1000  # TikTok's largest page
# AUCTION_AD leaves deleted ads out unless asked: a conversation can outlive its ad, and so can its spend.
ALL_ADS = json.dumps([{"field_name": "ad_status", "filter_type": "IN", "filter_value": json.dumps(["STATUS_ALL"])}])


class TikTokReportsApi:
    """The TikTokReports port over the Business API; the client's pacing keeps calls within the app's QPS."""

    def __init__(self, client: TikTokClient, page_size: int = PAGE_SIZE) -> None:
        self._client = client
        self._page_size = page_size

    def ad_days(self, advertiser_id: str, access_token: str, first_day: str, last_day: str) -> AdDayReport:
        rows, page, calls = [], 1, 0
        while True:
            query = {
                "advertiser_id": advertiser_id,
                "report_type": "BASIC",
                "data_level": "AUCTION_AD",
                "dimensions": json.dumps(["ad_id", "stat_time_day"]),
                "metrics": json.dumps(REPORT_METRICS),
                "start_date": first_day,
                "end_date": last_day,
                "filtering": ALL_ADS,
                "page": page,
                "page_size": self._page_size,
            }
            data = self._client.get("report/integrated/get/", query, access_token=access_token, retry=REPORT_RETRY)
            calls += 1
            rows += [parse_report_row(row) for row in data.get("list") or []]
            page_info = data.get("page_info") or {}
            if page >= int(page_info.get("total_page") or 0) or not data.get("list"):
                total = page_info.get("total_number")
                return complete_report(rows, int(total) if total is not None else None, calls)
            page += 1

    def currency(self, advertiser_id: str, access_token: str) -> str | None:
        profile = advertiser_profiles(self._client, [advertiser_id], access_token).get(advertiser_id)
        return profile.currency if profile else None
