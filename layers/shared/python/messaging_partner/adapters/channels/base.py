"""What the platform modules share: reading JSON bodies, ids for events that carry none, tolerant field access.

What each module provides is the WebhookChannel port (domain/ports.py); what it hands back
is a ParsedDelivery (domain/models.py).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from messaging_partner.domain.errors import UnparseablePayload


def load_json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnparseablePayload(f"body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise UnparseablePayload("body is JSON but not an object")
    return payload


def stable_id(*parts: object) -> str:
    """An id for platform events that carry none (referrals, reads, stripped events): same event, same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"h:{digest[:40]}"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
