"""Attribution: record each inbound message once, open conversations first-touch, count the lead, emit events.

Emission is at least once. A message is marked in the same write that updates its
conversation, so a crash after the write but before the events are sent would drop them
on retry; instead a redelivered message re-emits MessageReceived, and the message that
opened a conversation re-emits ConversationAttributed. Both carry a stable event_id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .ad_cards import AdCardResolver
from .domain_events import ConversationAttributed, MessageReceived
from .leads import lead_of, local_day
from .models import (
    CONVERSATION_EVENT_KINDS,
    AdReference,
    Channel,
    Conversation,
    ConversationSource,
    InboundMessage,
    MessageKind,
)
from .ports import AccountStore, ConversationStore, EventPublisher, RecordedMessage, Router, SignalInputs
from .tokens import business_deauthorized
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


# Where one customer can arrive under two identifiers: WhatsApp's phone number and its
# business-scoped user id (BSUID). The rule, one customer one key: a conversation keeps the
# identifier it was opened with; whenever a payload names the customer by both, each is
# recorded as an alias of that key, so a later message carrying either one lands in it.
ALIASED_CHANNELS = frozenset({Channel.WHATSAPP})

CustomerKey = tuple[str, str, str]  # channel, business account, identifier


@dataclass
class Attribution:
    """Processes one SQS batch: ``handle`` each message, then ``flush`` the batched sends.

    Only customer messages and ad/link clicks open conversations and count leads; conversation
    events (reactions, edits, deletions, system notices, unsupported content) are kept in
    their conversation and counted, and a deauthorization disconnects its business account.
    """

    store: ConversationStore
    publisher: EventPublisher
    signals: SignalInputs
    router: Router | None = None
    ads: AdCardResolver | None = None
    extractor: TrackingIdExtractor = DEFAULT_EXTRACTOR
    accounts: AccountStore | None = None
    known_customers: dict[CustomerKey, str] = field(default_factory=dict)  # per container: aliases never change
    outcomes: Counter[str] = field(default_factory=Counter)
    _events: list[ConversationAttributed] = field(default_factory=list)
    _signals: list[MessageReceived] = field(default_factory=list)

    def handle(self, message: InboundMessage) -> str:
        outcome = self._handle(message)
        self.outcomes[outcome] += 1
        if message.timestamp_note:
            self.outcomes["redated"] += 1
        return outcome

    def _handle(self, message: InboundMessage) -> str:
        if message.kind is MessageKind.STRIPPED:
            # No sender: never a conversation, never attributed; counted for its business account.
            return "stripped" if self.store.count_stripped(message) else "duplicate"
        if message.kind is MessageKind.DEAUTHORIZATION:
            if self.accounts is None:
                return "skipped_kind"
            why = message.detail or "no reason given"
            business = message.business_account_id
            disconnected = business_deauthorized(self.accounts, self.publisher, business, why, message.sent_at_ms)
            return "business_disconnected" if disconnected else "duplicate"
        if message.kind in CONVERSATION_EVENT_KINDS:
            return self._record_event(message)
        if message.kind not in CONVERSATION_KINDS:
            return "skipped_kind"
        recorded, message = self._record(message)
        if recorded.created_conversation and recorded.conversation is not None:
            self._events.append(ConversationAttributed.for_conversation(recorded.conversation))
        if message.kind is MessageKind.MESSAGE:
            self._signals.append(MessageReceived.for_message(message))
        return recorded.outcome

    def _record_event(self, message: InboundMessage) -> str:
        """Kept in its conversation (opened or not), never opening one or counting a lead."""
        message = self._under_known_key(message, look_up=True)
        if not self.store.record_event(message):
            return "duplicate"
        for alias in message.customer_aliases:  # a changed number is the same customer
            self._add_alias(message, alias, message.customer_id)
        return f"event_{message.kind}"  # no signal input: only what a customer wrote fires keyword signals

    def _record(self, message: InboundMessage) -> tuple[RecordedMessage, InboundMessage]:
        """One write in the common case: into the open conversation, or opening it (first touch wins).

        Returns what was recorded and the message as recorded (under its customer's known key).
        """
        aliased = message.channel in ALIASED_CHANNELS
        message = self._under_known_key(message, look_up=False)
        opened: Conversation | None = None  # built once per key, however many attempts it takes

        def open_conversation() -> RecordedMessage | None:
            nonlocal opened
            opened = opened or self.open(message)
            return self.store.open(message, opened, lead_of(opened), one_key_per_customer=aliased)

        def append() -> RecordedMessage | None:
            return self.store.append(message)

        # An ad or link click nearly always opens its conversation: trying that first saves a request.
        first, second = (open_conversation, append) if message.kind is MessageKind.REFERRAL else (append, open_conversation)
        # A FIFO group serializes one key; deliveries of one customer under two identifiers, or
        # redeliveries, can still win in between. Two rounds settle it.
        for _ in range(2):
            recorded = first()
            if recorded is None and aliased:  # known under another identifier? one read, then this container knows
                known = self._under_known_key(message, look_up=True)
                if known is not message:
                    message, opened = known, None
                    recorded = self.store.append(message)
            recorded = recorded or second()
            if recorded is not None:
                if aliased:
                    self._remember_aliases(message, recorded)
                return recorded, message
        raise RuntimeError(f"conversation {message.conversation_key} kept changing under two writes")

    def _remember_aliases(self, message: InboundMessage, recorded: RecordedMessage) -> None:
        """Every identifier the payload names becomes an alias of the conversation's key (once per container)."""
        account = (str(message.channel), message.business_account_id)
        for alias in message.customer_aliases:
            if (*account, alias) in self.known_customers:
                continue
            if recorded.created_conversation:  # the opening write recorded them
                self.known_customers[(*account, alias)] = message.customer_id
            else:
                self._add_alias(message, alias, message.customer_id)

    def _under_known_key(self, message: InboundMessage, look_up: bool) -> InboundMessage:
        """The message under the identifier its customer's conversation is keyed by.

        From this container's memory; with `look_up`, from the store (one read) when memory has nothing.
        """
        if message.channel not in ALIASED_CHANNELS:
            return message
        identifiers = (message.customer_id, *message.customer_aliases)
        account = (str(message.channel), message.business_account_id)
        known = next((self.known_customers[(*account, i)] for i in identifiers if (*account, i) in self.known_customers), None)
        if known is None and look_up:
            known = self.store.known_customer(message.channel, message.business_account_id, identifiers)
            if known is not None:
                self.known_customers[(*account, known)] = known
            if known is not None and known != message.customer_id:  # a later message naming it by this one alone finds it
                self._add_alias(message, message.customer_id, known)
        if known is None or known == message.customer_id:
            return message
        others = tuple(i for i in identifiers if i != known)
        return message.model_copy(update={"customer_id": known, "customer_aliases": others})

    def _add_alias(self, message: InboundMessage, alias: str, customer_id: str) -> None:
        """Remembered only when recorded: an alias that keys a conversation of its own stays apart."""
        if self.store.add_alias(message.channel, message.business_account_id, alias, customer_id):
            self.known_customers[(str(message.channel), message.business_account_id, alias)] = customer_id
        else:
            self.outcomes["alias_conflict"] += 1

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
