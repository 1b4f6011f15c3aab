"""Domain events and the per-message signal input.

ConversationAttributed travels on the EventBridge bus (low volume, many possible consumers);
MessageReceived goes straight to SignalQueue in SQS batches (DESIGN.md section 2: a
per-message EventBridge event would cost as much as the rest of the pipeline).
Both are delivered at least once; ``event_id`` is stable so consumers can drop repeats.
"""

from __future__ import annotations

import hashlib
import json
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import ConnectionKind, Conversation, ConversationSource, InboundMessage

EVENT_SOURCE = "messaging-partner"


def digest(*parts: str) -> str:
    """SHA-256 (hex) of the parts, joined by a separator no id holds: the root of every stable id."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def stable_event_id(*parts: str) -> str:
    return digest(*parts)[:32]


class Event(BaseModel):
    """What every event shares: immutable, named by its detail type, identified by a stable id."""

    model_config = ConfigDict(frozen=True)
    detail_type: ClassVar[str]

    event_id: str


class ConversationAttributed(Event):
    """A conversation opened, with how it started: what the inbox shows and the signals start from."""

    detail_type: ClassVar[str] = "ConversationAttributed"

    conversation: Conversation
    inbox_line: str

    @classmethod
    def for_conversation(cls, conversation: Conversation) -> ConversationAttributed:
        return cls(
            event_id=stable_event_id(cls.detail_type, conversation.conversation_key),
            conversation=conversation,
            inbox_line=inbox_line(conversation),
        )


def inbox_line(conversation: Conversation) -> str:
    """The sentence an inbox shows when a conversation starts."""
    contact = conversation.customer_id
    if conversation.ad is not None:
        ad_label = conversation.ad.ad_name or conversation.ad.ad_id or "(not identified)"
        return f"{contact} entered the conversation through the ad {ad_label}"
    if conversation.source is ConversationSource.META_AD:
        return f"{contact} entered the conversation through a Meta ad"
    if conversation.source is ConversationSource.TIKTOK_SHORT_LINK:
        return f"{contact} entered the conversation through a TikTok link"
    return f"{contact} started the conversation"


class MessageReceived(Event):
    """A customer message, handed to the signal workers inside our AWS account (never to TikTok)."""

    detail_type: ClassVar[str] = "MessageReceived"

    type: Literal["MessageReceived"] = "MessageReceived"
    conversation_key: str
    message: InboundMessage = Field(repr=False)

    @classmethod
    def for_message(cls, message: InboundMessage) -> MessageReceived:
        return cls(
            event_id=stable_event_id(cls.detail_type, message.deduplication_key),
            conversation_key=message.conversation_key,
            message=message,
        )


class AccountConnected(Event):
    detail_type: ClassVar[str] = "AccountConnected"

    kind: ConnectionKind
    workspace: str
    account_ids: list[str]
    names: dict[str, str] = {}


class AccountNeedsReauth(Event):
    detail_type: ClassVar[str] = "AccountNeedsReauth"

    kind: ConnectionKind
    account_id: str
    workspace: str
    code: int | None = None
    reason: str


class OutcomeReported(Event):
    """An operator's outcome for a conversation (admin API), for the signal worker to send."""

    detail_type: ClassVar[str] = "OutcomeReported"

    type: Literal["OutcomeReported"] = "OutcomeReported"
    conversation_key: str
    outcome_id: str
    event: str  # a TikTok standard event
    value: float | None = None
    currency: str | None = None
    reported_at_ms: int

    @classmethod
    def for_outcome(
        cls, conversation_key: str, outcome_id: str, event: str, value: float | None, currency: str | None, at_ms: int
    ) -> OutcomeReported:
        return cls(
            event_id=stable_event_id(cls.detail_type, conversation_key, outcome_id),
            conversation_key=conversation_key,
            outcome_id=outcome_id,
            event=event,
            value=value,
            currency=currency,
            reported_at_ms=at_ms,
        )


DomainEvent = ConversationAttributed | AccountConnected | AccountNeedsReauth
SignalInput = ConversationAttributed | MessageReceived | OutcomeReported


def parse_signal_body(body: str) -> SignalInput:
    """A SignalQueue message: an EventBridge envelope around ConversationAttributed, a MessageReceived or an OutcomeReported."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("SignalQueue message is not a JSON object")
    if data.get("detail-type") == ConversationAttributed.detail_type:
        return ConversationAttributed.model_validate(data.get("detail"))
    if data.get("type") == MessageReceived.detail_type:
        return MessageReceived.model_validate(data)
    if data.get("type") == OutcomeReported.detail_type:
        return OutcomeReported.model_validate(data)
    raise ValueError(f"SignalQueue message of unknown type {data.get('detail-type') or data.get('type')!r}")
