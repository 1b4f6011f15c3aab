"""Messenger and Instagram messaging webhooks: `entry[].messaging[]` (reference/meta_and_peers.md A2, A3).

One event per messaging item: a message, an echo of the business's own message, a postback,
a referral without a message (an ad or link click on an existing thread), a read, or an
event about an earlier message: an edit (`message_edit`), an unsend (`message.is_deleted`)
or a reaction. Ad referrals can sit in message.referral, postback.referral or the event's own
referral (`messaging_referrals` on Messenger, `messaging_referral` on Instagram); all three
are read. Timestamps are documented in milliseconds; Meta's test payloads send seconds.
Edits, unsends and reactions reuse the mid of the message they are about, so each gets an
id of its own: the queue's deduplication would otherwise drop it as a repeat of the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

from .base import as_list, epoch_ms, stable_id, str_or_none
from .meta import handshake_with_verify_token, meta_entries, verify_request

# Messaging items Meta documents that are not about a customer's conversation content.
RECOGNIZED_ONLY = (
    "delivery",
    "optin",
    "account_linking",
    "policy_enforcement",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
    "game_play",
)


@dataclass(frozen=True)
class MetaMessagingChannel:
    """A Meta messaging platform: Meta's handshake and X-Hub-Signature-256, then entry[].messaging[]."""

    CHANNEL: Channel
    object_type: str

    def verify(self, request: WebhookRequest, secrets: SecretSource, policy: VerificationPolicy) -> bool:
        return verify_request(request, secrets)

    def handshake(self, query: Mapping[str, str], secrets: SecretSource) -> str | None:
        return handshake_with_verify_token(query, secrets)

    def parse(self, raw_body: bytes) -> ParsedDelivery:
        return parse_messaging(raw_body, self.object_type, self.CHANNEL)


def parse_messaging(raw_body: bytes, object_type: str, channel: Channel) -> ParsedDelivery:
    delivery = ParsedDelivery()
    for entry in meta_entries(raw_body, object_type):
        if not isinstance(entry, dict):
            delivery.rejected.append(RejectedFragment("entry is not an object", entry))
            continue
        if "messaging" not in entry:
            # Other subscriptions on the same app (feed changes, standby threads, comments).
            others = {other: len(as_list(entry.get(other))) for other in ("changes", "standby")}
            if not any(others.values()):
                delivery.rejected.append(RejectedFragment("entry with no messaging, changes or standby", entry))
            delivery.recognized.update({other: count for other, count in others.items() if count})
            continue
        items = entry["messaging"]
        if not isinstance(items, list):
            delivery.rejected.append(RejectedFragment("messaging is not a list", entry))
            continue
        for item in items:
            _parse_item(item, entry.get("id"), channel, delivery)
    return delivery


CONVERSATION_ITEMS = ("message", "message_edit", "reaction", "postback", "referral", "read")


def _parse_item(item: Any, entry_id: Any, channel: Channel, delivery: ParsedDelivery) -> None:
    try:
        if not isinstance(item, dict):
            raise TypeError("messaging item is not an object")
        recognized = next((key for key in RECOGNIZED_ONLY if key in item), None)
        if recognized is not None and not any(key in item for key in CONVERSATION_ITEMS):
            delivery.recognized[recognized] += 1
            return
        message = _normalize(item, entry_id, channel)
    except (KeyError, TypeError, ValueError) as error:
        delivery.rejected.append(RejectedFragment(f"messaging item not readable: {error!r}", item))
        return
    if message is None:
        delivery.rejected.append(RejectedFragment("unknown messaging event", item))
        return
    delivery.messages.append(message)


