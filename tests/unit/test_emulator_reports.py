"""The TikTok emulator's endpoints as functions: seeded advertisers, per-advertiser failures, app QPS, reports."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from local.tiktok_emulator import (
    ApiError,
    ApiRequest,
    EmulatorState,
    Fault,
    ad_get,
    advertiser_info,
    answer_api_call,
    default_state,
    report_integrated_get,
    report_numbers,
)

TOKEN, BENCH = "local-advertiser-token", "bench-advertiser-token"
DEMO = "7100000000000000001"


@pytest.fixture
def state() -> EmulatorState:
    return default_state("app", "secret")


def get(query: dict[str, Any], token: str | None = TOKEN, path: str = "/ad/get/") -> ApiRequest:
    """A GET as the HTTP server hands it over: every query value a string, arrays JSON-encoded."""
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in query.items()}
    return ApiRequest("GET", path, encoded, {}, token)


def test_seeding_is_reachable_by_its_token_and_idempotent(state: EmulatorState) -> None:
    ids = state.seed_advertisers(3, BENCH)
    assert ids == ["7300000000000000001", "7300000000000000002", "7300000000000000003"]
    assert state.seed_advertisers(3, BENCH) == ids
    assert [a["advertiser_name"] for a in state.advertiser_tokens[BENCH]] == [f"Bench advertiser {i}" for i in (1, 2, 3)]
    assert [a["advertiser_id"] for a in state.advertiser_tokens[TOKEN]] == [DEMO, "7100000000000000002"]  # untouched
    state.seed_advertisers(1, BENCH)
    assert [a["advertiser_id"] for a in state.advertiser_tokens[BENCH]] == ids[:1]


def test_seeded_ads_are_listed_by_ad_get(state: EmulatorState) -> None:
    [first, second] = state.seed_advertisers(2, BENCH)
    ads = ad_get(state, get({"advertiser_id": second}, BENCH))["list"]
    assert [a.get("destination") for a in ads] == [None, "SOCIAL_MEDIA_APP"]
    assert {a["advertiser_id"] for a in ads} == {second}
    assert len({a["campaign_id"] for a in ads}) == len({a["adgroup_id"] for a in ads}) == 2
    assert ads[1]["phone_number"]
    firsts = ad_get(state, get({"advertiser_id": first}, BENCH))["list"]
    assert not {a["ad_id"] for a in ads} & {a["ad_id"] for a in firsts}
    whatsapp = ad_get(state, get({"advertiser_id": first, "filtering": {"destination": "SOCIAL_MEDIA_APP"}}, BENCH))["list"]
    assert [a["ad_id"] for a in whatsapp] == [firsts[1]["ad_id"]]


def test_advertiser_info_answers_each_advertisers_own_settings(state: EmulatorState) -> None:
    demo = advertiser_info(state, get({"advertiser_ids": [DEMO, "7100000000000000002"]}, path="/advertiser/info/"))["list"]
    assert [(a["timezone"], a["currency"]) for a in demo] == [("Europe/Lisbon", "EUR"), ("Europe/Berlin", "EUR")]
    ids = state.seed_advertisers(6, BENCH)
    bench = advertiser_info(state, get({"advertiser_ids": ids}, BENCH, "/advertiser/info/"))["list"]
    assert {a["currency"] for a in bench} == {"USD"}
    zones = [a["timezone"] for a in bench]
    assert len(set(zones)) > 1
    assert zones[0] == zones[5]  # the zones cycle
    with pytest.raises(ApiError) as error:
        advertiser_info(state, get({"advertiser_ids": ids}, TOKEN, "/advertiser/info/"))
    assert error.value.code == 40106  # the demo token does not reach bench advertisers


def test_a_fault_for_one_advertiser_leaves_the_others_alone(state: EmulatorState) -> None:
    [first, second] = state.seed_advertisers(2, BENCH)
    state.faults.append(Fault(40100, 3, None, 0, advertiser_id=second))
    assert answer_api_call(state, get({"advertiser_id": first}, BENCH))[0] == 0
    assert answer_api_call(state, get({"advertiser_id": second}, BENCH))[0] == 40100
    preview = {"advertiser_id": int(second), "preview_type": "AD", "ad_id": "1891000000000022"}  # a JSON body, as a number
    assert answer_api_call(state, ApiRequest("POST", "/creative/ads_preview/create/", {}, preview, BENCH))[0] == 40100
    assert state.faults[0].times == 1
    state.faults[0].path = "/ad/get/"
    assert answer_api_call(state, get({"advertiser_ids": [second]}, BENCH, "/advertiser/info/"))[0] == 0  # another path


def test_a_revoked_advertiser_answers_40105_on_every_call_until_reset(state: EmulatorState) -> None:
    state.revoked.add(DEMO)
    assert answer_api_call(state, get({"advertiser_id": DEMO}))[0] == 40105
    assert answer_api_call(state, get({"advertiser_ids": [DEMO]}, path="/advertiser/info/"))[0] == 40105
    assert answer_api_call(state, get({"advertiser_id": "7100000000000000002"}))[0] == 0  # the other account still works
    assert answer_api_call(state, get({"app_id": "app", "secret": "secret"}, path="/oauth2/advertiser/get/"))[0] == 0
    state.reset_controls()
    assert answer_api_call(state, get({"advertiser_id": DEMO}))[0] == 0


def test_every_call_is_recorded_with_the_code_it_answered(state: EmulatorState) -> None:
    answer_api_call(state, get({"advertiser_id": DEMO}))
    answer_api_call(state, get({"advertiser_id": DEMO}, token=None))
    assert [(c["path"], c["code"]) for c in state.calls] == [("/ad/get/", 0), ("/ad/get/", 40104)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


REPORT = "/report/integrated/get/"


def test_report_qps_is_a_sliding_second(state: EmulatorState) -> None:
    clock = FakeClock()
    state.qps_clock = clock
    assert all(state.admit(REPORT) for _ in range(10))
    assert not state.admit(REPORT)
    assert state.admit("/ad/get/")  # the limit is the report endpoint's
    clock.now += 0.5
    assert not state.admit(REPORT)  # the ten are still within the last second
    clock.now += 0.5
    assert state.admit(REPORT)  # a second after the first ten; the refused calls never counted
    clock.now += 0.25
    assert [state.admit(REPORT) for _ in range(10)] == [True] * 9 + [False]


def test_report_qps_can_be_lowered_disabled_and_reset(state: EmulatorState) -> None:
    state.qps_clock = FakeClock()
    state.qps_limit = 2
    assert [state.admit(REPORT) for _ in range(3)] == [True, True, False]
    state.qps_limit = 0
    assert all(state.admit(REPORT) for _ in range(50))
    state.reset_controls()
    assert state.qps_limit == 10
    assert all(state.admit(REPORT) for _ in range(10))


# ---------------------------------------------------------------- /report/integrated/get/

TODAY = date(2026, 11, 30)
DEMO_ADS = ["1790000000000001", "1790000000000002", "1790000000000003"]  # not the deleted 1790000000000009
IM_AD, DELETED_AD = "1790000000000003", "1790000000000009"
DM_TALKS, IM_TALKS = "messaging_total_conversation_tiktok_direct_message", "messaging_total_conversation_instant_messaging_app"
ALL_STATUSES = [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}]


@pytest.fixture
def pinned(state: EmulatorState) -> EmulatorState:
    """The emulator's today is TODAY, at noon UTC."""
    state.clock_offset = datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp() - time.time()
    return state


