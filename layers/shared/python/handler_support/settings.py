"""Resource names and knobs, read from the environment template.yaml gives every function (handlers only)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    account_links_table: str
    conversations_table: str
    ad_lookups_table: str
    reports_table: str
    inbound_queue_url: str
    signal_queue_url: str
    parked_queue_url: str
    parked_payloads_bucket: str  # WebhookFunction's only: parked payloads larger than ParkedQueue takes
    rollup_queue_url: str
    domain_bus_name: str
    token_key_id: str
    tiktok_app_id: str
    tiktok_api_base_url: str
    tiktok_advertiser_auth_url: str
    tiktok_business_auth_url: str
    oauth_redirect_url: str  # empty: the API's execute-api address (handler_support/addresses.py)
    tracking_id_patterns: tuple[str, ...]  # empty: the documented default
    signal_event_source: str
    config_cache_seconds: int  # how long routes and keyword lists are remembered per container
    signal_events: dict[str, str]  # signal -> TikTok event; "*" for any other keyword signal
    meta_app_secret_id: str
    meta_verify_token_id: str
    tiktok_app_secret_id: str
    message_marker_ttl_days: int
    tiktok_signature_tolerance_seconds: int
    tiktok_qps_tier: int  # the app's TikTok QPS (Basic 10): report rollups pace themselves within it
    rollup_max_concurrency: int  # RollupQueue's event source maximum concurrency
    inbound_dlq_url: str  # AttributionFunction's only: where a record failing its last receive goes, with its reason
    inbound_max_receive_count: int  # InboundQueue's maxReceiveCount (0 outside AttributionFunction)

    @classmethod
    def from_environment(cls) -> Settings:
        env = os.environ
        return cls(
            account_links_table=env["ACCOUNT_LINKS_TABLE"],
            conversations_table=env["CONVERSATIONS_TABLE"],
            ad_lookups_table=env["AD_LOOKUPS_TABLE"],
            reports_table=env["REPORTS_TABLE"],
            inbound_queue_url=env["INBOUND_QUEUE_URL"],
            signal_queue_url=env["SIGNAL_QUEUE_URL"],
            parked_queue_url=env["PARKED_QUEUE_URL"],
            parked_payloads_bucket=env.get("PARKED_PAYLOADS_BUCKET", ""),
            rollup_queue_url=env["ROLLUP_QUEUE_URL"],
            domain_bus_name=env["DOMAIN_BUS_NAME"],
            token_key_id=env["TOKEN_KEY_ID"],
            tiktok_app_id=env["TIKTOK_APP_ID"],
            tiktok_api_base_url=env["TIKTOK_API_BASE_URL"],
            tiktok_advertiser_auth_url=env["TIKTOK_ADVERTISER_AUTH_URL"],
            tiktok_business_auth_url=env["TIKTOK_BUSINESS_AUTH_URL"],
            oauth_redirect_url=env.get("OAUTH_REDIRECT_URL", ""),
            tracking_id_patterns=tuple(json.loads(env.get("TRACKING_ID_PATTERNS") or "[]")),
            signal_event_source=env.get("SIGNAL_EVENT_SOURCE") or "crm",
            config_cache_seconds=int(env.get("CONFIG_CACHE_SECONDS") or "60"),
            signal_events=signal_events(env.get("SIGNAL_EVENTS") or ""),
            meta_app_secret_id=env["META_APP_SECRET_ID"],
            meta_verify_token_id=env["META_VERIFY_TOKEN_ID"],
            tiktok_app_secret_id=env["TIKTOK_APP_SECRET_ID"],
            message_marker_ttl_days=int(env.get("MESSAGE_MARKER_TTL_DAYS", "30")),
            tiktok_signature_tolerance_seconds=int(env.get("TIKTOK_SIGNATURE_TOLERANCE_SECONDS", "300")),
            tiktok_qps_tier=int(env.get("TIKTOK_QPS_TIER", "10")),
            rollup_max_concurrency=int(env.get("ROLLUP_MAX_CONCURRENCY", "8")),
            inbound_dlq_url=env.get("INBOUND_DLQ_URL", ""),
            inbound_max_receive_count=int(env.get("INBOUND_MAX_RECEIVE_COUNT") or "0"),
        )


DEFAULT_SIGNAL_EVENTS = {"conversation": "Contact", "payment": "AddPaymentInfo", "*": "Lead"}


def signal_events(configured: str) -> dict[str, str]:
    """The SignalEvents parameter: the defaults, overridden by the configured entries."""
    events = dict(DEFAULT_SIGNAL_EVENTS)
    events.update(json.loads(configured) if configured else {})
    return events


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_environment()
