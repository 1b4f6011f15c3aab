"""A TikTok Business API emulator for the endpoints the backend calls (reference/tiktok.md section 2).

What it keeps of the real API: every answer is the envelope {code, message, request_id, data};
API errors come back with HTTP 200; paths need their trailing slash (without it: HTTP 404
"404 page not found"); a token goes in the Access-Token header; /report/integrated/get/ answers
40100 beyond the app's QPS. Report numbers are made up but fixed: report_numbers says which.

Control (not part of TikTok's API):
  POST   /_emulator/faults  {"code": 40100, "times": 2, "path": "/oauth2/advertiser/get/", "delay_ms": 0}
         optional "advertiser_id": only calls naming that ad account (advertiser_id in the query or
         JSON body, or among /advertiser/info/'s advertiser_ids). "delay_ms" holds the call first;
         then with a "code" it answers that code without acting (TikTok hung before doing anything),
         without one it acts and answers (TikTok acted; the answer may come after the caller gave up:
         a refresh rotated, the old refresh token answering 40107 from then on)
  DELETE /_emulator/faults
  POST   /_emulator/revoke  {"advertiser_id": "..."}   every later call naming it answers 40105
  POST   /_emulator/qps     {"limit": 10}   app QPS of /report/integrated/get/ over a sliding second,
         beyond it 40100 (default 10, TikTok's Basic tier; 0: no limit)
  GET    /_emulator/calls   every API call received, in order, with its query, JSON body and answered code
  GET    /_emulator/events  the Events API events accepted, one per (event_source_id, event_id, event)
  POST   /_emulator/consent {"deny": true}   the next authorize page refuses consent
  POST   /_emulator/clock   {"offset_seconds": 7200}   move the emulator's clock (token expiry, the report's today)
  POST   /_emulator/advertisers {"count": 200, "token": "bench-advertiser-token"}
         seed advertisers 1..count behind token, two ads each (idempotent); answers {"advertiser_ids": [...]}

Authorize pages (what the advertiser's browser visits), outside the API prefix:
  GET /portal/auth?app_id=&state=&redirect_uri=                      -> 302 redirect_uri?auth_code=&state=
  GET /v2/auth/authorize?client_key=&response_type=code&redirect_uri=&state=  -> 302 redirect_uri?code=&state=
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

API_PREFIX = "/open_api/v1.3"

ERROR_MESSAGES = {
    40001: "No permission to operate this advertiser.",
    40002: "Parameter error.",
    40100: "Requests made too frequently. Please slow down.",
    40102: "Access token has expired.",
    40104: "Access token is null, you should set it in http header with key Access-Token.",
    40105: "Access token is incorrect or has been revoked.",
    40103: "Refresh token has expired.",
    40106: "Core user is invalid: the access token does not match this advertiser.",
    40107: "Refresh token is invalid.",
    40110: "Invalid auth_code: it was used, expired or cancelled.",
    40113: "The app is blocked or the app_id and secret do not match.",
    40007: "The object does not exist.",
    40011: "Too many IDs in one request.",
    50000: "System error, please retry later.",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_MESSAGES.get(code, "Error"))
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "Error")


@dataclass
class ApiRequest:
    method: str
    path: str  # without the /open_api/v1.3 prefix, with its trailing slash
    query: dict[str, str]
    body: dict[str, Any]
    access_token: str | None


@dataclass
class Fault:
    code: int | None
    times: int
    path: str | None
    delay_ms: int
    advertiser_id: str | None = None  # only calls naming this ad account: one account failing among many

    def applies_to(self, path: str, advertisers: set[str]) -> bool:
        return (
            self.times > 0
            and (self.path is None or self.path == path)
            and (self.advertiser_id is None or self.advertiser_id in advertisers)
        )


def named_advertisers(request: ApiRequest) -> set[str]:
    """The ad accounts a call names: advertiser_id in its query or JSON body, or /advertiser/info/'s advertiser_ids."""
    body = request.body if isinstance(request.body, dict) else {}
    named = {str(v) for v in (request.query.get("advertiser_id"), body.get("advertiser_id")) if v not in (None, "")}
    try:
        listed = json.loads(request.query.get("advertiser_ids", "[]"))
    except json.JSONDecodeError:
        listed = []
    return named | ({str(a) for a in listed} if isinstance(listed, list) else set())


# App-level QPS (reference/tiktok.md section 2): the Basic tier, every app's default, allows 10 calls a second.
DEFAULT_QPS_LIMIT = 10
QPS_LIMITED_PATHS = frozenset({"/report/integrated/get/"})

ACCESS_TOKEN_SECONDS = 86_400  # tt_user access token: 24 h
REFRESH_TOKEN_SECONDS = 31_536_000  # tt_user refresh token: 1 year, rotated on every refresh
AUTH_CODE_SECONDS = 600


@dataclass
class BusinessGrant:
    open_id: str
    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_at: float
    scope: str = "user.info.basic,message.list.read,message.list.send,message.list.manage"