def report_query(**overrides: Any) -> dict[str, Any]:
    query: dict[str, Any] = {
        "advertiser_id": DEMO,
        "report_type": "BASIC",
        "data_level": "AUCTION_AD",
        "dimensions": ["ad_id", "stat_time_day"],
        "start_date": "2026-11-21",
        "end_date": "2026-11-30",
    }
    query.update(overrides)
    return {k: v for k, v in query.items() if v is not None}


def report(state: EmulatorState, token: str | None = TOKEN, **overrides: Any) -> dict[str, Any]:
    return report_integrated_get(state, get(report_query(**overrides), token, REPORT))


def report_error(state: EmulatorState, token: str | None = TOKEN, **overrides: Any) -> ApiError:
    with pytest.raises(ApiError) as error:
        report(state, token, **overrides)
    return error.value


def every_page(state: EmulatorState, page_size: int, **overrides: Any) -> list[dict[str, Any]]:
    first = report(state, page_size=page_size, **overrides)
    rows = list(first["list"])
    for page in range(2, first["page_info"]["total_page"] + 1):
        rows += report(state, page_size=page_size, page=page, **overrides)["list"]
    return rows


def test_report_numbers_are_deterministic_and_plausible() -> None:
    days = [(TODAY - timedelta(days=n)).isoformat() for n in range(40)]
    numbers = [report_numbers(DEMO, ad, day) for ad in DEMO_ADS for day in days]
    assert numbers == [report_numbers(DEMO, ad, day) for ad in DEMO_ADS for day in days]
    assert len({n["spend"] for n in numbers}) > 100
    for n in numbers:
        assert re.fullmatch(r"\d{1,2}\.\d\d", n["spend"])
        assert Decimal("3.00") <= Decimal(n["spend"]) <= Decimal("99.99")
        assert 0 < int(n["clicks"]) < int(n["impressions"])
        assert 0 <= int(n["conversion"]) <= int(n["conversations"]) <= int(n["clicks"])
    assert report_numbers("7100000000000000002", DEMO_ADS[0], days[0]) != report_numbers(DEMO, DEMO_ADS[0], days[0])


