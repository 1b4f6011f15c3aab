"""What the platform modules share: reading JSON bodies, ids for events that carry none, timestamps, tolerant field access.

What each module provides is the WebhookChannel port (domain/ports.py); what it hands back
is a ParsedDelivery (domain/models.py).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from messaging_partner.domain.domain_events import digest
from messaging_partner.domain.errors import UnparseablePayload


def load_json_object(raw_body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw_body)
    except (ValueError, RecursionError) as error:  # not JSON, an integer of over 4,300 digits, nesting too deep
        raise UnparseablePayload(f"body is not JSON we can read: {type(error).__name__}: {str(error)[:200]}") from None
    if not isinstance(payload, dict):
        raise UnparseablePayload("body is JSON but not an object")
    return payload


def stable_id(*parts: object) -> str:
    """An id for platform events that carry none (referrals, reads, stripped events): same event, same id."""
    return f"h:{digest(*map(str, parts))[:40]}"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# Below 10^11 a timestamp is seconds (10^11 s is the year 5138, 10^11 ms is 1973); below 10^14,
# milliseconds; below 10^17, microseconds. Platforms document one unit per field, but their
# test payloads and some relays send another.
_SECONDS_BELOW = 10**11
_MILLISECONDS_BELOW = 10**14
_MICROSECONDS_BELOW = 10**17
_NUMERIC = re.compile(r"\d{1,20}(?:\.\d{1,9})?", re.ASCII)


def epoch_ms(value: Any) -> int:
    """Epoch milliseconds from seconds, milliseconds or microseconds, sent as a number or a numeric string.

    0 when the value is missing or unusable: the webhook rule then dates the event by its receipt.
    """
    number: int | float
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        number = value if value < _MICROSECONDS_BELOW else 0  # before any float arithmetic: 10**400 overflows
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        text = value.strip()
        number = float(text) if "." in text else int(text)
    else:
        return 0
    if not math.isfinite(number) or number <= 0:
        return 0
    if number < _SECONDS_BELOW:
        return int(number * 1000)
    if number < _MILLISECONDS_BELOW:
        return int(number)
    if number < _MICROSECONDS_BELOW:
        return int(number // 1000)
    return 0
