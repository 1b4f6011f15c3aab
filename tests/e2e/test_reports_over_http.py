"""Report rollups through the local stack: fan-out, failures kept to their own ad account, idempotence, the reports API."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from local.browser import HeadlessChromium
from local.control import connect_ad_accounts
from local.provision import local_secret_value
from local.report_check import BARS_AS_DRAWN, bar_problems, csv_problems, formula_problems
from local.scenario import signed_tiktok, tiktok_ad_referral_content, tiktok_body, tiktok_text_content
from local.stack import RUN_DIR
from local.tiktok_emulator import API_PREFIX, BENCH_TOKEN, report_numbers
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
REPORT_PATH = "/report/integrated/get/"


def fire_hourly(stack: RunningStack) -> dict[str, Any]:
    answer = requests.post(f"{stack.api}/_local/schedules/ReportRollupFunction/Hourly", timeout=60)
    answer.raise_for_status()
    stack.drained()
    return dict(answer.json()["result"])


def reports_items(stack: RunningStack, advertiser_id: str) -> list[dict[str, Any]]:
    table = stack.status()["resources"]["ReportsTable"]
    items = []
    for page in stack.aws("dynamodb").get_paginator("scan").paginate(TableName=table):
        items += [i for i in page["Items"] if i["pk"]["S"].startswith(f"RPT#{advertiser_id}#")]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def report_calls(stack: RunningStack) -> list[dict[str, Any]]:
    calls = requests.get(f"{stack.tiktok}/_emulator/calls", timeout=10).json()["calls"]
    return [c for c in calls if c["path"] == REPORT_PATH]


@pytest.fixture(scope="module")
def ad_accounts(stack: RunningStack) -> list[str]:
    """Five bench ad accounts of their own: the emulator's tests use the first two, the hanging-TikTok test the eighth."""
    return connect_ad_accounts(stack.ports, 8)[2:7]


def test_throttling_and_a_revoked_token_on_two_ad_accounts_leave_the_others_rolled_up(
    stack: RunningStack, ad_accounts: list[str]
) -> None:
    throttled, revoked, *others = ad_accounts
    # Five throttled answers: more than one delivery's tries (1 + 3 retries), so the queue must try again.
    fault = {"code": 40100, "times": 5, "path": REPORT_PATH, "advertiser_id": throttled}
    requests.post(f"{stack.tiktok}/_emulator/faults", json=fault, timeout=5).raise_for_status()
    requests.post(f"{stack.tiktok}/_emulator/revoke", json={"advertiser_id": revoked}, timeout=5).raise_for_status()
    failed_before = stack.status()["pumps"]["ReportRollupFunction"]["failed_records"]
    calls_before = len(report_calls(stack))

    queued = fire_hourly(stack)

    assert queued["queued"] >= len(ad_accounts)
    for advertiser_id in [throttled, *others]:
        items = reports_items(stack, advertiser_id)
        assert len([i for i in items if "spend" in i]) == 4, advertiser_id  # two ads, yesterday and today
    assert reports_items(stack, revoked) == []
    account = requests.get(f"{stack.api}/admin/advertisers/{revoked}", timeout=10).json()
    assert account["status"] == "NEEDS_REAUTH"
    assert "40105" in account["reauth_reason"]
    status = stack.status()
    assert status["pumps"]["ReportRollupFunction"]["failed_records"] - failed_before == 1  # the throttled one, once
    assert status["queues"]["RollupDLQ"]["visible"] == 0
    calls = report_calls(stack)[calls_before:]
    assert sum(1 for c in calls if c["query"]["advertiser_id"] == throttled and c["code"] == 40100) == 5
    assert not [c for c in calls if c["code"] == 40100 and c["query"]["advertiser_id"] != throttled], "pacing kept to the QPS"

    again = fire_hourly(stack)  # the revoked account is not queued any more
    assert again["queued"] == queued["queued"] - 1
    assert revoked in again["needs_reauth"]


def test_a_rollup_run_twice_leaves_identical_items_with_tiktoks_numbers(stack: RunningStack, ad_accounts: list[str]) -> None:
    advertiser_id = ad_accounts[-1]
    fire_hourly(stack)
    first = reports_items(stack, advertiser_id)
    fire_hourly(stack)
    assert reports_items(stack, advertiser_id) == first
    for item in first:
        day, ad_id = item["pk"]["S"].rsplit("#", 1)[1], item["sk"]["S"].removeprefix("AD#")
        expected = report_numbers(advertiser_id, ad_id, day)
        assert Decimal(item["spend"]["N"]) == Decimal(expected["spend"])  # DynamoDB may drop trailing zeros
        assert item["impressions"]["N"] == expected["impressions"]
        assert item["currency"]["S"] == "USD"


