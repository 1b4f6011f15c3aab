"""In-memory fakes of the domain ports: the same behaviour as the adapters, no AWS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from messaging_partner.events import ConversationAttributed, MessageReceived
from messaging_partner.models import Conversation, InboundMessage, MessageKind
from messaging_partner.ports import DeliveryFailed, RecordedMessage, RecordOutcome


@dataclass
class FakeSecrets:
    meta_secret: str = "meta-secret"
    verify_token: str = "verify-me"
    tiktok_secret: str = "tiktok-secret"

    def meta_app_secret(self) -> str:
        return self.meta_secret

    def meta_verify_token(self) -> str:
        return self.verify_token

    def tiktok_app_secret(self) -> str:
        return self.tiktok_secret


@dataclass
class FakeInboundQueue:
    sent: list[InboundMessage] = field(default_factory=list)
    fail: bool = False

    def send(self, messages: Sequence[InboundMessage]) -> None:
        if self.fail:
            raise DeliveryFailed("queue refused")
        self.sent.extend(messages)


@dataclass
class FakeParker:
    parked: list[tuple[str, str, Any]] = field(default_factory=list)

    def park(self, channel: str, reason: str, payload: bytes | Any) -> None:
        self.parked.append((channel, reason, payload))


@dataclass
class FakePublisher:
    published: list[ConversationAttributed] = field(default_factory=list)
    calls: int = 0

    def publish(self, events: Sequence[ConversationAttributed]) -> None:
        self.calls += 1
        self.published.extend(events)


@dataclass
class FakeSignalSender:
    sent: list[MessageReceived] = field(default_factory=list)
    calls: int = 0
    fail: bool = False

    def send(self, signals: Sequence[MessageReceived]) -> None:
        if self.fail:
            raise DeliveryFailed("signal queue refused")
        self.calls += 1
        self.sent.extend(signals)


@dataclass
class FakeConversationStore:
    """Same contract as DynamoConversationStore: markers and conversations change together."""

    conversations: dict[str, Conversation] = field(default_factory=dict)
    markers: dict[tuple[str, str], bool] = field(default_factory=dict)  # -> created_conversation
    stripped: dict[str, int] = field(default_factory=dict)  # business account -> stripped events

    def record_message(self, message: InboundMessage, first_touch: Conversation) -> RecordedMessage:
        key = (message.conversation_key, message.platform_message_id)
        if key in self.markers:
            created = self.markers[key]
            conversation = self.conversations[message.conversation_key] if created else None
            return RecordedMessage(RecordOutcome.DUPLICATE, conversation, created)
        existing = self.conversations.get(message.conversation_key)
        if existing is None:
            self.conversations[message.conversation_key] = first_touch
            self.markers[key] = True
            return RecordedMessage(RecordOutcome.NEW_CONVERSATION, first_touch, True)
        increment = 1 if message.kind is MessageKind.MESSAGE else 0
        self.conversations[message.conversation_key] = existing.model_copy(
            update={
                "customer_message_count": existing.customer_message_count + increment,
                "last_message_at_ms": message.sent_at_ms,
            }
        )
        self.markers[key] = False
        return RecordedMessage(RecordOutcome.EXISTING_CONVERSATION, None, False)

    def count_stripped(self, message: InboundMessage) -> bool:
        key = (message.conversation_key, message.platform_message_id)
        if key in self.markers:
            return False
        self.markers[key] = False
        self.stripped[message.business_account_id] = self.stripped.get(message.business_account_id, 0) + 1
        return True

    def get(self, conversation_key: str) -> Conversation | None:
        return self.conversations.get(conversation_key)
