"""The small interfaces the domain talks through; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .events import ConversationAttributed, MessageReceived
from .models import Conversation, InboundMessage


class DeliveryFailed(Exception):
    """A queue or bus did not take everything it was given; the caller must not acknowledge."""


class InboundQueue(Protocol):
    def send(self, messages: Sequence[InboundMessage]) -> None: ...


class Parker(Protocol):
    def park(self, channel: str, reason: str, payload: bytes | Any) -> None: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[ConversationAttributed]) -> None: ...


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


class ConversationStore(Protocol):
    def record_message(self, message: InboundMessage, first_touch: Conversation) -> RecordedMessage: ...

    def count_stripped(self, message: InboundMessage) -> bool: ...

    def get(self, conversation_key: str) -> Conversation | None: ...