@dataclass
class EmulatorState:
    app_id: str
    app_secret: str
    advertiser_tokens: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # advertiser id -> message event sets (absent: no CTX Events Management permission, 40001)
    event_sets: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    catalogue: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # advertiser id -> its ads, as /ad/get/ lists them
    advertiser_settings: dict[str, dict[str, str]] = field(default_factory=dict)  # advertiser id -> timezone, currency
    business_open_id: str = "-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"
    auth_codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # code -> (kind, expires_at)
    grants: dict[str, BusinessGrant] = field(default_factory=dict)  # by refresh token, the current one only
    deny_next_consent: bool = False
    clock_offset: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)  # ad accounts whose authorization was withdrawn: 40105
    qps_limit: int = DEFAULT_QPS_LIMIT  # 0: no limit
    qps_clock: Callable[[], float] = time.monotonic  # the QPS window's clock; tests pass their own
    qps_admitted: deque[float] = field(default_factory=deque)  # when the calls of the last second were let through
    calls: list[dict[str, Any]] = field(default_factory=list)
    events: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # TikTok's dedup key -> event
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def reset_controls(self) -> None:
        """Back to a well-behaved TikTok: no faults or revocations, the default QPS, consent given, the real clock."""
        with self.lock:
            self.faults.clear()
            self.revoked.clear()
            self.qps_limit = DEFAULT_QPS_LIMIT
            self.qps_admitted.clear()
            self.deny_next_consent = False
            self.clock_offset = 0.0

    def seed_advertisers(self, count: int, token: str) -> list[str]:
        """Bench advertisers 1..count behind token, each with its ads; seeding again with the same count changes nothing."""
        seeded = [bench_advertiser(index) for index in range(1, count + 1)]
        with self.lock:
            kept = [a for a in self.advertiser_tokens.get(token, []) if not is_bench_advertiser(a["advertiser_id"])]
            self.advertiser_tokens[token] = kept + [entry for entry, _, _ in seeded]
            for entry, settings, ads in seeded:
                self.advertiser_settings[entry["advertiser_id"]] = settings
                self.catalogue[entry["advertiser_id"]] = ads
        return [entry["advertiser_id"] for entry, _, _ in seeded]

    def issue_code(self, kind: str) -> str:
        code = "code-" + secrets.token_urlsafe(12)
        with self.lock:
            self.auth_codes[code] = (kind, self.now() + AUTH_CODE_SECONDS)
        return code

    def redeem_code(self, code: Any, kind: str) -> None:
        """Single use and 10 minutes, as TikTok's auth codes."""
        with self.lock:
            issued = self.auth_codes.pop(code, None) if isinstance(code, str) else None
        if issued is None or issued[0] != kind or issued[1] < self.now():
            raise ApiError(40110)

    def grant_business(self) -> BusinessGrant:
        now = self.now()
        grant = BusinessGrant(
            open_id=self.business_open_id,
            access_token="tt-act-" + secrets.token_urlsafe(12),
            access_expires_at=now + ACCESS_TOKEN_SECONDS,
            refresh_token="tt-rft-" + secrets.token_urlsafe(12),
            refresh_expires_at=now + REFRESH_TOKEN_SECONDS,
        )
        with self.lock:
            self.grants[grant.refresh_token] = grant
        return grant

    def admit(self, path: str) -> bool:
        """The app's QPS over a sliding second. A refused call does not count, so a client that
        keeps calling still gets `qps_limit` answers a second, as it would once past TikTok's limit."""
        if path not in QPS_LIMITED_PATHS:
            return True
        with self.lock:
            if self.qps_limit <= 0:
                return True
            now = self.qps_clock()
            while self.qps_admitted and self.qps_admitted[0] <= now - 1.0:
                self.qps_admitted.popleft()
            if len(self.qps_admitted) >= self.qps_limit:
                return False
            self.qps_admitted.append(now)
            return True

    def take_fault(self, path: str, advertisers: set[str]) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.applies_to(path, advertisers):
                    fault.times -= 1
                    return fault
        return None


Endpoint = Callable[[EmulatorState, ApiRequest], dict[str, Any]]


def _check_app(state: EmulatorState, app_id: str | None, secret: str | None) -> None:
    if app_id != state.app_id or secret != state.app_secret:
        raise ApiError(40113)


def advertiser_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """GET /oauth2/advertiser/get/?app_id=&secret= with Access-Token: the ad accounts the token reaches."""
    _check_app(state, request.query.get("app_id"), request.query.get("secret"))
    if not request.access_token:
        raise ApiError(40104)
    advertisers = state.advertiser_tokens.get(request.access_token)
    if advertisers is None:
        raise ApiError(40105)
    return {"list": advertisers}


