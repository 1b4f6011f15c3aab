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
from .models import VerificationPolicy, WebhookRequest
from .ports import InboundQueue, Parker, SecretSource, WebhookChannel

# Meta documents payloads "up to 3 MB"; anything larger is not a platform delivery.
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class WebhookReply:
    status: int
    body: str
    outcome: str  # metric dimension: accepted, parked, refused, handshake, ...
    content_type: str = "application/json"
    enqueued: int = 0
    parked: int = 0
    recognized: Counter[str] = field(default_factory=Counter)


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
    """Answer one platform request. Raises DeliveryFailed when the data could not be kept (-> 5xx)."""
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

    if len(request.raw_body) > max_body_bytes:
        return _json_reply(413, "too_large", message=f"Body over {max_body_bytes} bytes; platform payloads are smaller.")

    if not module.verify(request, secrets, policy):
        return _json_reply(401, "refused", message="Signature missing, invalid or too old; nothing was stored.")

    try:
        delivery = module.parse(request.raw_body)
    except UnparseablePayload as error:
        parker.park(channel_name, error.reason, request.raw_body)
        return WebhookReply(200, json.dumps({"parked": error.reason}), "parked", parked=1)

    for rejected in delivery.rejected:
        parker.park(channel_name, rejected.reason, rejected.fragment)
    inbound_queue.send(delivery.messages)
    return WebhookReply(
        status=200,
        body=json.dumps({"accepted": len(delivery.messages), "parked": len(delivery.rejected)}),
        outcome="accepted",
        enqueued=len(delivery.messages),
        parked=len(delivery.rejected),
        recognized=delivery.recognized,
    )