def test_the_deleted_demo_ad_delivered_nothing() -> None:
    assert report_numbers(DEMO, DELETED_AD, "2026-11-30") == {
        "spend": "0.00",
        "impressions": "0",
        "clicks": "0",
        "conversion": "0",
        "conversations": "0",
    }


def test_rows_go_day_by_day_then_by_ad_with_only_the_requested_metrics(pinned: EmulatorState) -> None:
    answer = report(pinned, start_date="2026-11-29", metrics=["spend", "clicks"])
    assert [(r["dimensions"]["stat_time_day"], r["dimensions"]["ad_id"]) for r in answer["list"]] == [
        (f"2026-11-{day} 00:00:00", ad) for day in (29, 30) for ad in DEMO_ADS
    ]
    for row in answer["list"]:
        day = row["dimensions"]["stat_time_day"][:10]
        expected = report_numbers(DEMO, row["dimensions"]["ad_id"], day)
        assert row["metrics"] == {"spend": expected["spend"], "clicks": expected["clicks"]}
    assert answer["page_info"] == {"page": 1, "page_size": 10, "total_number": 6, "total_page": 1}
    assert set(report(pinned)["list"][0]["metrics"]) == {"spend", "impressions"}  # TikTok's default metrics


def test_conversations_and_ratios_as_tiktok_counts_them(pinned: EmulatorState) -> None:
    metrics = [
        "impressions",
        "clicks",
        "spend",
        "ctr",
        "cpc",
        "cpm",
        DM_TALKS,
        IM_TALKS,
        "ad_name",
        "campaign_id",
        "campaign_name",
        "adgroup_id",
        "adgroup_name",
    ]
    rows = report(pinned, start_date="2026-11-30", metrics=metrics)["list"]
    by_ad = {r["dimensions"]["ad_id"]: r["metrics"] for r in rows}
    dm, im = by_ad[DEMO_ADS[0]], by_ad[IM_AD]
    assert (dm[DM_TALKS], dm[IM_TALKS]) == (report_numbers(DEMO, DEMO_ADS[0], "2026-11-30")["conversations"], "0")
    assert (im[DM_TALKS], im[IM_TALKS]) == ("0", report_numbers(DEMO, IM_AD, "2026-11-30")["conversations"])
    attributes = [im[k] for k in ("ad_name", "campaign_id", "campaign_name", "adgroup_id", "adgroup_name")]
    assert attributes == ["Sneakers on WhatsApp", "1770000000000002", "Spring WhatsApp", "1780000000000003", "WA Portugal"]
    for m in by_ad.values():
        spend, impressions, clicks = float(m["spend"]), int(m["impressions"]), int(m["clicks"])
        assert abs(float(m["ctr"]) - 100 * clicks / impressions) <= 0.005
        assert abs(float(m["cpc"]) - spend / clicks) <= 0.005
        assert abs(float(m["cpm"]) - 1000 * spend / impressions) <= 0.005
        assert all(re.fullmatch(r"\d+\.\d\d", m[k]) for k in ("ctr", "cpc", "cpm"))


