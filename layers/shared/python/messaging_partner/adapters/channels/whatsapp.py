"""WhatsApp Cloud API webhooks: identity rules and parsing.

Shapes: reference/meta_and_peers.md A1.3-A1.5. One POST may carry several entries, each
with several changes; messages, statuses and errors all arrive under field "messages".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

from .base import as_list, str_or_none
from .meta import handshake_with_verify_token, meta_entries, verify_request

CHANNEL = Channel.WHATSAPP
OBJECT_TYPE = "whatsapp_business_account"


def verify(request: WebhookRequest, secrets: SecretSource, policy: VerificationPolicy) -> bool:
    return verify_request(request, secrets)


def handshake(query: Mapping[str, str], secrets: SecretSource) -> str | None:
    return handshake_with_verify_token(query, secrets)


def parse(raw_body: bytes) -> ParsedDelivery:
    delivery = ParsedDelivery()
    for entry in meta_entries(raw_body, OBJECT_TYPE):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            delivery.rejected.append(RejectedFragment("entry without a changes list", entry))
            continue
        for change in changes:
            _parse_change(change, delivery)
    return delivery


def _parse_change(change: Any, delivery: ParsedDelivery) -> None:
    value = change.get("value") if isinstance(change, dict) else None
    if not isinstance(value, dict):
        delivery.rejected.append(RejectedFragment("change without a value object", change))
        return
    field_name = change.get("field")
    if field_name != "messages":
        delivery.recognized[f"field:{field_name}"] += 1
        return
    metadata = value.get("metadata") or {}
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if not isinstance(phone_number_id, str) or not phone_number_id:
        delivery.rejected.append(RejectedFragment("messages change without metadata.phone_number_id", change))
        return

    messages = value.get("messages", [])
    if not isinstance(messages, list):
        delivery.rejected.append(RejectedFragment("messages is not a list", change))
        messages = []
    contacts = [c for c in as_list(value.get("contacts")) if isinstance(c, dict)]
    for message in messages:
        try:
            delivery.messages.append(_parse_message(message, phone_number_id, contacts))
        except (KeyError, TypeError, ValueError) as error:
            delivery.rejected.append(RejectedFragment(f"message not readable: {error!r}", message))
    delivery.recognized["status"] += len(as_list(value.get("statuses")))
    delivery.recognized["error"] += len(as_list(value.get("errors")))


def _parse_message(message: dict[str, Any], phone_number_id: str, contacts: list[dict[str, Any]]) -> InboundMessage:
    message_id = message["id"]
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("id is empty")
    return InboundMessage(
        channel=CHANNEL,
        business_account_id=phone_number_id,
        customer_id=_customer_id(message, contacts),
        platform_message_id=message_id,
        kind=MessageKind.MESSAGE,
        sent_at_ms=int(message["timestamp"]) * 1000,  # seconds, sent as a string
        text=_text_of(message),
        referral=_referral_of(message.get("referral")),
    )


def _customer_id(message: Mapping[str, Any], contacts: list[dict[str, Any]]) -> str:
    """The business-scoped user id (BSUID) when present, else the WhatsApp id / phone.

    From 2026 a user with a username may come without a phone number (A1.3, "BSUID").
    """
    sender = message.get("from")
    sender_user_id = message.get("from_user_id")
    contact = next(
        (c for c in contacts if (sender and c.get("wa_id") == sender) or (sender_user_id and c.get("user_id") == sender_user_id)),
        contacts[0] if len(contacts) == 1 else {},
    )
    for candidate in (contact.get("user_id"), sender_user_id, contact.get("wa_id"), sender):
        if isinstance(candidate, str) and candidate:
            return candidate
    raise ValueError("no sender identity (user_id, wa_id or from)")


def _text_of(message: Mapping[str, Any]) -> str | None:
    message_type = message.get("type")
    body = message.get(message_type) if isinstance(message_type, str) else None
    if not isinstance(body, dict):
        return None
    if message_type == "text":
        return str_or_none(body.get("body"))
    if message_type == "button":
        return str_or_none(body.get("text"))
    if message_type == "interactive":
        for reply_kind in ("button_reply", "list_reply"):
            reply = body.get(reply_kind)
            if isinstance(reply, dict):
                return str_or_none(reply.get("title"))
        return None
    return str_or_none(body.get("caption"))  # image, video, document


def _referral_of(referral: Any) -> Referral | None:
    if not isinstance(referral, dict):
        return None
    media = tuple(
        url for url in (referral.get(k) for k in ("image_url", "video_url", "thumbnail_url")) if isinstance(url, str) and url
    )
    return Referral(
        source=str(referral.get("source_type") or "ad"),
        ad_id=str_or_none(referral.get("source_id")),
        ad_name=str_or_none(referral.get("headline")),
        media_urls=media,
        click_id=str_or_none(referral.get("ctwa_clid")),
    )
