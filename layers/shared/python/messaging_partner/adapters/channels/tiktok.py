"""TikTok Business Messaging webhooks (reference/tiktok.md sections 6c, 6d).

Signature: `Tiktok-Signature: t=<unix seconds>,s=<hex>`, s = HMAC-SHA256(app secret,
"<t>.<raw body>"). A delivery is accepted when one s matches (several are allowed, as in
Standard Webhooks, for secret rotation), there is exactly one t, and t is within the
tolerance of now in either direction. TikTok retries a refused delivery with the same t
for up to 72 h, so too short a window turns a slow moment into lost messages; 300 s is the
default (TikTok's sample uses 5 s).

Identity: `user_openid` is the business account (the business_id the DM API needs);
the customer is content.from_user.id (content.to_user.id on our own outbound echo).
`content` is a JSON string inside the JSON body: parsed twice.

App events share the envelope (developers.tiktok.com webhooks-events): `tiktok.ping`, sent to
check the callback URL, is acknowledged and nothing else; `authorization.removed` (content
`{"reason": n}`) means the account owner disconnected this app, so the Business Account is
marked disconnected downstream. Timestamps are read by magnitude: the documented unit is
seconds for create_time and milliseconds in content, but pings arrive with milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from messaging_partner.domain.errors import HandshakeNotSupported, UnparseablePayload
from messaging_partner.domain.models import (
    Channel,
    InboundMessage,
    MessageKind,
    ParsedDelivery,
    Referral,
    RejectedFragment,
    VerificationPolicy,
    WebhookRequest,
)
from messaging_partner.domain.ports import SecretSource

from .base import as_list, epoch_ms, load_json_object, read_json, shown, stable_id, str_or_none

CHANNEL = Channel.TIKTOK
SIGNATURE_HEADER = "tiktok-signature"

# Events TikTok documents that do not concern a customer conversation.
RECOGNIZED_ONLY = frozenset(
    {"tiktok.ping", "im_auto_message_config_update", "im_auto_message_audit_update", "im_receive_high_intent_comment"}
)

# authorization.removed reasons (developers.tiktok.com webhooks-events).
DEAUTHORIZATION_REASONS = {
    0: "unknown reason",
    1: "the user disconnected the app in TikTok",
    2: "the account was deleted",
    3: "the user's age changed",
    4: "the account was banned",
    5: "the app's developer revoked the authorization",
}

# Webhook message types (lowercase, unlike the REST API's) that are something the customer sent.
CUSTOMER_CONTENT_TYPES = frozenset({"text", "image", "share_post", "video", "emoji", "sticker", "template"})


def signature(app_secret: str, timestamp: int | str, raw_body: bytes) -> str:
    return hmac.new(app_secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()


# ASCII only: str.isdigit() also takes superscript and other scripts' digits, which int() refuses.
# Ten digits are unix seconds until 2286; twelve leave room and keep int() far from its 4,300-digit limit.
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


def parse_signature_header(value: str | None) -> tuple[int, list[str]] | None:
    """(t, [s, ...]) from `t=<unix>,s=<hex>[,s=<hex>]`, or None when the header is malformed.

    t must be ASCII digits and an s counts only as 64 ASCII hex digits (HMAC-SHA256), so int() and
    compare_digest only ever see what they can take.
    """
    if not value:
        return None
    timestamps, signatures = [], []
    for part in value.split(","):
        key, separator, item = part.strip().partition("=")
        if not separator or not item:
            return None
        if key == "t":
            timestamps.append(item)
        elif key == "s" and _HEX_SIGNATURE.fullmatch(item):  # another kind of s (a future scheme) is not ours to check
            signatures.append(item.lower())
    if len(timestamps) != 1 or not signatures or not _TIMESTAMP.fullmatch(timestamps[0]):
        return None
    return int(timestamps[0]), signatures


def verify(request: WebhookRequest, secrets: SecretSource, policy: VerificationPolicy) -> bool:
    parsed = parse_signature_header(request.header(SIGNATURE_HEADER))
    if parsed is None:
        return False
    timestamp, offered = parsed
    expected = signature(secrets.tiktok_app_secret(), timestamp, request.raw_body)
    matches = [hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in offered]  # no early exit
    return any(matches) and abs(policy.now - timestamp) <= policy.max_signature_age_seconds


def handshake(query: Mapping[str, str], secrets: SecretSource) -> str | None:
    raise HandshakeNotSupported("TikTok does not verify webhook URLs with a GET handshake; it POSTs signed events here.")


def parse(raw_body: bytes) -> ParsedDelivery:
    envelope = load_json_object(raw_body)
    event = envelope.get("event")
    delivery = ParsedDelivery()
    if isinstance(event, str) and event in RECOGNIZED_ONLY:
        delivery.recognized[event] += 1
        return delivery
    business = str_or_none(envelope.get("user_openid"))
    if not isinstance(event, str) or business is None:
        raise UnparseablePayload("not a TikTok webhook envelope: event or user_openid missing")
    if event not in _EVENTS:
        raise UnparseablePayload(f"unknown TikTok event type {shown(event)}")
    try:
        content = _content(envelope.get("content"))
        delivery.messages.append(_EVENTS[event](envelope, content, business))
    except (KeyError, TypeError, ValueError) as error:
        delivery.rejected.append(RejectedFragment(f"{event} not readable: {error!r}", envelope))
    return delivery


def _content(content: Any) -> dict[str, Any]:
    if isinstance(content, str):  # documented as a JSON string
        try:
            content = read_json(content)
        except UnparseablePayload as error:
            raise ValueError(f"content: {error.reason}") from None
    if not isinstance(content, dict):
        raise TypeError("content is not a JSON object")
    return content


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _user_id(content: Mapping[str, Any], role_key: str) -> str:
    user = content.get(role_key)
    user_id = str_or_none(user.get("id")) if isinstance(user, dict) else None
    if user_id is None:
        raise ValueError(f"{role_key}.id missing")
    return user_id


def _timestamp_ms(content: Mapping[str, Any], envelope: Mapping[str, Any]) -> int:
    """content.timestamp (documented milliseconds), else the envelope's create_time (documented seconds)."""
    return epoch_ms(content.get("timestamp")) or epoch_ms(envelope.get("create_time"))


