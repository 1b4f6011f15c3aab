"""What every platform module provides, and what it hands back."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import Channel, InboundMessage


class SecretSource(Protocol):
    """Webhook secrets, fetched lazily so a channel only pays for the secret it uses."""

    def meta_app_secret(self) -> str: ...

    def meta_verify_token(self) -> str: ...

    def tiktok_app_secret(self) -> str: ...


class HandshakeNotSupported(Exception):
    """The platform verifies its endpoint another way (TikTok: no GET handshake)."""


class UnparseablePayload(Exception):
    """A verified body we cannot read; it is parked with this reason, never dropped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerificationPolicy:
    """What signature checks need besides the secret: the time now and how old a signed delivery may be."""

    now: float
    max_signature_age_seconds: int = 300


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    headers: Mapping[str, str]  # lowercased names, as HTTP API v2 delivers them
    query: Mapping[str, str]
    raw_body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class RejectedFragment:
    """One part of an otherwise readable delivery that we could not normalize."""

    reason: str
    fragment: Any


@dataclass
class ParsedDelivery:
    messages: list[InboundMessage] = field(default_factory=list)
    rejected: list[RejectedFragment] = field(default_factory=list)
    # Platform notifications we recognise but do not treat as customer messages.
    recognized: Counter[str] = field(default_factory=Counter)


class WebhookChannel(Protocol):
    """A platform module: channels/<platform>.py provides these names."""

    @property
    def CHANNEL(self) -> Channel: ...

    def verify(self, request: WebhookRequest, secrets: SecretSource, policy: VerificationPolicy) -> bool: ...

    def handshake(self, query: Mapping[str, str], secrets: SecretSource) -> str | None:
        """The challenge to echo, or None to refuse; raises HandshakeNotSupported where the platform has none."""
        ...

    def parse(self, raw_body: bytes) -> ParsedDelivery: ...


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
