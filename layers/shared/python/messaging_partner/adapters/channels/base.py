"""What the platform modules share: reading JSON bodies, ids for events that carry none, timestamps, tolerant field access.

What each module provides is the WebhookChannel port (domain/ports.py); what it hands back
is a ParsedDelivery (domain/models.py).
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from typing import Any

from messaging_partner.domain.domain_events import digest
from messaging_partner.domain.errors import UnparseablePayload

# Platforms' payloads nest fewer than ten levels; a body nested deeper than this is kept whole, unread,
# so no fragment of it ever reaches code (json.dumps, pydantic, repr) that recurses once per level.
MAX_JSON_DEPTH = 64
# An integer longer than this is no timestamp or count any platform sends; int() refuses over 4,300 digits.
MAX_NUMBER_DIGITS = 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlevel = 80, 80, 3


class UnreadableNumber:
    """A JSON number no field can use: NaN, Infinity, an overflowing float, an integer of too many digits.

    Read as a value of the wrong type by every field (a timestamp then falls back to the receipt
    time); written back as its text when a fragment holding it is parked.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text[:100]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"UnreadableNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def _integer(text: str) -> int | UnreadableNumber:
    return int(text) if len(text.lstrip("-")) <= MAX_NUMBER_DIGITS else UnreadableNumber(text)


def _float(text: str) -> float | UnreadableNumber:
    number = float(text)
    return number if math.isfinite(number) else UnreadableNumber(text)


def read_json(text: bytes | str) -> Any:
    """JSON as plain values, total: UnparseablePayload (with the reason) for anything we cannot read.

    Numbers no field can use become UnreadableNumber; a lone surrogate (half of a UTF-16 pair, left
    by a platform cutting text at a code unit) becomes U+FFFD, since it is no character and nothing
    downstream (SQS, DynamoDB, UTF-8) can carry it, and replacing it keeps the message it sits in.
    """
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=UnreadableNumber)
    except RecursionError:
        raise UnparseablePayload(
            f"JSON nested too deep to read; platform payloads nest fewer than {MAX_JSON_DEPTH} levels"
        ) from None
    except ValueError as error:  # not JSON, not UTF-8
        raise UnparseablePayload(f"body is not JSON we can read: {type(error).__name__}: {str(error)[:200]}") from None
    depth, lone_surrogates = _inspect(value)
    if depth > MAX_JSON_DEPTH:
        raise UnparseablePayload(f"JSON nested too deep ({depth} levels); platform payloads nest fewer than {MAX_JSON_DEPTH}")
    return _without_lone_surrogates(value) if lone_surrogates else value


def load_json_object(raw_body: bytes) -> dict[str, Any]:
    payload = read_json(raw_body)
    if not isinstance(payload, dict):
        raise UnparseablePayload("body is JSON but not an object")
    return payload


def _inspect(value: Any) -> tuple[int, bool]:
    """How many arrays and objects deep a parsed JSON value goes, and whether any text holds a lone surrogate.

    Without recursion: the value may be nested as deep as the parser reached.
    """
    deepest, lone_surrogates, stack = 0, False, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            lone_surrogates = lone_surrogates or _LONE_SURROGATE.search(node) is not None
            continue
        if isinstance(node, dict):
            lone_surrogates = lone_surrogates or any(_LONE_SURROGATE.search(key) for key in node)
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, str | dict | list))
    return deepest, lone_surrogates


def _without_lone_surrogates(value: Any) -> Any:
    """Recursive, so only for values already known to be at most MAX_JSON_DEPTH deep."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_LONE_SURROGATE.sub("\ufffd", key): _without_lone_surrogates(item) for key, item in value.items()}
    return value


def shown(value: Any) -> str:
    """A value as a reason may quote it: its repr, cut short (a reason is read by a person and stored with the payload)."""
    return _SHOWN.repr(value)


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
