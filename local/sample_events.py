"""The events/ samples (`sam local invoke -e events/<name>.json`), generated from the scenario builders.

`python -m local samples` rewrites events/; a test checks the folder matches this module, so
samples never drift from the payload shapes the tests use. Signed with the local secrets.
TikTok samples are signed at SAMPLE_TIME, far in the past: invoke them with a large
TIKTOK_SIGNATURE_TOLERANCE_SECONDS, or they are refused as stale (which is the point of the check).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from messaging_partner.domain.attribution import first_touch
from messaging_partner.domain.connections import LINK_TTL_SECONDS, connect_link, connect_link_key
from messaging_partner.domain.domain_events import ConversationAttributed, MessageReceived, OutcomeReported
from messaging_partner.domain.models import Channel, ConnectionKind, InboundMessage, MessageKind

from .apigw import Router, build_v2_event
from .provision import LOCAL_SECRET_DEFAULTS
from .scenario import (
    DEMO_INSTAGRAM_ID,
    DEMO_PAGE_ID,
    DEMO_PHONE_NUMBER_ID,
    DEMO_TIKTOK_BUSINESS_ID,
    WhatsAppChange,
    WhatsAppMessage,
    click_to_messenger_referral,
    messaging_echo,
    messaging_message,
    messaging_read,
    messaging_referral,
    messaging_unsend,
    meta_ad_referral,
    meta_messaging_body,
    signed_meta,
    signed_tiktok,
    tiktok_ad_referral_content,
    tiktok_body,
    tiktok_ping_body,
    tiktok_reaction_content,
    tiktok_short_link_content,
    tiktok_text_content,
    whatsapp_body,
)
from .stack import scheduled_event
from .template import ROOT, HttpRoute, Template

EVENTS_DIR = ROOT / "events"
SAMPLE_TIME = 1_763_800_000  # 2025-11-22T08:26:40Z
SAMPLE_KEYWORDS = [
    {"keyword": "how much", "signal": "price"},
    {"keyword": "付款", "signal": "payment"},
    {"keyword": "precio", "signal": "price", "accent_insensitive": True},
]
META_SECRET = LOCAL_SECRET_DEFAULTS["META_APP_SECRET"]
TIKTOK_SECRET = LOCAL_SECRET_DEFAULTS["TIKTOK_APP_SECRET"]


def http_event(
    method: str, route_path: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An HTTP API v2 event as API Gateway builds it, with fixed ids and times."""
    all_headers = {
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "sample",
        "x-forwarded-proto": "https",
        **(headers or {}),
    }
    route = HttpRoute("", "ANY" if "{proxy+}" in route_path else method, route_path, False)
    matched = Router([route]).match(method, target.split("?", 1)[0])
    assert matched is not None, f"{target} does not match {route_path}"
    _, parameters = matched
    event = build_v2_event(route, parameters, method, target, all_headers, body, "203.0.113.10")
    event["requestContext"].update(
        apiId="abc123", requestId="sample-request-id", timeEpoch=SAMPLE_TIME * 1000, time="22/Nov/2025:08:26:40 +0000"
    )
    return event


def sample_link(kind: ConnectionKind) -> str:
    """A connect link signed with the local stack's TikTok app secret, valid until 2100 so the sample keeps working."""
    until_2100 = 4_102_444_800
    key = connect_link_key(TIKTOK_SECRET)
    link = connect_link(kind, "acme", f"https://x/oauth/tiktok/{kind.value}/start", key, until_2100 - LINK_TTL_SECONDS)
    return "/" + link.url.split("/", 3)[3]


def webhook(channel: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return http_event("POST", "/webhooks/{channel}", f"/webhooks/{channel}", body, headers)


def meta_delivery(channel: str, body: bytes) -> dict[str, Any]:
    return webhook(channel, body, signed_meta("", body, META_SECRET, channel).headers)


def tiktok_delivery(body: bytes) -> dict[str, Any]:
    return webhook("tiktok", body, signed_tiktok("", body, TIKTOK_SECRET, SAMPLE_TIME).headers)


def sqs_record(index: int, body: str, queue: str, group: str | None = None) -> dict[str, Any]:
    """A record as Lambda's SQS poller delivers it: every attribute SQS always sends, the body's MD5."""
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": str(SAMPLE_TIME * 1000),
        "SenderId": "AROAEXAMPLE:WebhookFunction",
        "ApproximateFirstReceiveTimestamp": str(SAMPLE_TIME * 1000 + 20),
    }
    if group is not None:
        attributes.update(
            MessageGroupId=group, MessageDeduplicationId=f"sample-{index}", SequenceNumber=f"1880000000000000000{index}"
        )
    return {
        "messageId": f"0a1b2c3d-0000-4000-8000-00000000000{index}",
        "receiptHandle": f"AQEB-sample-{index}",
        "body": body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum, not security
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1",
    }


