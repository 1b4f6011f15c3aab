"""The TikTok emulator's endpoints as functions: seeded advertisers, per-advertiser failures, app QPS, reports."""

from __future__ import annotations

import json
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