def test_without_stat_time_day_one_row_per_ad_sums_the_range(pinned: EmulatorState) -> None:
    rows = report(pinned, dimensions=["ad_id"], metrics=["spend", "impressions", "ctr"])["list"]
    assert [r["dimensions"] for r in rows] == [{"ad_id": ad} for ad in DEMO_ADS]
    days = [f"2026-11-{day}" for day in range(21, 31)]
    for row in rows:
        daily = [report_numbers(DEMO, row["dimensions"]["ad_id"], day) for day in days]
        assert Decimal(row["metrics"]["spend"]) == sum(Decimal(n["spend"]) for n in daily)
        assert int(row["metrics"]["impressions"]) == sum(int(n["impressions"]) for n in daily)
    assert report(pinned, dimensions=["ad_id"], start_date="2026-12-01", end_date="2026-12-02")["list"] == []


def test_deleted_ads_only_with_status_all(pinned: EmulatorState) -> None:
    default = {r["dimensions"]["ad_id"] for r in report(pinned, page_size=1000)["list"]}
    assert default == set(DEMO_ADS)
    rows = report(pinned, page_size=1000, filtering=ALL_STATUSES, metrics=["spend", "impressions", "clicks", "ctr", "cpc", "cpm"])
    deleted = [r["metrics"] for r in rows["list"] if r["dimensions"]["ad_id"] == DELETED_AD]
    assert len(deleted) == 10
    assert deleted[0] == {"spend": "0.00", "impressions": "0", "clicks": "0", "ctr": "0.00", "cpc": "0.00", "cpm": "0.00"}
    not_deleted = [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_NOT_DELETE"]'}]
    assert report(pinned, page_size=1000, filtering=not_deleted)["page_info"]["total_number"] == 30


def test_no_rows_for_days_after_the_emulators_today(pinned: EmulatorState) -> None:
    answer = report(pinned, start_date="2026-11-29", end_date="2026-12-10")
    assert {r["dimensions"]["stat_time_day"] for r in answer["list"]} == {"2026-11-29 00:00:00", "2026-11-30 00:00:00"}
    assert answer["page_info"]["total_number"] == 6
    future = report(pinned, start_date="2026-12-01", end_date="2026-12-10")
    assert future == {"list": [], "page_info": {"page": 1, "page_size": 10, "total_number": 0, "total_page": 0}}


def test_pages_cover_every_row_once(pinned: EmulatorState) -> None:
    everything = report(pinned, page_size=1000, filtering=ALL_STATUSES)["list"]
    assert len(everything) == 40
    for page_size in (1, 3, 7, 40):
        paged = every_page(pinned, page_size, filtering=ALL_STATUSES)
        assert paged == everything
    info = report(pinned, page_size=7, filtering=ALL_STATUSES)["page_info"]
    assert (info["total_number"], info["total_page"]) == (40, 6)
    beyond = report(pinned, page_size=7, page=7, filtering=ALL_STATUSES)
    assert beyond == {"list": [], "page_info": {**info, "page": 7}}


def test_thirty_days_at_most_by_day(pinned: EmulatorState) -> None:
    assert report(pinned, start_date="2026-11-01", end_date="2026-11-30")["page_info"]["total_number"] == 90
    error = report_error(pinned, start_date="2026-10-31", end_date="2026-11-30")
    assert (error.code, "end_date" in error.message, "30" in error.message) == (40002, True, True)
    assert report(pinned, dimensions=["ad_id"], start_date="2026-10-01")["page_info"]["total_number"] == 3  # 61 days


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"report_type": None}, "report_type"),
        ({"report_type": "AUDIENCE"}, "report_type"),
        ({"service_type": "RESERVATION"}, "service_type"),
        ({"data_level": None}, "data_level"),
        ({"data_level": "AUCTION_CAMPAIGN"}, "data_level"),
        ({"dimensions": None}, "dimensions"),
        ({"dimensions": ["campaign_id", "stat_time_day"]}, "dimensions"),
        ({"dimensions": ["stat_time_day"]}, "dimensions"),
        ({"dimensions": ["ad_id", "ad_id"]}, "dimensions"),
        ({"dimensions": "ad_id"}, "dimensions"),
        ({"metrics": ["spend", "reach"]}, "'reach'"),
        ({"metrics": []}, "metrics"),
        ({"metrics": "spend"}, "metrics"),
        ({"start_date": None}, "start_date"),
        ({"end_date": "2026/11/30"}, "end_date"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": "2026-11-30", "end_date": "2026-11-29"}, "end_date"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"filtering": {"ad_status": "STATUS_ALL"}}, "filtering"),
        ({"filtering": [{"field_name": "campaign_id", "filter_type": "IN", "filter_value": '["1"]'}]}, "filtering[0].field_name"),
        ({"filtering": [{"field_name": "ad_status", "filter_type": "MATCH", "filter_value": '["STATUS_ALL"]'}]}, "filter_type"),
        ({"filtering": [{"field_name": "ad_status", "filter_type": "IN", "filter_value": ["STATUS_ALL"]}]}, "filter_value"),
        ({"filtering": [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["ENABLE"]'}]}, "filter_value"),
        ({"filtering": "[{"}, "filtering"),
    ],
)
def test_report_parameters_are_checked(pinned: EmulatorState, overrides: dict[str, Any], named: str) -> None:
    error = report_error(pinned, **overrides)
    assert error.code == 40002
    assert named in error.message


@pytest.mark.parametrize(
    ("token", "advertiser_id", "code"),
    [(None, DEMO, 40104), ("unknown", DEMO, 40105), (TOKEN, "7300000000000000001", 40106)],
)
def test_report_token_checks(pinned: EmulatorState, token: str | None, advertiser_id: str, code: int) -> None:
    assert report_error(pinned, token, advertiser_id=advertiser_id).code == code


def test_a_revoked_advertisers_report_answers_40105(pinned: EmulatorState) -> None:
    pinned.revoked.add(DEMO)
    assert answer_api_call(pinned, get(report_query(), TOKEN, REPORT))[0] == 40105
    assert answer_api_call(pinned, get(report_query(advertiser_id="7100000000000000002"), TOKEN, REPORT))[0] == 0


def test_a_seeded_advertisers_report(pinned: EmulatorState) -> None:
    [advertiser] = pinned.seed_advertisers(1, BENCH)
    rows = report(pinned, BENCH, advertiser_id=advertiser, start_date="2026-11-30", metrics=[DM_TALKS, IM_TALKS])["list"]
    [(dm_ad, dm), (im_ad, im)] = [(r["dimensions"]["ad_id"], r["metrics"]) for r in rows]
    assert (dm[DM_TALKS], dm[IM_TALKS]) == (report_numbers(advertiser, dm_ad, "2026-11-30")["conversations"], "0")
    assert (im[DM_TALKS], im[IM_TALKS]) == ("0", report_numbers(advertiser, im_ad, "2026-11-30")["conversations"])


def test_report_calls_beyond_the_apps_qps_answer_40100(pinned: EmulatorState) -> None:
    clock = FakeClock()
    pinned.qps_clock = clock
    codes = [answer_api_call(pinned, get(report_query(), TOKEN, REPORT))[0] for _ in range(11)]
    assert codes == [0] * 10 + [40100]
    assert [c["code"] for c in pinned.calls] == codes  # refused calls are recorded too
    clock.now += 1.0
    assert answer_api_call(pinned, get(report_query(), TOKEN, REPORT))[0] == 0
