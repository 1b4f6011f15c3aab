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

from .base import as_list, epoch_ms, shown, str_or_none
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
        if not isinstance(changes, list) or not changes:
            delivery.rejected.append(RejectedFragment("entry without changes", entry))
            continue
        for change in changes:
            _parse_change(change, delivery)
    return delivery


# Fields Meta documents for a WhatsApp Business Account webhook that carry no customer message:
# account, template, phone number and app-state notices, for features of their own.
RECOGNIZED_FIELDS = frozenset(
    {
        "account_alerts",
        "account_review_update",
        "account_settings_update",
        "account_update",
        "automatic_events",
        "business_capability_update",
        "business_status_update",
        "calls",
        "flows",
        "history",
        "message_echoes",
        "message_template_components_update",
        "message_template_quality_update",
        "message_template_status_update",
        "partner_solutions",
        "payment_configuration_update",
        "phone_number_name_update",
        "phone_number_quality_update",
        "security",
        "smb_app_state_sync",
        "smb_message_echoes",
        "template_category_update",
        "tracking_events",
        "user_preferences",
    }
)


def _parse_change(change: Any, delivery: ParsedDelivery) -> None:
    value = change.get("value") if isinstance(change, dict) else None
    if not isinstance(value, dict):
        delivery.rejected.append(RejectedFragment("change without a value object", change))
        return
    field_name = change.get("field")
    if field_name != "messages":
        if isinstance(field_name, str) and field_name in RECOGNIZED_FIELDS:
            delivery.recognized[f"field:{field_name}"] += 1
        else:
            reason = "change without a field" if field_name is None else f"unknown WhatsApp webhook field {shown(field_name)}"
            delivery.rejected.append(RejectedFragment(reason, change))
        return
    metadata = value.get("metadata") or {}
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if not isinstance(phone_number_id, str) or not phone_number_id:
        delivery.rejected.append(RejectedFragment("messages change without metadata.phone_number_id", change))
        return

    messages, statuses, errors = value.get("messages", []), as_list(value.get("statuses")), as_list(value.get("errors"))
    if not isinstance(messages, list):
        delivery.rejected.append(RejectedFragment("messages is not a list", change))
        messages = []
    elif not (messages or statuses or errors):
        delivery.rejected.append(RejectedFragment("messages change with no messages, statuses or errors", change))
    contacts = [c for c in as_list(value.get("contacts")) if isinstance(c, dict)]
    for message in messages:
        try:
            delivery.messages.append(_parse_message(message, phone_number_id, contacts))
        except (KeyError, TypeError, ValueError) as error:
            delivery.rejected.append(RejectedFragment(f"message not readable: {error!r}", message))
    if statuses:
        delivery.recognized["status"] += len(statuses)
    if errors:
        delivery.recognized["error"] += len(errors)


# What a customer writes or sends; every other type is an event about the conversation.
CUSTOMER_CONTENT_TYPES = frozenset(
    {"text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive", "button", "order"}
)


def _parse_message(message: Any, phone_number_id: str, contacts: list[dict[str, Any]]) -> InboundMessage:
    if not isinstance(message, dict):
        raise TypeError("message is not an object")
    message_id = message["id"]
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("id is empty or not a string")
    message_type = str_or_none(message.get("type"))
    customer, aliases = _customer_ids(message, contacts)
    common = {
        "channel": CHANNEL,
        "business_account_id": phone_number_id,
        "customer_id": customer,
        "customer_aliases": aliases,
        "platform_message_id": message_id,
        "sent_at_ms": epoch_ms(message.get("timestamp")),  # seconds as a string, in the documented shape
        "referral": _referral_of(message.get("referral")),
    }
    if message_type in CUSTOMER_CONTENT_TYPES:
        return InboundMessage(kind=MessageKind.MESSAGE, text=_text_of(message), **common)
    if message_type == "request_welcome":  # the customer opened the chat: an entry, with or without an ad click
        kind = MessageKind.REFERRAL if common["referral"] is not None else MessageKind.SYSTEM
        return InboundMessage(kind=kind, detail="request_welcome", **common)
    body = message.get(message_type) if message_type else None
    body = body if isinstance(body, dict) else {}
    if message_type == "reaction":  # no emoji: the customer removed their reaction
        detail = "added" if str_or_none(body.get("emoji")) else "removed"
        return InboundMessage(kind=MessageKind.REACTION, refers_to=str_or_none(body.get("message_id")), detail=detail, **common)
    if message_type == "edit":
        edited = body.get("message")
        text = _text_of(edited) if isinstance(edited, dict) else None
        refers_to = str_or_none(body.get("original_message_id"))
        return InboundMessage(kind=MessageKind.EDIT, refers_to=refers_to, text=text, **common)
    if message_type == "revoke":
        return InboundMessage(kind=MessageKind.DELETION, refers_to=str_or_none(body.get("original_message_id")), **common)
    if message_type == "system":  # a changed number or BSUID: the new identifiers are the same customer
        renamed = tuple(i for i in (str_or_none(body.get("user_id")), str_or_none(body.get("wa_id"))) if i and i != customer)
        common["customer_aliases"] = tuple(dict.fromkeys((*aliases, *renamed)))
        return InboundMessage(kind=MessageKind.SYSTEM, detail=str_or_none(body.get("type")) or "system", **common)
    if message_type == "unsupported":  # on a first message after a click-to-WhatsApp ad, the click is an entry
        kind = MessageKind.REFERRAL if common["referral"] is not None else MessageKind.UNSUPPORTED
        return InboundMessage(kind=kind, detail=_unsupported_reason(message, body), **common)
    raise ValueError(f"unknown WhatsApp message type {shown(message.get('type'))}")


def _unsupported_reason(message: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """What Meta says it could not pass on: the error title, or the unsupported type."""
    error = next((e for e in as_list(message.get("errors")) if isinstance(e, dict)), {})
    return str_or_none(error.get("title")) or str_or_none(body.get("type")) or "unsupported"


def _customer_ids(message: Mapping[str, Any], contacts: list[dict[str, Any]]) -> tuple[str, tuple[str, ...]]:
    """The customer's identifier, and the other identifiers this payload gives for the same person.

    The business-scoped user id (BSUID) comes first when present, else the WhatsApp id / phone:
    from 2026 a user with a username may come without a phone number (A1.3, "BSUID"). When a
    payload carries both, the other is an alias: attribution keeps one conversation key per
    customer whichever identifier later messages carry.
    """
    sender = message.get("from")
    sender_user_id = message.get("from_user_id")
    contact = next(
        (c for c in contacts if (sender and c.get("wa_id") == sender) or (sender_user_id and c.get("user_id") == sender_user_id)),
        contacts[0] if len(contacts) == 1 else {},
    )
    identifiers: list[str] = []
    for candidate in (contact.get("user_id"), sender_user_id, contact.get("wa_id"), sender):
        if isinstance(candidate, str) and candidate and candidate not in identifiers:
            identifiers.append(candidate)
    if not identifiers:
        raise ValueError("no sender identity (user_id, wa_id or from)")
    return identifiers[0], tuple(identifiers[1:])


def _text_of(message: Mapping[str, Any]) -> str | None:
    message_type = message.get("type")
    body = message.get(message_type) if message_type else None
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