def _normalize(item: dict[str, Any], entry_id: Any, channel: Channel) -> InboundMessage | None:
    sender, recipient = _party(item.get("sender")), _party(item.get("recipient"))
    sent_at_ms = epoch_ms(item.get("timestamp"))
    business = str_or_none(entry_id) or recipient
    if business is None:
        raise ValueError("no business account (entry.id or recipient.id)")

    def make(kind: MessageKind, customer: str | None, message_id: str, **fields: Any) -> InboundMessage:
        if not customer:
            raise ValueError("no customer id (sender.id / user_ref)")
        return InboundMessage(
            channel=channel,
            business_account_id=business,
            customer_id=customer,
            platform_message_id=message_id,
            kind=kind,
            sent_at_ms=sent_at_ms,
            **fields,
        )

    if "message" in item:
        body = _object(item, "message")
        if body.get("is_echo"):  # the business's own message, sent from any app: outbound
            return make(MessageKind.ECHO, recipient, _mid(body))
        if body.get("is_deleted"):  # the customer unsent it: mid is the original's
            mid = _mid(body)
            return make(MessageKind.DELETION, sender, stable_id(channel, business, "deleted", mid), refers_to=mid)
        if body.get("is_unsupported"):  # something Instagram does not pass on; an ad click on it is still an entry
            referral = _referral(body.get("referral"))
            kind = MessageKind.REFERRAL if referral is not None else MessageKind.UNSUPPORTED
            return make(kind, sender, _mid(body), referral=referral, detail="unsupported")
        return make(
            MessageKind.MESSAGE, sender, _mid(body), text=str_or_none(body.get("text")), referral=_referral(body.get("referral"))
        )
    if "message_edit" in item:
        edit = _object(item, "message_edit")
        mid = _mid(edit)
        edit_id = stable_id(channel, business, "edit", mid, edit.get("num_edit"), sent_at_ms)
        return make(MessageKind.EDIT, sender, edit_id, refers_to=mid, text=str_or_none(edit.get("text")))
    if "reaction" in item:
        reaction = _object(item, "reaction")
        mid, action = _mid(reaction), str_or_none(reaction.get("action")) or "react"
        reaction_id = stable_id(channel, business, sender, "reaction", mid, action, reaction.get("reaction"), sent_at_ms)
        detail = "removed" if action == "unreact" else "added"
        return make(MessageKind.REACTION, sender, reaction_id, refers_to=mid, detail=detail)
    if "postback" in item:
        postback = _object(item, "postback")
        message_id = str_or_none(postback.get("mid")) or stable_id(
            channel, business, sender, "postback", sent_at_ms, postback.get("payload"), postback.get("title")
        )
        return make(
            MessageKind.MESSAGE,
            sender,
            message_id,
            text=str_or_none(postback.get("title")),
            referral=_referral(postback.get("referral")),
        )
    if "referral" in item:
        referral = _referral(item["referral"])
        if referral is None:
            raise ValueError("referral is not an object")
        message_id = stable_id(channel, business, sender, "referral", sent_at_ms, referral.ad_id, referral.tracking_ref)
        return make(MessageKind.REFERRAL, sender, message_id, referral=referral)
    if "read" in item:
        watermark = epoch_ms(_object(item, "read").get("watermark")) or sent_at_ms
        return make(MessageKind.READ, sender, stable_id(channel, business, sender, "read", watermark))
    return None


def _object(item: dict[str, Any], key: str) -> dict[str, Any]:
    value = item[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key} is not an object")
    return value


def _party(party: Any) -> str | None:
    """sender / recipient id; the chat plugin sends user_ref instead of id (Graph v7.0+)."""
    if not isinstance(party, dict):
        return None
    return str_or_none(party.get("id")) or str_or_none(party.get("user_ref"))


def _mid(body: dict[str, Any]) -> str:
    mid = str_or_none(body.get("mid"))
    if mid is None:
        raise ValueError("message without mid")
    return mid


def _referral(referral: Any) -> Referral | None:
    if not isinstance(referral, dict):
        return None
    context = referral.get("ads_context_data")
    context = context if isinstance(context, dict) else {}
    media = tuple(url for url in (str_or_none(context.get(k)) for k in ("photo_url", "video_url")) if url)
    return Referral(
        source=str_or_none(referral.get("source")) or "UNKNOWN",
        ad_id=str_or_none(referral.get("ad_id")),
        ad_name=str_or_none(context.get("ad_title")),
        media_urls=media,
        tracking_ref=str_or_none(referral.get("ref")),
    )