def _message(
    kind: MessageKind, envelope: Mapping[str, Any], content: Mapping[str, Any], business: str, customer: str, **fields: Any
) -> InboundMessage:
    message_id = str_or_none(content.get("message_id"))
    if message_id is None:
        raise ValueError("message_id missing")
    text = content.get("text")
    return InboundMessage(
        channel=CHANNEL,
        business_account_id=business,
        customer_id=customer,
        platform_message_id=message_id,
        kind=kind,
        sent_at_ms=_timestamp_ms(content, envelope),
        text=str_or_none(text.get("body")) if isinstance(text, dict) else None,
        **fields,
    )


def _received(envelope: Mapping[str, Any], content: Mapping[str, Any], business: str) -> InboundMessage:
    customer = _user_id(content, "from_user")
    message_type = content.get("type", "text")
    if not isinstance(message_type, str):
        raise TypeError(f"type is {shown(message_type)}, not a string")
    if message_type in CUSTOMER_CONTENT_TYPES:
        return _message(MessageKind.MESSAGE, envelope, content, business, customer)
    if message_type == "reaction":  # reaction: [{operation: ADD|REMOVE, emoji, original_msg_id, ...}]
        reaction = next((r for r in as_list(content.get("reaction")) if isinstance(r, dict)), {})
        detail = "removed" if reaction.get("operation") == "REMOVE" else "added"
        original = str_or_none(reaction.get("original_msg_id"))
        return _message(MessageKind.REACTION, envelope, content, business, customer, refers_to=original, detail=detail)
    raise ValueError(f"unknown TikTok message type {shown(message_type)}")


