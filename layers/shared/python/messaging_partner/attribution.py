"""Attribution: record each inbound message once, open conversations first-touch, emit events.

Emission is at least once. A message is marked in the same write that updates its
conversation, so a crash after the write but before the events are sent would drop them
on retry; instead a redelivered message re-emits MessageReceived, and the message that
opened a conversation re-emits ConversationAttributed. Both carry a stable event_id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .events import ConversationAttributed, MessageReceived
from .models import Channel, Conversation, ConversationSource, InboundMessage, MessageKind
from .ports import ConversationStore, EventPublisher, RecordOutcome, SignalSender

# Kinds that belong to a customer's conversation; echoes, statuses and reads are counted
# and handled by their own features.
CONVERSATION_KINDS = frozenset({MessageKind.MESSAGE, MessageKind.REFERRAL})


def first_touch(message: InboundMessage) -> Conversation:
    """The conversation as its first message opens it."""
    return Conversation(
        conversation_key=message.conversation_key,
        channel=message.channel,
        business_account_id=message.business_account_id,
        customer_id=message.customer_id,
        source=source_of(message),
        referral=message.referral,
        started_at_ms=message.sent_at_ms,
        last_message_at_ms=message.sent_at_ms,
        customer_message_count=1 if message.kind is MessageKind.MESSAGE else 0,
    )


def source_of(message: InboundMessage) -> ConversationSource:
    """How a conversation started, from its first touch's referral.

    Meta's own click-to-chat referrals are Meta ads: reports must never credit TikTok for them.
    A tiktok.me short link is its own source, not an ad.
    """
    referral = message.referral
    if referral is None:
        return ConversationSource.ORGANIC
    if message.channel is Channel.TIKTOK:
        if referral.is_ad:
            return ConversationSource.TIKTOK_AD
        return ConversationSource.TIKTOK_SHORT_LINK if referral.tracking_ref else ConversationSource.ORGANIC
    return ConversationSource.META_AD if referral.is_ad else ConversationSource.ORGANIC


@dataclass
class Attribution:
    """Processes one SQS batch: ``handle`` each message, then ``flush`` the batched sends."""

    store: ConversationStore
    publisher: EventPublisher
    signals: SignalSender
    outcomes: Counter[str] = field(default_factory=Counter)
    _events: list[ConversationAttributed] = field(default_factory=list)
    _signals: list[MessageReceived] = field(default_factory=list)

    def handle(self, message: InboundMessage) -> str:
        if message.kind is MessageKind.STRIPPED:
            # No sender: never a conversation, never attributed; counted for its business account.
            outcome = "stripped" if self.store.count_stripped(message) else "duplicate"
            self.outcomes[outcome] += 1
            return outcome
        if message.kind not in CONVERSATION_KINDS:
            self.outcomes["skipped_kind"] += 1
            return "skipped_kind"
        recorded = self.store.record_message(message, first_touch(message))
        self.outcomes[recorded.outcome] += 1
        if recorded.created_conversation and recorded.conversation is not None:
            self._events.append(ConversationAttributed.for_conversation(recorded.conversation))
        if message.kind is MessageKind.MESSAGE:
            self._signals.append(MessageReceived.for_message(message))
        return recorded.outcome

    def flush(self) -> None:
        """Send what the batch produced; raises DeliveryFailed so the batch is retried."""
        if self._events:
            self.publisher.publish(self._events)
        if self._signals:
            self.signals.send(self._signals)
        self._events, self._signals = [], []


__all__ = ["Attribution", "RecordOutcome", "first_touch", "source_of"]
