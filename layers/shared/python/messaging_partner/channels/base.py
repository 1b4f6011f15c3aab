"""What every platform module provides, and what it hands back."""

from __future__ import annotations

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


class UnparseablePayload(Exception):
    """A verified body we cannot read; it is parked with this reason, never dropped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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

    CHANNEL: Channel

    def verify(self, request: WebhookRequest, secrets: SecretSource) -> bool: ...

    def handshake(self, query: Mapping[str, str], secrets: SecretSource) -> str | None: ...

    def parse(self, raw_body: bytes) -> ParsedDelivery: ...