def _deauthorized(envelope: Mapping[str, Any], content: Mapping[str, Any], business: str) -> InboundMessage:
    """authorization.removed: the Business Account's owner disconnected this app; its tokens are already revoked."""
    code = content.get("reason")
    reason = DEAUTHORIZATION_REASONS.get(code, "unknown reason") if isinstance(code, int) else "unknown reason"
    sent_at_ms = _timestamp_ms(content, envelope)
    return InboundMessage(
        channel=CHANNEL,
        business_account_id=business,
        customer_id="",
        platform_message_id=stable_id(CHANNEL, business, "authorization.removed", envelope.get("create_time")),
        kind=MessageKind.DEAUTHORIZATION,
        sent_at_ms=sent_at_ms,
        detail=f"{reason} (reason {code})",
    )


def _sent(envelope: Mapping[str, Any], content: Mapping[str, Any], business: str) -> InboundMessage:
    return _message(MessageKind.ECHO, envelope, content, business, _user_id(content, "to_user"))


def _received_eu(envelope: Mapping[str, Any], content: Mapping[str, Any], business: str) -> InboundMessage:
    """EEA/CH/UK sender: TikTok strips sender, text and conversation; counted for the business only."""
    sent_at_ms = _timestamp_ms(content, envelope)
    return InboundMessage(
        channel=CHANNEL,
        business_account_id=business,
        customer_id="",
        platform_message_id=stable_id(CHANNEL, business, "eu", sent_at_ms, json.dumps(content, sort_keys=True, default=str)),
        kind=MessageKind.STRIPPED,
        sent_at_ms=sent_at_ms,
    )


def _referral(envelope: Mapping[str, Any], content: Mapping[str, Any], business: str) -> InboundMessage:
    """A click on a Click-to-Message ad or a tiktok.me link; no message id, often before any message."""
    customer = _user_id(content, "from_user")
    block = _object(content.get("referral"))
    if not block:
        raise ValueError("referral missing or not an object")
    ad, short_link = _object(block.get("ad")), _object(block.get("short_link"))
    referral = Referral(
        source=str_or_none(block.get("source")) or ("ad" if ad else "short_link"),
        ad_id=str_or_none(ad.get("ad_id")),
        ad_name=str_or_none(ad.get("ad_name")),
        media_urls=tuple(url for url in (str_or_none(ad.get("embed_url")),) if url),
        tracking_ref=str_or_none(short_link.get("ref")),
        advertiser_id=str_or_none(ad.get("advertiser_id")),
        creative_material_id=str_or_none(ad.get("message_material_id")),
    )
    sent_at_ms = epoch_ms(ad.get("timestamp")) or _timestamp_ms(content, envelope)
    return InboundMessage(
        channel=CHANNEL,
        business_account_id=business,
        customer_id=customer,
        platform_message_id=stable_id(CHANNEL, business, customer, "referral", sent_at_ms, referral.ad_id, referral.tracking_ref),
        kind=MessageKind.REFERRAL,
        sent_at_ms=sent_at_ms,
        referral=referral,
    )


def _read(envelope: Mapping[str, Any], content: Mapping[str, Any], business: str) -> InboundMessage:
    customer = _user_id(content, "from_user")
    read = _object(content.get("read"))
    last_read = epoch_ms(read.get("last_read_timestamp")) or _timestamp_ms(content, envelope)
    return InboundMessage(
        channel=CHANNEL,
        business_account_id=business,
        customer_id=customer,
        platform_message_id=stable_id(CHANNEL, business, customer, "read", last_read),
        kind=MessageKind.READ,
        sent_at_ms=int(last_read),
    )


_EVENTS = {
    "im_receive_msg": _received,
    "im_receive_msg_eu": _received_eu,
    "im_send_msg": _sent,
    "im_referral_msg": _referral,
    "im_mark_read_msg": _read,
    "authorization.removed": _deauthorized,
}
