"""Webhook receipt: verify, parse, enqueue, park. No lookups and no TikTok calls on this path.

Each platform's dialect (signature, handshake, payload) is its module in adapters/channels/;
this rule picks one by the {channel} path segment and decides the answer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import HandshakeNotSupported, UnparseablePayload
from .models import InboundMessage, VerificationPolicy, WebhookRequest
from .ports import InboundQueue, Parker, SecretSource, WebhookChannel

# Meta documents payloads "up to 3 MB"; a larger verified body is kept whole and unread.
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024
# A parking reason is read by a person and stored beside the payload: bounded, whatever a parser quoted.
MAX_REASON_CHARS = 1_000
PARSER_FAILED = "the parser failed on this delivery (a bug: replay it once fixed)"


@dataclass(frozen=True)
class WebhookReply:
    status: int
    body: str
    outcome: str  # metric dimension: accepted, parked, refused, handshake, parser_failed, ...
    content_type: str = "application/json"
    enqueued: int = 0
    parked: int = 0
    recognized: Counter[str] = field(default_factory=Counter)
    redated: int = 0  # messages whose platform time was unusable and now carry the receipt time


def _json_reply(status: int, outcome: str, **body: object) -> WebhookReply:
    return WebhookReply(status=status, body=json.dumps(body), outcome=outcome)


def receive_webhook(
    channel_name: str,
    request: WebhookRequest,
    channels: Mapping[str, WebhookChannel],
    secrets: SecretSource,
    inbound_queue: InboundQueue,
    parker: Parker,
    policy: VerificationPolicy,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> WebhookReply:
    """Answer one platform request. Raises DeliveryFailed when the data could not be kept (-> 5xx).

    Nothing a platform can send makes it raise otherwise: an unverifiable request is 401 with
    nothing kept; a verified one is 200, each of its events queued or parked with its reason.
    """
    module = channels.get(channel_name)
    if module is None:
        return _json_reply(
            404, "unknown_channel", message=f"Unknown channel {channel_name!r}. Use one of: {', '.join(channels)}."
        )

    if request.method == "GET":
        try:
            challenge = module.handshake(request.query, secrets)
        except HandshakeNotSupported as error:
            return _json_reply(405, "handshake_unsupported", message=str(error))
        if challenge is None:
            return WebhookReply(403, "Verification failed: hub.verify_token does not match.", "handshake_refused", "text/plain")
        return WebhookReply(200, challenge, "handshake", "text/plain")

    if not module.verify(request, secrets, policy):
        return _json_reply(401, "refused", message="Signature missing, invalid or too old; nothing was stored.")

    if len(request.raw_body) > max_body_bytes:
        # Verified, so the platform sent it: refusing it would only have it sent again, for days.
        reason = f"body of {len(request.raw_body)} bytes, over the {max_body_bytes} platforms document; kept unread"
        return _parked_whole(parker, channel_name, reason, request.raw_body)
    try:
        delivery = module.parse(request.raw_body)
    except UnparseablePayload as error:
        return _parked_whole(parker, channel_name, error.reason, request.raw_body)
    except Exception as error:  # a parser bug must not cost the delivery: kept whole, answered, and counted apart
        reason = f"{PARSER_FAILED}: {type(error).__name__}: {error}"
        return _parked_whole(parker, channel_name, reason, request.raw_body, outcome="parser_failed")
    if not (delivery.messages or delivery.rejected or delivery.recognized):
        # Verified, readable, and nothing in it we know: kept with the reason, never answered and forgotten.
        return _parked_whole(parker, channel_name, NOTHING_RECOGNISED, request.raw_body)

    received_at_ms = int(policy.now * 1000)
    for rejected in delivery.rejected:
        parker.park(channel_name, clipped(rejected.reason), rejected.fragment)
    messages, oversized = [], 0
    for parsed in delivery.messages:
        message = dated(parsed, received_at_ms)
        refusal = inbound_queue.refusal(message)
        if refusal is None:
            messages.append(message)
        else:  # what the queue can never take is kept whole, as it would have been queued
            parker.park(channel_name, clipped(refusal), message.model_dump(mode="json", exclude_none=True))
            oversized += 1
    inbound_queue.send(messages)
    parked = len(delivery.rejected) + oversized
    return WebhookReply(
        status=200,
        body=json.dumps({"accepted": len(messages), "parked": parked}),
        outcome="accepted",
        enqueued=len(messages),
        parked=parked,
        recognized=delivery.recognized,
        redated=sum(1 for message in messages if message.timestamp_note),
    )


def _parked_whole(parker: Parker, channel_name: str, reason: str, raw_body: bytes, outcome: str = "parked") -> WebhookReply:
    reason = clipped(reason)
    parker.park(channel_name, reason, raw_body)
    return WebhookReply(200, json.dumps({"parked": reason}), outcome, parked=1)


def clipped(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "\u2026"


NOTHING_RECOGNISED = "no message, event or notice we recognise in this delivery"

# A platform's time is trusted between 2010 and a day past receipt (clock skew, time zones
# mistaken for UTC); anything else (seconds read as milliseconds, a test payload's
# placeholder, a missing field) would date a conversation and its lead on a wrong day.
EARLIEST_SENSIBLE_MS = 1_262_304_000_000  # 2010-01-01T00:00:00Z
LATEST_AHEAD_MS = 86_400_000


def dated(message: InboundMessage, received_at_ms: int) -> InboundMessage:
    """The message with a time that can date a lead: its own, or the receipt time with a note saying why."""
    if EARLIEST_SENSIBLE_MS <= message.sent_at_ms <= received_at_ms + LATEST_AHEAD_MS:
        return message
    given = "no usable timestamp" if message.sent_at_ms == 0 else f"timestamp {message.sent_at_ms} ms outside 2010..receipt+1 day"
    return message.model_copy(update={"sent_at_ms": received_at_ms, "timestamp_note": f"{given}; receipt time used"})