def advertiser_access_token(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """POST /oauth2/access_token/ {app_id, secret, auth_code}: the long-term advertiser token."""
    _check_app(state, request.body.get("app_id"), request.body.get("secret"))
    state.redeem_code(request.body.get("auth_code"), "advertiser")
    token = next(iter(state.advertiser_tokens))
    advertiser_ids = [a["advertiser_id"] for a in state.advertiser_tokens[token]]
    return {"access_token": token, "scope": [4, 7, 12], "advertiser_ids": advertiser_ids}


def _business_token_data(grant: BusinessGrant, now: float) -> dict[str, Any]:
    return {
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "scope": grant.scope,
        "expires_in": int(grant.access_expires_at - now),
        "refresh_token": grant.refresh_token,
        "refresh_token_expires_in": int(grant.refresh_expires_at - now),
        "open_id": grant.open_id,
    }


def business_token(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """POST /tt_user/oauth2/token/ {client_id, client_secret, grant_type, auth_code, redirect_uri}."""
    _check_app(state, request.body.get("client_id"), request.body.get("client_secret"))
    if request.body.get("grant_type") != "authorization_code":
        raise ApiError(40002, "grant_type must be authorization_code.")
    state.redeem_code(request.body.get("auth_code"), "business")
    return _business_token_data(state.grant_business(), state.now())


def business_refresh(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """POST /tt_user/oauth2/refresh_token/: rotates both tokens; the old refresh token stops working."""
    _check_app(state, request.body.get("client_id"), request.body.get("client_secret"))
    with state.lock:
        grant = state.grants.pop(str(request.body.get("refresh_token")), None)
    if grant is None:
        raise ApiError(40107)
    if grant.refresh_expires_at < state.now():
        raise ApiError(40103)
    fresh = state.grant_business()
    fresh.refresh_expires_at = grant.refresh_expires_at  # the year runs from the first authorization
    return _business_token_data(fresh, state.now())


def message_event_sets(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """GET /ctm/message_event_set/get/?advertiser_id=: needs the CTX Events Management permission."""
    advertiser_id = request.query.get("advertiser_id", "")
    allowed = {a["advertiser_id"] for a in state.advertiser_tokens.get(request.access_token or "", [])}
    if not request.access_token:
        raise ApiError(40104)
    if advertiser_id not in allowed:
        raise ApiError(40106)
    if advertiser_id not in state.event_sets:
        raise ApiError(40001)
    return {"message_event_set_list": state.event_sets[advertiser_id]}


ADVERTISER_SETTINGS = {
    "7100000000000000001": {"timezone": "Europe/Lisbon", "currency": "EUR"},
    "7100000000000000002": {"timezone": "Europe/Berlin", "currency": "EUR"},
}
UNKNOWN_ADVERTISER_SETTINGS = {"timezone": "Etc/GMT", "currency": "EUR"}  # an ad account a test added by hand


def advertiser_info(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """GET /advertiser/info/?advertiser_ids=["..."]: names, time zones, currencies (the JSON array is a query string)."""
    if not request.access_token:
        raise ApiError(40104)
    reachable = {a["advertiser_id"]: a["advertiser_name"] for a in state.advertiser_tokens.get(request.access_token, [])}
    wanted = json.loads(request.query.get("advertiser_ids", "[]"))
    if not set(wanted) <= set(reachable):
        raise ApiError(40106)
    with state.lock:
        settings = {a: state.advertiser_settings.get(a, UNKNOWN_ADVERTISER_SETTINGS) for a in wanted}
    return {"list": [{"advertiser_id": a, "name": reachable[a], **settings[a]} for a in wanted]}


def _ad(
    ad_id: str,
    name: str,
    campaign: tuple[str, str],
    adgroup: tuple[str, str],
    advertiser_id: str = "7100000000000000001",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "advertiser_id": advertiser_id,
        "campaign_id": campaign[0],
        "campaign_name": campaign[1],
        "adgroup_id": adgroup[0],
        "adgroup_name": adgroup[1],
        "ad_id": ad_id,
        "ad_name": name,
        "identity_type": "BC_AUTH_TT",
        "identity_id": "identity-1",
        "display_name": "Demo Sneakers",
        "operation_status": "ENABLE",
        "secondary_status": "AD_STATUS_DELIVERY_OK",
        **extra,
    }


# The seeded catalogue: two DM ads, one WhatsApp Instant Messaging ad (its destination is the demo number), a deleted ad.
CATALOGUE = {
    "7100000000000000001": [
        _ad("1790000000000001", "Sneakers DM ad", ("1770000000000001", "Spring DM"), ("1780000000000001", "DM 18-34")),
        _ad("1790000000000002", "Boots DM ad", ("1770000000000001", "Spring DM"), ("1780000000000002", "DM 35+")),
        _ad(
            "1790000000000003",
            "Sneakers on WhatsApp",
            ("1770000000000002", "Spring WhatsApp"),
            ("1780000000000003", "WA Portugal"),
            phone_number="15550783881",
            destination="SOCIAL_MEDIA_APP",
        ),
        _ad(
            "1790000000000009",
            "Old winter ad",
            ("1770000000000003", "Winter"),
            ("1780000000000009", "All"),
            operation_status="DELETE",
        ),
    ]
}
# Bench advertisers (POST /_emulator/advertisers): ids "73" + 17 digits, so none meets a demo id or another's.
BENCH_ADVERTISER_PREFIX = "73"
BENCH_TOKEN = "bench-advertiser-token"  # noqa: S105 - the emulator's own, not a secret
BENCH_TIMEZONES = ("America/New_York", "Europe/London", "Asia/Singapore", "America/Los_Angeles", "Australia/Sydney")


def is_bench_advertiser(advertiser_id: str) -> bool:
    return len(advertiser_id) == 19 and advertiser_id.startswith(BENCH_ADVERTISER_PREFIX)


def bench_advertiser(index: int) -> tuple[dict[str, str], dict[str, str], list[dict[str, Any]]]:
    """Bench advertiser index (from 1): its token entry, settings and ads, the same on every call.

    One DM ad and one WhatsApp Instant Messaging ad, each in its own campaign and ad group (TikTok keeps
    the message destination on the campaign's objective, so the two never share one).
    """
    advertiser_id = f"{BENCH_ADVERTISER_PREFIX}{index:017d}"
    name = f"Bench advertiser {index}"
    ads = [
        _ad(
            f"1891{index:011d}1",
            f"Bench {index} DM ad",
            (f"1871{index:011d}1", f"Bench {index} DM"),
            (f"1881{index:011d}1", f"Bench {index} DM all"),
            advertiser_id,
            identity_id=f"identity-bench-{index}",
            display_name=name,
        ),
        _ad(
            f"1891{index:011d}2",
            f"Bench {index} WhatsApp ad",
            (f"1871{index:011d}2", f"Bench {index} WhatsApp"),
            (f"1881{index:011d}2", f"Bench {index} WhatsApp all"),
            advertiser_id,
            identity_id=f"identity-bench-{index}",
            display_name=name,
            phone_number=f"15551{index:06d}",  # 1555 0783881 is the demo's number
            destination="SOCIAL_MEDIA_APP",
        ),
    ]
    settings = {"timezone": BENCH_TIMEZONES[(index - 1) % len(BENCH_TIMEZONES)], "currency": "USD"}
    return {"advertiser_id": advertiser_id, "advertiser_name": name}, settings, ads


SMART_PLUS = {
    "7100000000000000001": [
        {
            "advertiser_id": "7100000000000000001",
            "smart_plus_ad_id": "1810000000000001",
            "ad_name": "Smart+ Sneakers",
            "campaign_id": "1770000000000004",
            "campaign_name": "Smart+ Spring",
            "adgroup_id": "1780000000000004",
            "adgroup_name": "Smart+ auto",
            "creative_list": [{"ad_id": "1800000000000009", "message_material_id": "mm-42"}],
        }
    ]
}


def _check_token(state: EmulatorState, request: ApiRequest) -> str:
    advertiser_id = request.query.get("advertiser_id") or str(request.body.get("advertiser_id", ""))
    if not request.access_token:
        raise ApiError(40104)
    reachable = {a["advertiser_id"] for a in state.advertiser_tokens.get(request.access_token, [])}
    if not reachable:
        raise ApiError(40105)
    if advertiser_id not in reachable:
        raise ApiError(40106)
    return advertiser_id


def ad_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """GET /ad/get/?advertiser_id=&filtering={"ad_ids": [...], "primary_status": ...} (JSON in the query)."""
    advertiser_id = _check_token(state, request)
    filtering = json.loads(request.query.get("filtering", "{}"))
    ad_ids = filtering.get("ad_ids")
    if ad_ids is not None and len(ad_ids) > 100:
        raise ApiError(40011, "Too many ad_ids: at most 100.")
    with state.lock:
        ads = list(state.catalogue.get(advertiser_id, []))
    if ad_ids is not None:
        ads = [a for a in ads if a["ad_id"] in ad_ids]
    if filtering.get("primary_status", "STATUS_NOT_DELETE") != "STATUS_ALL":
        ads = [a for a in ads if a["operation_status"] != "DELETE"]
    if filtering.get("destination"):
        ads = [a for a in ads if a.get("destination") == filtering["destination"]]
    return {"list": ads, "page_info": {"page": 1, "page_size": len(ads), "total_number": len(ads), "total_page": 1}}


def smart_plus_ad_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    advertiser_id = _check_token(state, request)
    ads = SMART_PLUS.get(advertiser_id, [])
    return {"list": ads, "page_info": {"page": 1, "page_size": len(ads), "total_number": len(ads), "total_page": 1}}


def ads_preview(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    _check_token(state, request)
    ad_id = str(request.body.get("ad_id", ""))
    with state.lock:
        known = any(a["ad_id"] == ad_id for ads in state.catalogue.values() for a in ads)
    if request.body.get("preview_type") != "AD" or not known:
        raise ApiError(40007, "The ad does not exist.")
    return {
        "preview_link": f"https://ads.tiktok.com/preview/{ad_id}",
        "iframe": f"<iframe src='https://ads.tiktok.com/embed/{ad_id}'></iframe>",
    }


# Events API 2.0 (reference/tiktok.md 5a, 5b), written here again on purpose: the emulator checks
# what the backend sends against its own reading of TikTok's rules, not against the backend's.
EVENT_SOURCES = ("web", "app", "offline", "crm")
TIKTOK_STANDARD_EVENTS = frozenset(
    {
        "AddPaymentInfo",
        "AddToCart",
        "AddToWishlist",
        "ApplicationApproval",
        "CompleteRegistration",
        "Contact",
        "CustomizeProduct",
        "Download",
        "FindLocation",
        "InitiateCheckout",
        "Lead",
        "Purchase",
        "Schedule",
        "Search",
        "StartTrial",
        "SubmitApplication",
        "Subscribe",
        "ViewContent",
    }
)
HASHED_USER_FIELDS = ("email", "phone", "external_id")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _invalid(where: str, why: str) -> ApiError:
    return ApiError(40002, f"Invalid parameter {where}: {why}")


def _check_event(index: int, event: Any) -> None:
    where = f"data[{index}]"
    if not isinstance(event, dict):
        raise _invalid(where, "must be an object")
    if event.get("event") not in TIKTOK_STANDARD_EVENTS:
        raise _invalid(f"{where}.event", f"{event.get('event')!r} is not a supported event")
    if not isinstance(event.get("event_time"), int) or not 1_262_304_000 <= event["event_time"] <= time.time() + 86_400:
        raise _invalid(f"{where}.event_time", "must be unix seconds")
    if not isinstance(event.get("event_id"), str) or not event["event_id"]:
        raise _invalid(f"{where}.event_id", "is required")
    user = event.get("user", {})
    if not isinstance(user, dict):
        raise _invalid(f"{where}.user", "must be an object")
    for name in HASHED_USER_FIELDS:
        values = user.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and SHA256_HEX.fullmatch(v) for v in values):
            raise _invalid(f"{where}.user.{name}", "must be a list of SHA-256 hex digests")
    if not isinstance(event.get("properties", {}), dict):
        raise _invalid(f"{where}.properties", "must be an object")


def event_track(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """POST /event/track/ {event_source, event_source_id, data: [...]}: the whole request is refused on any error."""
    if not request.access_token:
        raise ApiError(40104)
    reachable = {a["advertiser_id"] for a in state.advertiser_tokens.get(request.access_token, [])}
    if not reachable:
        raise ApiError(40105)
    body = request.body
    if body.get("event_source") not in EVENT_SOURCES:
        raise _invalid("event_source", f"must be one of {', '.join(EVENT_SOURCES)}")
    set_id = body.get("event_source_id")
    owned = {s["message_event_set_id"] for a in reachable for s in state.event_sets.get(a, [])}
    if set_id not in owned:
        raise ApiError(40001, "No permission to operate this event set.")
    data = body.get("data")
    if not isinstance(data, list) or not 1 <= len(data) <= 1000:
        raise _invalid("data", "must hold 1 to 1000 events")
    for index, event in enumerate(data):
        _check_event(index, event)
    with state.lock:
        for event in data:
            state.events.setdefault(
                (str(set_id), event["event_id"], event["event"]),
                {**event, "event_source": body["event_source"], "event_source_id": set_id},
            )
    return {}


# Reporting (reference/tiktok.md section 4): the synchronous BASIC report at ad level, what a report rollup reads.
REPORT_METRICS = (
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "ctr",
    "cpc",
    "cpm",
    "messaging_total_conversation_tiktok_direct_message",
    "messaging_total_conversation_instant_messaging_app",
    "ad_name",
    "campaign_id",
    "campaign_name",
    "adgroup_id",
    "adgroup_name",
)
REPORT_DEFAULT_METRICS = ["spend", "impressions"]  # TikTok's default for BASIC
REPORT_ATTRIBUTES = ("ad_name", "campaign_id", "campaign_name", "adgroup_id", "adgroup_name")
REPORT_MAX_DAYS = 30  # with stat_time_day; without a time dimension TikTok allows 365
REPORT_MAX_DAYS_WITHOUT_TIME = 365
REPORT_MAX_PAGE_SIZE = 1000
AD_STATUS_VALUES = frozenset({"STATUS_ALL", "STATUS_NOT_DELETE"})
# Ads that never delivered: their rows are all zeros, so a caller meets zero denominators (ctr, cpc, cpm, cost per lead).
IDLE_ADS = frozenset({("7100000000000000001", "1790000000000009")})
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CENT = Decimal("0.01")


def _delivery(advertiser_id: str, ad_id: str, day: str) -> tuple[int, int, int, int, int]:
    """(spend in cents, impressions, clicks, conversion, conversations); report_numbers says how."""
    if (advertiser_id, ad_id) in IDLE_ADS:
        return 0, 0, 0, 0, 0
    digest = hashlib.sha256(f"{advertiser_id}:{ad_id}:{day}".encode()).digest()
    w = [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 20, 4)]
    impressions = 500 + w[1] % 19_501
    clicks = 1 + w[2] % (impressions // 20)
    conversations = w[3] % (clicks // 3 + 2)
    return 300 + w[0] % 9_700, impressions, clicks, w[4] % (conversations + 1), conversations


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def report_numbers(advertiser_id: str, ad_id: str, day: str) -> dict[str, str]:
    """What one ad delivered on one day ("YYYY-MM-DD"), the same on every run, so that a test or a
    benchmark can work out what /report/integrated/get/ answers without asking it.

    With w0..w4 the first five 4-byte big-endian words of sha256(f"{advertiser_id}:{ad_id}:{day}"):
      spend          300 + w0 % 9700 cents, "3.00" to "99.99"
      impressions    500 + w1 % 19501
      clicks         1 + w2 % (impressions // 20), under 5 % of the impressions
      conversations  w3 % (clicks // 3 + 2), at most the clicks
      conversion     w4 % (conversations + 1)
    An ad in IDLE_ADS (the deleted demo ad) delivered nothing: "0.00" and "0"s.

    The report counts `conversations` (not a TikTok metric name) under
    messaging_total_conversation_instant_messaging_app for an ad whose destination is SOCIAL_MEDIA_APP
    and under messaging_total_conversation_tiktok_direct_message for any other ad, the other one "0".
    It derives ctr (percent), cpc and cpm from the sums of spend, impressions and clicks, rounded half
    up to 2 decimals, "0.00" when the denominator is 0.
    """
    spend, impressions, clicks, conversion, conversations = _delivery(advertiser_id, ad_id, day)
    return {
        "spend": _money(spend),
        "impressions": str(impressions),
        "clicks": str(clicks),
        "conversion": str(conversion),
        "conversations": str(conversations),
    }


def _ratios(spend_cents: int, impressions: int, clicks: int) -> dict[str, str]:
    def ratio(numerator: Decimal, denominator: int) -> str:
        return str((numerator / denominator).quantize(CENT, ROUND_HALF_UP)) if denominator else "0.00"

    spend = Decimal(spend_cents) / 100
    return {
        "ctr": ratio(Decimal(clicks) * 100, impressions),  # in percent, as TikTok answers it
        "cpc": ratio(spend, clicks),
        "cpm": ratio(spend * 1000, impressions),
    }


@dataclass
class ReportQuery:
    by_day: bool  # dimensions ["ad_id", "stat_time_day"]; otherwise one row per ad over the range
    metrics: list[str]
    start: date
    end: date
    page: int
    page_size: int
    with_deleted: bool  # filtering ad_status IN ["STATUS_ALL"]


def _json_parameter(query: dict[str, str], name: str, default: Any) -> Any:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise _invalid(name, "must be JSON-encoded in the query string") from None


def _int_parameter(query: dict[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d+", raw) or int(raw) < low or (high is not None and int(raw) > high):
        raise _invalid(name, f"must be an integer from {low} to {high}" if high is not None else f"must be an integer >= {low}")
    return int(raw)


def _date_parameter(query: dict[str, str], name: str) -> date:
    raw = query.get(name)
    if raw is None:
        raise _invalid(name, "is required, YYYY-MM-DD")
    try:
        if ISO_DATE.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise _invalid(name, f"{raw!r} is not a date YYYY-MM-DD")


def _with_deleted(query: dict[str, str]) -> bool:
    """filtering: only ad_status IN [...] is served; STATUS_ALL brings the deleted ads back."""
    filters = _json_parameter(query, "filtering", [])
    if not isinstance(filters, list):
        raise _invalid("filtering", "must be a JSON array of {field_name, filter_type, filter_value}")
    with_deleted = False
    for index, condition in enumerate(filters):
        where = f"filtering[{index}]"
        if not isinstance(condition, dict):
            raise _invalid(where, "must be an object {field_name, filter_type, filter_value}")
        if condition.get("field_name") != "ad_status":
            raise _invalid(f"{where}.field_name", f"{condition.get('field_name')!r} is not supported, only ad_status")
        if condition.get("filter_type") != "IN":
            raise _invalid(f"{where}.filter_type", "must be IN for ad_status")
        raw = condition.get("filter_value")
        try:
            values = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            values = None
        if not isinstance(values, list) or not values or not all(v in AD_STATUS_VALUES for v in values):
            raise _invalid(
                f"{where}.filter_value",
                'must be a string holding a JSON array of STATUS_ALL or STATUS_NOT_DELETE, such as "[\\"STATUS_ALL\\"]"',
            )
        with_deleted = with_deleted or "STATUS_ALL" in values
    return with_deleted


def _report_query(query: dict[str, str]) -> ReportQuery:
    """The parameters TikTok would accept for the ad-level BASIC report; 40002 naming the first wrong one."""
    if query.get("report_type") != "BASIC":
        raise _invalid("report_type", "is required and only BASIC is served")
    if query.get("service_type", "AUCTION") != "AUCTION":
        raise _invalid("service_type", "only AUCTION is served")
    if query.get("data_level") != "AUCTION_AD":
        raise _invalid("data_level", "is required for BASIC and only AUCTION_AD is served")
    dimensions = _json_parameter(query, "dimensions", None)
    if not isinstance(dimensions, list) or sorted(map(str, dimensions)) not in (["ad_id", "stat_time_day"], ["ad_id"]):
        raise _invalid("dimensions", 'is required, ["ad_id", "stat_time_day"] or ["ad_id"]')
    metrics = _json_parameter(query, "metrics", REPORT_DEFAULT_METRICS)
    if not isinstance(metrics, list) or not metrics:
        raise _invalid("metrics", "must be a non-empty JSON array")
    unknown = [m for m in metrics if m not in REPORT_METRICS]
    if unknown:
        raise _invalid("metrics", f"{unknown[0]!r} is not one of {', '.join(REPORT_METRICS)}")
    start, end = _date_parameter(query, "start_date"), _date_parameter(query, "end_date")
    if end < start:
        raise _invalid("end_date", "must not be before start_date")
    by_day = "stat_time_day" in dimensions
    longest = REPORT_MAX_DAYS if by_day else REPORT_MAX_DAYS_WITHOUT_TIME
    if (end - start).days + 1 > longest:
        raise _invalid(
            "end_date",
            f"start_date to end_date spans {(end - start).days + 1} days; at most {longest} (inclusive)"
            + (" with stat_time_day" if by_day else " without a time dimension"),
        )
    return ReportQuery(
        by_day=by_day,
        metrics=list(dict.fromkeys(metrics)),
        start=start,
        end=end,
        page=_int_parameter(query, "page", 1, 1),
        page_size=_int_parameter(query, "page_size", 10, 1, REPORT_MAX_PAGE_SIZE),
        with_deleted=_with_deleted(query),
    )


def _report_row(advertiser_id: str, ad: dict[str, Any], days: list[date], report: ReportQuery) -> dict[str, Any]:
    deliveries = [_delivery(advertiser_id, ad["ad_id"], day.isoformat()) for day in days]
    spend, impressions, clicks, conversion, conversations = (sum(column) for column in zip(*deliveries, strict=True))
    instant_messaging = ad.get("destination") == "SOCIAL_MEDIA_APP"
    values = {
        "spend": _money(spend),
        "impressions": str(impressions),
        "clicks": str(clicks),
        "conversion": str(conversion),
        **_ratios(spend, impressions, clicks),
        "messaging_total_conversation_tiktok_direct_message": "0" if instant_messaging else str(conversations),
        "messaging_total_conversation_instant_messaging_app": str(conversations) if instant_messaging else "0",
        **{name: str(ad.get(name, "")) for name in REPORT_ATTRIBUTES},
    }
    dimensions = {"ad_id": ad["ad_id"]}
    if report.by_day:
        dimensions["stat_time_day"] = f"{days[0].isoformat()} 00:00:00"
    return {"dimensions": dimensions, "metrics": {name: values[name] for name in report.metrics}}


def report_integrated_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """GET /report/integrated/get/?advertiser_id=&report_type=BASIC&data_level=AUCTION_AD&dimensions=[...]&...

    Every ad has numbers (report_numbers) on every day of the range up to the emulator's today in UTC;
    later days have no rows yet. Rows go day by day, ads in id order within a day. Deleted ads are left
    out unless filtering asks ad_status IN ["STATUS_ALL"], as TikTok's AUCTION_AD does.
    """
    advertiser_id = _check_token(state, request)
    report = _report_query(request.query)
    with state.lock:
        ads = [a for a in state.catalogue.get(advertiser_id, []) if report.with_deleted or a.get("operation_status") != "DELETE"]
    ads.sort(key=lambda a: (len(a["ad_id"]), a["ad_id"]))
    today = datetime.fromtimestamp(state.now(), UTC).date()
    days = [report.start + timedelta(days=n) for n in range((min(report.end, today) - report.start).days + 1)]
    # a row per day and ad, or per ad over the range (none while the whole range is still to come)
    keys = [(ad, [day]) for day in days for ad in ads] if report.by_day else [(ad, days) for ad in ads if days]
    first = (report.page - 1) * report.page_size
    rows = [_report_row(advertiser_id, ad, ad_days, report) for ad, ad_days in keys[first : first + report.page_size]]
    total_page = -(-len(keys) // report.page_size)
    return {
        "list": rows,
        "page_info": {"page": report.page, "page_size": report.page_size, "total_number": len(keys), "total_page": total_page},
    }


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/report/integrated/get/"): report_integrated_get,
    ("POST", "/event/track/"): event_track,
    ("GET", "/ad/get/"): ad_get,
    ("GET", "/smart_plus/ad/get/"): smart_plus_ad_get,
    ("POST", "/creative/ads_preview/create/"): ads_preview,
    ("GET", "/advertiser/info/"): advertiser_info,
    ("GET", "/oauth2/advertiser/get/"): advertiser_get,
    ("POST", "/oauth2/access_token/"): advertiser_access_token,
    ("POST", "/tt_user/oauth2/token/"): business_token,
    ("POST", "/tt_user/oauth2/refresh_token/"): business_refresh,
    ("GET", "/ctm/message_event_set/get/"): message_event_sets,
}


def answer_api_call(state: EmulatorState, request: ApiRequest) -> tuple[int, str, dict[str, Any]]:
    """(code, message, data) for a call to a known endpoint, recorded with its code in state.calls.

    In TikTok's order as far as it shows: the app's QPS first, then injected faults, then a
    withdrawn authorization, then the endpoint's own checks.
    """
    record: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "at": time.time(),
        "query": request.query,
        "body": request.body,
        "code": None,  # until answered (a delay fault holds it)
    }
    with state.lock:
        state.calls.append(record)
    code, message, data = _answer(state, request)
    with state.lock:
        record["code"] = code
    return code, message, data


def _answer(state: EmulatorState, request: ApiRequest) -> tuple[int, str, dict[str, Any]]:
    if not state.admit(request.path):
        return 40100, ERROR_MESSAGES[40100], {}
    advertisers = named_advertisers(request)
    fault = state.take_fault(request.path, advertisers)
    if fault is not None:
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.code is not None:
            return fault.code, ERROR_MESSAGES.get(fault.code, "Injected fault."), {}
    with state.lock:
        revoked = sorted(advertisers & state.revoked)
    if revoked:
        return 40105, f"The authorization for advertiser {revoked[0]} was withdrawn: access token revoked.", {}
    try:
        return 0, "OK", ENDPOINTS[(request.method, request.path)](state, request)
    except ApiError as error:
        return error.code, error.message, {}


def authorize_redirect(state: EmulatorState, path: str, query: dict[str, str]) -> tuple[int, str]:
    """The consent page, answered at once: (status, Location or error text)."""
    kind = "advertiser" if path == "/portal/auth" else "business"
    app_id = query.get("app_id") if kind == "advertiser" else query.get("client_key")
    redirect_uri = query.get("redirect_uri")
    if app_id != state.app_id or not redirect_uri:
        return 400, "Unknown app or missing redirect_uri."
    answer = {"state": query.get("state", "")}
    with state.lock:
        denied, state.deny_next_consent = state.deny_next_consent, False
    if denied:
        answer.update(error="access_denied", error_description="The user did not authorize the app.")
    else:
        answer["auth_code" if kind == "advertiser" else "code"] = state.issue_code(kind)
    return 302, f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(answer)}"


def parameter_overrides(base_url: str) -> dict[str, str]:
    """Template parameters that point the backend at this emulator instead of TikTok."""
    return {
        "TikTokApiBaseUrl": f"{base_url}{API_PREFIX}/",
        "TikTokAdvertiserAuthUrl": f"{base_url}/portal/auth",
        "TikTokBusinessAuthUrl": f"{base_url}/v2/auth/authorize",
    }


def default_state(app_id: str, app_secret: str) -> EmulatorState:
    """A seeded catalogue the demo and tests share."""
    return EmulatorState(
        app_id=app_id,
        app_secret=app_secret,
        advertiser_tokens={
            "local-advertiser-token": [
                {"advertiser_id": "7100000000000000001", "advertiser_name": "Demo Sneakers"},
                {"advertiser_id": "7100000000000000002", "advertiser_name": "Demo Sneakers EU"},
            ]
        },
        event_sets={"7100000000000000001": [{"message_event_set_id": "7200000000000000001", "name": "Sneakers WhatsApp"}]},
        catalogue=copy.deepcopy(CATALOGUE),
        advertiser_settings=copy.deepcopy(ADVERTISER_SETTINGS),
    )


def make_server(host: str, port: int, state: EmulatorState) -> ThreadingHTTPServer:
    class EmulatorHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if split.path.startswith("/_emulator/"):
                self._control(split.path, raw)
                return
            if split.path in ("/portal/auth", "/v2/auth/authorize") and self.command == "GET":
                status, where = authorize_redirect(state, split.path, dict(parse_qsl(split.query)))
                if status == 302:
                    self.send_response(302)
                    self.send_header("location", where)
                    self.send_header("content-length", "0")
                    self.end_headers()
                else:
                    self._send_text(status, where)
                return
            if not split.path.startswith(API_PREFIX + "/") or not split.path.endswith("/"):
                self._send_text(404, "404 page not found")
                return
            path = split.path[len(API_PREFIX) :]
            if (self.command, path) not in ENDPOINTS:
                self._send_text(404, "404 page not found")
                return
            try:
                body = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                self._envelope(40002, "Request body is not valid JSON.", {})
                return
            request = ApiRequest(self.command, path, dict(parse_qsl(split.query)), body, self.headers.get("Access-Token"))
            self._envelope(*answer_api_call(state, request))

        def _control(self, path: str, raw: bytes) -> None:
            if path == "/_emulator/faults" and self.command == "POST":
                spec = json.loads(raw or b"{}")
                fault = Fault(
                    spec.get("code"),
                    int(spec.get("times", 1)),
                    spec.get("path"),
                    int(spec.get("delay_ms", 0)),
                    str(spec["advertiser_id"]) if spec.get("advertiser_id") else None,
                )
                with state.lock:
                    state.faults.append(fault)
                self._send_json(200, {"faults": len(state.faults)})
            elif path == "/_emulator/faults" and self.command == "DELETE":
                with state.lock:
                    state.faults.clear()
                self._send_json(200, {"faults": 0})
            elif path == "/_emulator/consent" and self.command == "POST":
                with state.lock:
                    state.deny_next_consent = bool(json.loads(raw or b"{}").get("deny"))
                self._send_json(200, {"deny_next_consent": state.deny_next_consent})
            elif path == "/_emulator/clock" and self.command == "POST":
                with state.lock:
                    state.clock_offset = float(json.loads(raw or b"{}").get("offset_seconds", 0))
                self._send_json(200, {"offset_seconds": state.clock_offset})
            elif path == "/_emulator/advertisers" and self.command == "POST":
                spec = json.loads(raw or b"{}")
                count, token = spec.get("count"), spec.get("token", BENCH_TOKEN)
                if not isinstance(count, int) or count < 0 or not isinstance(token, str) or not token:
                    self._send_json(400, {"message": 'The body must be {"count": N (0 or more), "token": "..."}.'})
                    return
                self._send_json(200, {"advertiser_ids": state.seed_advertisers(count, token)})
            elif path == "/_emulator/revoke" and self.command == "POST":
                advertiser_id = json.loads(raw or b"{}").get("advertiser_id")
                if not advertiser_id:
                    self._send_json(400, {"message": 'The body must be {"advertiser_id": "..."}.'})
                    return
                with state.lock:
                    state.revoked.add(str(advertiser_id))
                    revoked = sorted(state.revoked)
                self._send_json(200, {"revoked": revoked})
            elif path == "/_emulator/qps" and self.command == "POST":
                limit = json.loads(raw or b"{}").get("limit", DEFAULT_QPS_LIMIT)
                if not isinstance(limit, int) or limit < 0:
                    self._send_json(400, {"message": 'The body must be {"limit": N}, 0 for no limit.'})
                    return
                with state.lock:
                    state.qps_limit = limit
                    state.qps_admitted.clear()
                self._send_json(200, {"limit": limit})
            elif path == "/_emulator/calls" and self.command == "GET":
                with state.lock:
                    calls = list(state.calls)
                self._send_json(200, {"calls": calls})
            elif path == "/_emulator/events" and self.command == "GET":
                with state.lock:
                    accepted = list(state.events.values())
                self._send_json(200, {"events": accepted})
            else:
                self._send_json(404, {"message": "Unknown emulator control path"})

        def _envelope(self, code: int, message: str, data: dict[str, Any]) -> None:
            request_id = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:16]
            self._send_json(200, {"code": code, "message": message, "request_id": request_id, "data": data})

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(payload).encode())

        def _send_text(self, status: int, text: str) -> None:
            self._send(status, "text/plain; charset=utf-8", text.encode())

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer((host, port), EmulatorHandler)
    server.daemon_threads = True
    return server
