"""Signals on the wire: TikTok Events API 2.0, `POST /event/track/` (reference/tiktok.md 5a).

TikTok does not publish the format messaging partners use for their signals (DESIGN.md
section 4), so this module is the one place that knows it; its contract tests pin it.
The default: one request per ad account and batch, to the ad account's message event set
(`event_source_id`), `event_source` from the template (SignalEventSource), each signal an
event with
- `event`: the TikTok event the signal maps to (conversation, a keyword, an outcome's own);
- `event_id`: the stable hash of ad account, conversation and signal, so TikTok drops repeats
  (it deduplicates on event_source_id + event_id + event);
- `user`: identifiers only as SHA-256: `external_id` the conversation's customer id, `phone`
  a WhatsApp number normalized to E.164 first (TikTok's hashing rule);
- `properties`: the keyword's signal as a boolean (`payment: true`), the tracking ID, the ad
  id or the tiktok.me ref, and an outcome's value and currency.
No field carries message text, and no identifier leaves unhashed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import phonenumbers

from messaging_partner.domain.models import Channel, OutgoingSignal, SignalKind
from messaging_partner.domain.signals import MAX_EVENTS_PER_REQUEST

from .client import TikTokClient


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def e164(identifier: str) -> str | None:
    """A WhatsApp id as an E.164 phone number, or None when it is not one (a BSUID, say)."""
    if not identifier.isascii() or not identifier.isdigit() or not 7 <= len(identifier) <= 15:
        return None
    try:
        number = phonenumbers.parse("+" + identifier)
    except phonenumbers.NumberParseException:
        return None
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_valid_number(number) else None
    )


def event_of(signal: OutgoingSignal) -> dict[str, Any]:
    record = signal.record
    user: dict[str, list[str]] = {"external_id": [sha256(signal.customer_ids[0])]}
    if signal.channel is Channel.WHATSAPP:
        phones = [phone for phone in map(e164, signal.customer_ids) if phone]
        if phones:
            user["phone"] = [sha256(phone) for phone in dict.fromkeys(phones)]
    properties: dict[str, Any] = {}
    if record.kind is SignalKind.KEYWORD:
        properties[record.signal] = True
    for name, value in (
        ("tracking_id", signal.tracking_id),
        ("ad_id", signal.ad_id),
        ("short_link_ref", signal.short_link_ref),
        ("value", record.value),
        ("currency", record.currency),
    ):
        if value is not None:
            properties[name] = value
    return {
        "event": record.event,
        "event_time": signal.occurred_at_ms // 1000,
        "event_id": record.event_id,
        "user": user,
        "properties": properties,
    }


class EventsApiSignals:
    """The TikTokSignals port over Events API 2.0."""

    def __init__(self, client: TikTokClient, event_source: str) -> None:
        self._client = client
        self._event_source = event_source

    def request_body(self, event_set_id: str, signals: Sequence[OutgoingSignal]) -> dict[str, Any]:
        if len(signals) > MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"{len(signals)} signals: Events API takes at most {MAX_EVENTS_PER_REQUEST} a request")
        return {"event_source": self._event_source, "event_source_id": event_set_id, "data": [event_of(s) for s in signals]}

    def send(self, access_token: str, event_set_id: str, signals: Sequence[OutgoingSignal]) -> None:
        """Throttling is retried within the call (the client's default for POSTs); anything else is the caller's."""
        self._client.post("event/track/", self.request_body(event_set_id, signals), access_token=access_token)