def test_the_reports_api_answers_json_csv_and_clear_refusals(stack: RunningStack, ad_accounts: list[str]) -> None:
    advertiser_id = ad_accounts[-1]
    fire_hourly(stack)
    url = f"{stack.api}/admin/reports"
    for group_by in ("day", "ad", "campaign"):
        report = requests.get(url, params={"advertiser_id": advertiser_id, "group_by": group_by}, timeout=10).json()
        assert report["currency"] == "USD"
        assert not formula_problems(report["rows"] + [report["totals"]])
        csv_answer = requests.get(url, params={"advertiser_id": advertiser_id, "group_by": group_by, "format": "csv"}, timeout=10)
        assert csv_answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_answer.headers["content-disposition"]
        assert not csv_problems(csv_answer.text, report)
    by_ad = requests.get(url, params={"advertiser_id": advertiser_id, "group_by": "ad"}, timeout=10).json()
    assert all(row["ad_name"] for row in by_ad["rows"] if row["ad_id"])  # names from TikTok's report where no card exists

    refusals = {
        "more than 93 days": ({"from": "2026-01-01", "to": "2026-11-30"}, "at most 93"),
        "from after to": ({"from": "2026-11-30", "to": "2026-11-01"}, "after"),
        "unknown advertiser": ({"advertiser_id": "7199999999999999999"}, "No connected advertiser"),
        "no advertiser": ({"advertiser_id": ""}, "advertiser_id is required"),
        "unknown grouping": ({"group_by": "hour"}, "Unknown group_by"),
        "unknown format": ({"format": "xlsx"}, "Unknown format"),
        "bad date": ({"from": "yesterday"}, "YYYY-MM-DD"),
    }
    for case, (params, says) in refusals.items():
        answer = requests.get(url, params={"advertiser_id": advertiser_id, **params}, timeout=10)
        assert answer.status_code == 400, case
        assert says in answer.json()["message"], case


def tiktok_leads(stack: RunningStack, advertiser_id: str, ad_clicks: int, organic: int) -> None:
    """Conversations on a TikTok business linked to the ad account: some opened by a click on its DM ad, some not."""
    business = f"e2e-reports-{advertiser_id[-4:]}"
    link = f"{stack.api}/admin/advertisers/{advertiser_id}/links/tiktok/{business}"
    requests.put(link, json={}, timeout=10).raise_for_status()
    (ad,) = [a for a in stack_catalogue(stack, advertiser_id) if a.get("destination") != "SOCIAL_MEDIA_APP"]
    now = int(time.time())
    bodies = []
    for n in range(ad_clicks + organic):
        customer, ms = f"e2e-report-{advertiser_id[-4:]}-{n}", now * 1000 + n
        if n < ad_clicks:
            click = tiktok_ad_referral_content(customer, business, ms, {"advertiser_id": advertiser_id, "ad_id": ad["ad_id"]})
            bodies.append(tiktok_body("im_referral_msg", business, click, now))
        content = tiktok_text_content(customer, business, f"e2e-report-msg-{advertiser_id[-4:]}-{n}", ms + 1, "Hello")
        bodies.append(tiktok_body("im_receive_msg", business, content, now))
    for body in bodies:
        delivery = signed_tiktok("", body, local_secret_value("TIKTOK_APP_SECRET"), now)
        requests.post(f"{stack.api}/webhooks/tiktok", data=body, headers=delivery.headers, timeout=10).raise_for_status()
    stack.drained()


def stack_catalogue(stack: RunningStack, advertiser_id: str) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{stack.tiktok}{API_PREFIX}/ad/get/",
        params={"advertiser_id": advertiser_id},
        headers={"Access-Token": BENCH_TOKEN},
        timeout=10,
    ).json()
    return list(answer["data"]["list"])


def test_the_page_renders_in_headless_chromium_with_bars_matching_the_json(
    stack: RunningStack, ad_accounts: list[str], browser: HeadlessChromium
) -> None:
    advertiser_id = ad_accounts[-2]
    tiktok_leads(stack, advertiser_id, ad_clicks=3, organic=2)
    fire_hourly(stack)
    params = {"advertiser_id": advertiser_id, "from": "2026-11-01", "to": "2026-12-31"}
    daily = requests.get(f"{stack.api}/admin/reports", params={**params, "group_by": "day"}, timeout=10).json()
    view = requests.Request("GET", f"{stack.api}/admin/reports/view", params=params).prepare().url
    assert view

    browser.open(view)
    drawn = browser.evaluate(BARS_AS_DRAWN)
    shot = browser.screenshot(RUN_DIR / "e2e-report-page.png")

    assert len(drawn) == 2 * 61  # two series, every day of November and December
    assert not bar_problems(drawn, daily)
    today = next(row for row in daily["rows"] if row["ad_flow_leads"])
    assert (today["ad_flow_leads"], today["organic_flow_leads"]) == (3, 2)
    assert any(bar["value"] and bar["height"] > 1 for bar in drawn)
    assert browser.requests_made() == [view], "the page loads nothing but itself"
    assert browser.evaluate("document.querySelector('svg').getAttribute('aria-labelledby')") == "chart-title chart-desc"
    assert "ad-flow leads" in browser.evaluate("document.querySelector('svg desc').textContent")
    rows = browser.evaluate("[...document.querySelectorAll('table tbody tr')].length")
    by_ad = requests.get(f"{stack.api}/admin/reports", params={**params, "group_by": "ad"}, timeout=10).json()
    assert rows == len(by_ad["rows"]) + 1  # and the totals
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
