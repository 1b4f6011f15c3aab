"""Attribution: record each inbound message once, open conversations first-touch, count the lead, emit events.

Emission is at least once. A message is marked in the same write that updates its
conversation, so a crash after the write but before the events are sent would drop them
on retry; instead a redelivered message re-emits MessageReceived, and the message that
opened a conversation re-emits ConversationAttributed. Both carry a stable event_id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .ad_cards import AdCardResolver
from .domain_events import ConversationAttributed, MessageReceived
from .leads import lead_of, local_day
from .models import AdReference, Channel, Conversation, ConversationSource, InboundMessage, MessageKind
from .ports import ConversationStore, EventPublisher, RecordedMessage, Router, SignalSender
from .tracking import TrackingIdExtractor

# Kinds that belong to a customer's conversation; echoes, statuses and reads are counted
# and handled by their own features.
CONVERSATION_KINDS = frozenset({MessageKind.MESSAGE, MessageKind.REFERRAL})


DEFAULT_EXTRACTOR = TrackingIdExtractor()
# Where TikTok Instant Messaging ads send people: the tracking ID rides in the first message.
TRACKED_CHANNELS = frozenset({Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM})


def first_touch(message: InboundMessage, extractor: TrackingIdExtractor = DEFAULT_EXTRACTOR) -> Conversation:
    """The conversation as its first message opens it: source, referral, tracking ID, the card the referral gives."""
    tracking_id = None
    if message.channel in TRACKED_CHANNELS and message.kind is MessageKind.MESSAGE:
        tracking_id = extractor.extract(message.text)
    source = source_of(message, tracking_id)
    return Conversation(
        conversation_key=message.conversation_key,
        channel=message.channel,
        business_account_id=message.business_account_id,
        customer_id=message.customer_id,
        source=source,
        referral=message.referral,
        tracking_id=tracking_id if source is ConversationSource.TIKTOK_AD else None,
        ad=referral_card(message) if source is ConversationSource.TIKTOK_AD else None,
        started_at_ms=message.sent_at_ms,
        last_message_at_ms=message.sent_at_ms,
        customer_message_count=1 if message.kind is MessageKind.MESSAGE else 0,
    )


def referral_card(message: InboundMessage) -> AdReference | None:
    """What a TikTok DM ad referral tells on its own: ad id, name, embed link (enriched later by lookups)."""
    referral = message.referral
    if referral is None or referral.ad_id is None:
        return None
    return AdReference(
        advertiser_id=referral.advertiser_id,
        ad_id=referral.ad_id,
        ad_name=referral.ad_name,
        preview_url=referral.media_urls[0] if referral.media_urls else None,
        is_smart_plus=referral.creative_material_id is not None,
        resolved_by="referral",
    )


def source_of(message: InboundMessage, tracking_id: str | None = None) -> ConversationSource:
    """How a conversation started, from its first touch.

    Meta's own click-to-chat referrals are Meta ads: reports must never credit TikTok for them.
    A TikTok tracking ID in the first WhatsApp/Messenger/Instagram message is a TikTok ad.
    A tiktok.me short link is its own source, not an ad.
    """
    referral = message.referral
    if referral is None:
        return ConversationSource.TIKTOK_AD if tracking_id else ConversationSource.ORGANIC
    if message.channel is Channel.TIKTOK:
        if referral.is_ad:
            return ConversationSource.TIKTOK_AD
        return ConversationSource.TIKTOK_SHORT_LINK if referral.tracking_ref else ConversationSource.ORGANIC
    if referral.is_ad:
        return ConversationSource.META_AD
    return ConversationSource.TIKTOK_AD if tracking_id else ConversationSource.ORGANIC


@dataclass
class Attribution:
    """Processes one SQS batch: ``handle`` each message, then ``flush`` the batched sends."""

    store: ConversationStore
    publisher: EventPublisher
    signals: SignalSender
    router: Router | None = None
    ads: AdCardResolver | None = None
    extractor: TrackingIdExtractor = DEFAULT_EXTRACTOR
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
        recorded = self._record(message)
        self.outcomes[recorded.outcome] += 1
        if recorded.created_conversation and recorded.conversation is not None:
            self._events.append(ConversationAttributed.for_conversation(recorded.conversation))
        if message.kind is MessageKind.MESSAGE:
            self._signals.append(MessageReceived.for_message(message))
        return recorded.outcome

    def _record(self, message: InboundMessage) -> RecordedMessage:
        """One write in the common case: into the open conversation, or opening it (first touch wins)."""
        opened: Conversation | None = None  # built once, however many attempts it takes

        def open_conversation() -> RecordedMessage | None:
            nonlocal opened
            opened = opened or self.open(message)
            return self.store.open(message, opened, lead_of(opened))

        def append() -> RecordedMessage | None:
            return self.store.append(message)

        # An ad or link click nearly always opens its conversation: try that first, saving a request.
        attempts: tuple[Callable[[], RecordedMessage | None], ...] = (
            (open_conversation, append) if message.kind is MessageKind.REFERRAL else (append, open_conversation)
        )
        # A FIFO group serializes a conversation, so another delivery wins in between only on
        # redeliveries; two rounds settle it.
        for _ in range(2):
            for attempt in attempts:
                recorded = attempt()
                if recorded is not None:
                    return recorded
        raise RuntimeError(f"conversation {message.conversation_key} kept changing under two writes")

    def prefetch(self, messages: list[InboundMessage]) -> None:
        """Look up the batch's TikTok ad clicks together: one lookup per advertiser, not one per conversation."""
        if self.ads is None or self.router is None:
            return
        by_advertiser: dict[str, set[str]] = {}
        embedded: set[str] = set()
        for message in messages:
            referral = message.referral if message.channel is Channel.TIKTOK else None
            if referral is None or referral.ad_id is None:
                continue
            route = self.router.route(message.channel, message.business_account_id)
            if route is not None:
                by_advertiser.setdefault(route.advertiser_id, set()).add(referral.ad_id)
                if referral.media_urls:  # the embed link: the card needs no preview link
                    embedded.add(referral.ad_id)
        for advertiser_id, ad_ids in by_advertiser.items():
            self.ads.warm(advertiser_id, ad_ids, embedded)

    def open(self, message: InboundMessage) -> Conversation:
        """A new conversation: first touch, its advertiser (through the links), local start day and ad card."""
        conversation = first_touch(message, self.extractor)
        route = self.router.route(message.channel, message.business_account_id) if self.router else None
        if route is None:
            self.outcomes["unrouted"] += 1  # kept, counted; linking the account later routes new conversations
            if conversation.source is ConversationSource.TIKTOK_AD:
                unlinked = "This chat account is not linked to a TikTok ad account, so the ad could not be looked up."
                known = conversation.ad or AdReference()
                conversation = conversation.model_copy(update={"ad": known.model_copy(update={"unresolved_reason": unlinked})})
            return conversation
        card = conversation.ad
        if self.ads is not None and conversation.source is ConversationSource.TIKTOK_AD:
            if card is not None:
                card = self.ads.enrich(route.advertiser_id, card)
            else:
                card = self.ads.for_tracking_id(route, message.channel, message.business_account_id)
            self.outcomes[f"ad_{card.resolved_by or 'unresolved'}"] += 1
        return conversation.model_copy(
            update={
                "advertiser_id": route.advertiser_id,
                "day": local_day(conversation.started_at_ms, route.timezone),
                "ad": card,
            }
        )

    def flush(self) -> None:
        """Send what the batch produced; raises DeliveryFailed so the batch is retried."""
        if self._events:
            self.publisher.publish(self._events)
        if self._signals:
            self.signals.send(self._signals)
        self._events, self._signals = [], []