def sample_events() -> dict[str, dict[str, Any]]:
    ms = SAMPLE_TIME * 1000
    wa, page, ig, tt = DEMO_PHONE_NUMBER_ID, DEMO_PAGE_ID, DEMO_INSTAGRAM_ID, DEMO_TIKTOK_BUSINESS_ID
    ana = WhatsAppMessage("351910000001", "wamid.SAMPLE1", SAMPLE_TIME, "Hi! Do you ship sneakers to Lisbon?", name="Ana")
    chloe = WhatsAppMessage(
        "33612000003", "wamid.SAMPLE3", SAMPLE_TIME, "Hello, I saw your ad", referral=meta_ad_referral("120226305854810726")
    )
    status = {"id": "wamid.OUT1", "status": "delivered", "timestamp": str(SAMPLE_TIME), "recipient_id": "351910000001"}
    ana_reacts = WhatsAppMessage(
        "351910000001", "wamid.SAMPLE4", SAMPLE_TIME, kind="reaction", content={"message_id": "wamid.OUT1", "emoji": "\U0001f44d"}
    )
    new_text = {"type": "text", "text": {"body": "Hi! Do you ship sneakers to Porto?"}}
    ana_edits = WhatsAppMessage(
        "351910000001",
        "wamid.SAMPLE5",
        SAMPLE_TIME,
        kind="edit",
        content={"original_message_id": "wamid.SAMPLE1", "message": new_text},
    )
    ad = {
        "advertiser_id": "7100000000000000001",
        "ad_id": "1790000000000001",
        "ad_name": "Sneakers DM ad",
        "embed_url": "https://www.tiktok.com/embed/v2/1",
    }
    eu_content = {"to": "brand", "to_user": {"id": tt, "role": "business_account"}, "timestamp": ms}
    first = InboundMessage(
        channel=Channel.WHATSAPP, business_account_id=wa, customer_id="351910000001", platform_message_id="wamid.SAMPLE1",
        kind=MessageKind.MESSAGE, sent_at_ms=ms, text="Hi! Do you ship sneakers to Lisbon?",
    )  # fmt: skip
    second = first.model_copy(
        update={"platform_message_id": "wamid.SAMPLE2", "sent_at_ms": ms + 15_000, "text": "How much is delivery?"}
    )  # "how much": the price keyword of SAMPLE_KEYWORDS
    outcome = OutcomeReported.for_outcome(first.conversation_key, "order-1001", "Purchase", 129.9, "EUR", ms + 60_000)
    attributed = ConversationAttributed.for_conversation(first_touch(first))
    bus_envelope = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": attributed.detail_type,
        "source": "messaging-partner",
        "account": "123456789012",
        "time": "2025-11-22T08:26:41Z",
        "region": "us-east-1",
        "resources": [],
        "detail": attributed.model_dump(mode="json", exclude_none=True),
    }
    farah = messaging_message(
        "6985000000000001",
        page,
        "m_SAMPLE1",
        ms,
        "Is the spring sale still on?",
        referral=click_to_messenger_referral("6045246247433", "Spring"),
    )
    (hourly,) = [s for s in Template().schedules() if s.function == "TokenRefreshFunction"]
    refresh = scheduled_event(hourly.input, "TokenRefreshFunction-Hourly", at="2025-11-22T09:00:00Z")
    return {
        "webhook_whatsapp_delivery": meta_delivery("whatsapp", whatsapp_body(WhatsAppChange((ana,)))),
        "webhook_whatsapp_meta_ad_referral": meta_delivery("whatsapp", whatsapp_body(WhatsAppChange((chloe,)))),
        "webhook_whatsapp_status": meta_delivery("whatsapp", whatsapp_body(WhatsAppChange(statuses=(status,)))),
        "webhook_whatsapp_handshake": http_event(
            "GET",
            "/webhooks/{channel}",
            "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=local-verify-token",
        ),
        "webhook_messenger_ad_message": meta_delivery("messenger", meta_messaging_body("page", page, farah)),
        "webhook_messenger_echo": meta_delivery(
            "messenger", meta_messaging_body("page", page, messaging_echo("6985000000000001", page, "m_SAMPLE2", ms, "Yes!"))
        ),
        "webhook_messenger_referral_only": meta_delivery(
            "messenger",
            meta_messaging_body(
                "page",
                page,
                messaging_referral("6985000000000002", page, ms, click_to_messenger_referral("6045246247433", "Spring")),
            ),
        ),
        "webhook_instagram_message": meta_delivery(
            "instagram",
            meta_messaging_body("instagram", ig, messaging_message("17841400000000002", ig, "ig_SAMPLE1", ms, "Restock?")),
        ),
        "webhook_instagram_read": meta_delivery(
            "instagram", meta_messaging_body("instagram", ig, messaging_read("17841400000000002", ig, ms))
        ),
        "webhook_tiktok_message": tiktok_delivery(
            tiktok_body(
                "im_receive_msg", tt, tiktok_text_content("tt-jon", tt, "tt-msg-SAMPLE1", ms, "I want the VIP offer"), SAMPLE_TIME
            )
        ),
        "webhook_tiktok_ad_referral": tiktok_delivery(
            tiktok_body("im_referral_msg", tt, tiktok_ad_referral_content("tt-ivy", tt, ms, ad), SAMPLE_TIME)
        ),
        "webhook_tiktok_short_link_referral": tiktok_delivery(
            tiktok_body("im_referral_msg", tt, tiktok_short_link_content("tt-jon", tt, ms, "vip_2026"), SAMPLE_TIME)
        ),
        "webhook_tiktok_eu_stripped": tiktok_delivery(tiktok_body("im_receive_msg_eu", tt, eu_content, SAMPLE_TIME)),
        "webhook_tiktok_send_echo": tiktok_delivery(
            tiktok_body(
                "im_send_msg", tt, tiktok_text_content("tt-jon", tt, "tt-msg-SAMPLE2", ms, "Welcome!", inbound=False), SAMPLE_TIME
            )
        ),
        "webhook_tiktok_mark_read": tiktok_delivery(
            tiktok_body(
                "im_mark_read_msg",
                tt,
                {"from_user": {"id": "tt-jon", "role": "personal_account"}, "read": {"last_read_timestamp": ms}},
                SAMPLE_TIME,
            )
        ),
        "webhook_whatsapp_reaction": meta_delivery("whatsapp", whatsapp_body(WhatsAppChange((ana_reacts,)))),
        "webhook_whatsapp_edit": meta_delivery("whatsapp", whatsapp_body(WhatsAppChange((ana_edits,)))),
        "webhook_messenger_unsend": meta_delivery(
            "messenger", meta_messaging_body("page", page, messaging_unsend("6985000000000001", page, "m_SAMPLE1", ms))
        ),
        "webhook_tiktok_reaction": tiktok_delivery(
            tiktok_body(
                "im_receive_msg", tt, tiktok_reaction_content("tt-jon", tt, "tt-msg-SAMPLE3", ms, "tt-msg-SAMPLE2"), SAMPLE_TIME
            )
        ),
        "webhook_tiktok_ping": tiktok_delivery(tiktok_ping_body(ms)),
        "webhook_tiktok_authorization_removed": tiktok_delivery(
            json.dumps(
                {
                    "client_key": "local-tiktok-app",
                    "event": "authorization.removed",
                    "create_time": SAMPLE_TIME,
                    "user_openid": tt,
                    "content": json.dumps({"reason": 1}),
                }
            ).encode()
        ),
        "oauth_advertiser_start": http_event("GET", "/oauth/tiktok/{kind}/start", sample_link(ConnectionKind.ADVERTISER)),
        "oauth_business_start": http_event("GET", "/oauth/tiktok/{kind}/start", sample_link(ConnectionKind.BUSINESS)),
        "oauth_callback_denied": http_event(
            "GET",
            "/oauth/tiktok/callback",
            "/oauth/tiktok/callback?state=sample-state&error=access_denied&error_description=denied",
        ),
        "admin_list_advertisers": http_event("GET", "/admin/{proxy+}", "/admin/advertisers"),
        "admin_post_connect_link": http_event(
            "POST",
            "/admin/{proxy+}",
            "/admin/connect-links",
            b'{"kind": "advertiser", "workspace": "acme"}',
            {"content-type": "application/json"},
        ),
        "admin_put_advertiser_workspace": http_event(
            "PUT",
            "/admin/{proxy+}",
            "/admin/advertisers/7100000000000000001/workspace",
            b'{"workspace": "acme-eu"}',
            {"content-type": "application/json"},
        ),
        "admin_put_link": http_event(
            "PUT",
            "/admin/{proxy+}",
            f"/admin/advertisers/7100000000000000001/links/whatsapp/{wa}",
            b'{"display_name": "+1 555 078 3881"}',
            {"content-type": "application/json"},
        ),
        "admin_list_conversations": http_event(
            "GET",
            "/admin/{proxy+}",
            "/admin/conversations?advertiser_id=7100000000000000001&source=tiktok_ad&from=2025-11-01&to=2025-11-30",
        ),
        "admin_get_conversation": http_event("GET", "/admin/{proxy+}", f"/admin/conversations/whatsapp%23{wa}%23351910000001"),
        "admin_get_business": http_event("GET", "/admin/{proxy+}", f"/admin/businesses/{tt}"),
        "admin_put_keywords": http_event(
            "PUT",
            "/admin/{proxy+}",
            "/admin/advertisers/7100000000000000001/keywords",
            json.dumps({"keywords": SAMPLE_KEYWORDS}, ensure_ascii=False).encode(),
            {"content-type": "application/json"},
        ),
        "admin_get_keywords": http_event("GET", "/admin/{proxy+}", "/admin/advertisers/7100000000000000001/keywords"),
        "admin_post_outcome": http_event(
            "POST",
            "/admin/{proxy+}",
            f"/admin/conversations/whatsapp%23{wa}%23351910000001/outcomes",
            b'{"outcome_id": "order-1001", "event": "Purchase", "value": 129.9, "currency": "EUR"}',
            {"content-type": "application/json"},
        ),
        "attribution_inbound_batch": {
            "Records": [
                sqs_record(1, first.model_dump_json(exclude_none=True), "InboundQueue.fifo", first.conversation_key),
                sqs_record(2, second.model_dump_json(exclude_none=True), "InboundQueue.fifo", second.conversation_key),
            ]
        },
        "keyword_signal_batch": {
            "Records": [
                sqs_record(1, json.dumps(bus_envelope), "SignalQueue"),
                sqs_record(2, MessageReceived.for_message(first).model_dump_json(exclude_none=True), "SignalQueue"),
                sqs_record(3, MessageReceived.for_message(second).model_dump_json(exclude_none=True), "SignalQueue"),
                sqs_record(4, outcome.model_dump_json(exclude_none=True), "SignalQueue"),
            ]
        },
        "token_refresh_schedule": refresh,
        "report_rollup_daily": {"granularity": "daily"},
        "report_rollup_hourly": {"granularity": "hourly"},
        "report_rollup_batch": {
            "Records": [
                sqs_record(1, rollup("7100000000000000001", "2025-11-21", "2025-11-22", "EUR"), "RollupQueue"),
                sqs_record(2, rollup("7100000000000000002", "2025-11-21", "2025-11-22", None), "RollupQueue"),
            ]
        },
        "admin_get_report": http_event(
            "GET",
            "/admin/{proxy+}",
            "/admin/reports?advertiser_id=7100000000000000001&from=2025-11-16&to=2025-11-22&group_by=ad",
        ),
        "admin_get_report_csv": http_event(
            "GET",
            "/admin/{proxy+}",
            "/admin/reports?advertiser_id=7100000000000000001&from=2025-11-16&to=2025-11-22&group_by=day&format=csv",
        ),
        "admin_view_report": http_event(
            "GET", "/admin/{proxy+}", "/admin/reports/view?advertiser_id=7100000000000000001&from=2025-11-16&to=2025-11-22"
        ),
    }


def rollup(advertiser_id: str, first_day: str, last_day: str, currency: str | None) -> str:
    """A RollupQueue message as the hourly schedule queues it."""
    request = {"advertiser_id": advertiser_id, "first_day": first_day, "last_day": last_day, "granularity": "hourly"}
    return json.dumps({"kind": "ReportRollup", **request, "currency": currency})


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def write_samples(directory: Path = EVENTS_DIR) -> list[Path]:
    directory.mkdir(exist_ok=True)
    written = []
    for name, event in sample_events().items():
        path = directory / f"{name}.json"
        path.write_text(render(event))
        written.append(path)
    return written
