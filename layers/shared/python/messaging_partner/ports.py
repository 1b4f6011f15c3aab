"""The small interfaces the domain talks through; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .events import DomainEvent, MessageReceived
from .models import AccountLink, AdvertiserAccount, BusinessAccount, Channel, Conversation, InboundMessage, OAuthState, Route


class DeliveryFailed(Exception):
    """A queue or bus did not take everything it was given; the caller must not acknowledge."""


class InboundQueue(Protocol):
    def send(self, messages: Sequence[InboundMessage]) -> None: ...


class Parker(Protocol):
    def park(self, channel: str, reason: str, payload: bytes | Any) -> None: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class SignalSender(Protocol):
    def send(self, signals: Sequence[MessageReceived]) -> None: ...


class RecordOutcome(StrEnum):
    NEW_CONVERSATION = "new_conversation"
    EXISTING_CONVERSATION = "existing_conversation"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class RecordedMessage:
    outcome: RecordOutcome
    conversation: Conversation | None  # set for a new conversation
    created_conversation: bool  # this message (possibly redelivered) is the one that opened it


class Router(Protocol):
    def route(self, channel: Channel, account_id: str) -> Route | None: ...


class ConversationStore(Protocol):
    def record_message(self, message: InboundMessage, opening: Callable[[], Conversation]) -> RecordedMessage:
        """Marks the message once; calls opening() only when the message opens its conversation."""
        ...

    def count_stripped(self, message: InboundMessage) -> bool: ...

    def get(self, conversation_key: str) -> Conversation | None: ...


class TokenCipher(Protocol):
    """Encrypts tokens at rest (KMS in AWS); the context binds a ciphertext to its account."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...


class AlreadyLinked(Exception):
    def __init__(self, channel: str, account_id: str, advertiser_id: str) -> None:
        super().__init__(
            f"The {channel} account {account_id} is already linked to advertiser {advertiser_id}. "
            "Unlink it there first; a chat account routes to one advertiser at a time."
        )
        self.advertiser_id = advertiser_id


class UnknownAdvertiser(Exception):
    def __init__(self, advertiser_id: str) -> None:
        super().__init__(f"No connected advertiser {advertiser_id}. Connect it first: GET /oauth/tiktok/advertiser/start.")


class AccountStore(Protocol):
    def put_state(self, state: OAuthState) -> None: ...

    def take_state(self, state: str) -> OAuthState | None:
        """Removes and returns the state atomically: a second take of the same state returns None."""
        ...

    def save_advertiser(self, account: AdvertiserAccount) -> None: ...

    def save_business(self, account: BusinessAccount) -> None: ...

    def get_business(self, business_id: str) -> BusinessAccount | None: ...

    def businesses_due_for_refresh(self, until_ms: int) -> list[str]: ...

    def rotate_business_tokens(self, account: BusinessAccount, expected_version: int) -> bool:
        """Saves account when the stored version is still expected_version; False when another refresher won."""
        ...

    def mark_needs_reauth(self, kind: str, account_id: str, reason: str) -> None: ...

    def link(self, link: AccountLink) -> None: ...

    def unlink(self, advertiser_id: str, channel: Channel, account_id: str) -> bool: ...
