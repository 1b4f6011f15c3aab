"""In-memory fakes of the domain ports: the same behaviour as the adapters, no AWS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from messaging_partner.domain.domain_events import ConversationAttributed, MessageReceived
from messaging_partner.domain.errors import (
    ConnectedElsewhere,
    DeliveryFailed,
    OutcomeLimitReached,
    TokenUnreadable,
    TooManyConnectionStarts,
)
from messaging_partner.domain.failures import QueuedRecord, RecordFailure
from messaging_partner.domain.models import (
    Conversation,
    ConversationSignals,
    InboundMessage,
    KeywordList,
    LeadCount,
    MessageKind,
    OutgoingSignal,
    SignalRecord,
)
from messaging_partner.domain.ports import RecordedMessage, RecordOutcome


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
    limit_bytes: int = 256 * 1024  # as SqsInboundQueue: the queue's MaximumMessageSize

    def refusal(self, message: InboundMessage) -> str | None:
        size = len(message.model_dump_json(exclude_none=True).encode())
        if size <= self.limit_bytes:
            return None
        return f"message of {size} bytes as queued, over InboundQueue's {self.limit_bytes}-byte limit"

    def send(self, messages: Sequence[InboundMessage]) -> None:
        if self.fail:
            raise DeliveryFailed("queue refused")
        self.sent.extend(messages)


@dataclass
class FakeParker:
    parked: list[tuple[str, str, Any]] = field(default_factory=list)
    fail: bool = False

    def park(self, channel: str, reason: str, payload: bytes | Any) -> None:
        if self.fail:
            raise DeliveryFailed("parked queue refused")
        self.parked.append((channel, reason, payload))


@dataclass
class FakeDeadLetters:
    kept: list[tuple[QueuedRecord, str]] = field(default_factory=list)  # record, reason
    fail: bool = False

    def dead_letter(self, record: QueuedRecord, reason: str) -> None:
        if self.fail:
            raise DeliveryFailed("dead-letter queue refused")
        self.kept.append((record, reason))


@dataclass
class FakeFailureLog:
    failures: list[RecordFailure] = field(default_factory=list)

    def record_failed(self, failure: RecordFailure) -> None:
        self.failures.append(failure)


@dataclass
class FakePublisher:
    published: list[ConversationAttributed] = field(default_factory=list)
    calls: int = 0

    def publish(self, events: Sequence[ConversationAttributed]) -> None:
        self.calls += 1
        self.published.extend(events)


@dataclass
class FakeSignalInputs:
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
    """Same contract as DynamoConversationStore: markers, conversations and lead counters change together."""

    conversations: dict[str, Conversation] = field(default_factory=dict)
    markers: dict[tuple[str, str], bool] = field(default_factory=dict)  # -> created_conversation
    stripped: dict[str, int] = field(default_factory=dict)  # business account -> stripped events
    leads: Counter[LeadCount] = field(default_factory=Counter)
    events: dict[tuple[str, str], InboundMessage] = field(default_factory=dict)  # conversation key, id -> event
    event_ids: set[tuple[Any, str, str]] = field(default_factory=set)  # channel, account, platform id: kept once
    aliases: dict[tuple[Any, str, str], str] = field(default_factory=dict)  # (channel, account, alias) -> customer id
    lookups: int = 0

    def _duplicate(self, message: InboundMessage) -> RecordedMessage | None:
        key = (message.conversation_key, message.platform_message_id)
        if key not in self.markers:
            return None
        created = self.markers[key]
        conversation = self.conversations[message.conversation_key] if created else None
        return RecordedMessage(RecordOutcome.DUPLICATE, conversation, created)

    def append(self, message: InboundMessage) -> RecordedMessage | None:
        duplicate = self._duplicate(message)
        if duplicate is not None:
            return duplicate
        existing = self.conversations.get(message.conversation_key)
        if existing is None:
            return None
        increment = 1 if message.kind is MessageKind.MESSAGE else 0
        self.conversations[message.conversation_key] = existing.model_copy(
            update={
                "customer_message_count": existing.customer_message_count + increment,
                "last_message_at_ms": max(existing.last_message_at_ms, message.sent_at_ms),  # only forward
            }
        )
        self.markers[(message.conversation_key, message.platform_message_id)] = False
        return RecordedMessage(RecordOutcome.EXISTING_CONVERSATION, None, False)

    def open(
        self, message: InboundMessage, conversation: Conversation, lead: LeadCount | None, one_key_per_customer: bool = False
    ) -> RecordedMessage | None:
        duplicate = self._duplicate(message)
        if duplicate is not None:
            return duplicate
        if message.conversation_key in self.conversations:
            return None
        account = (message.channel, message.business_account_id)
        customer = conversation.customer_id
        aliases = [a for a in message.customer_aliases if a != customer] if one_key_per_customer else []
        guarded = any(
            self._keys_a_conversation(message, a) or self.aliases.get((*account, a), customer) != customer for a in aliases
        )
        if guarded or (one_key_per_customer and self.aliases.get((*account, customer), customer) != customer):
            return None  # the store's guards: one customer cannot open under two identifiers
        self.conversations[message.conversation_key] = conversation
        self.markers[(message.conversation_key, message.platform_message_id)] = True
        if lead is not None:
            self.leads[lead] += 1
        for alias in aliases:
            self.aliases[(*account, alias)] = customer
        return RecordedMessage(RecordOutcome.NEW_CONVERSATION, conversation, True)

    def _keys_a_conversation(self, message: InboundMessage, identifier: str) -> bool:
        return f"{message.channel}#{message.business_account_id}#{identifier}" in self.conversations

    def record_event(self, message: InboundMessage) -> bool:
        platform_event = (message.channel, message.business_account_id, message.platform_message_id)
        if platform_event in self.event_ids:
            return False
        self.event_ids.add(platform_event)
        self.events[(message.conversation_key, message.platform_message_id)] = message
        return True

    def known_customer(self, channel: Any, business_account_id: str, identifiers: Sequence[str]) -> str | None:
        self.lookups += 1
        keyed = [i for i in identifiers if f"{channel}#{business_account_id}#{i}" in self.conversations]
        by_alias = [
            self.aliases[(channel, business_account_id, i)]
            for i in identifiers
            if (channel, business_account_id, i) in self.aliases
        ]
        own = keyed[:1] if keyed[:1] == list(identifiers[:1]) else []
        return next(iter(own + by_alias + keyed), None)

    def add_alias(self, channel: Any, business_account_id: str, alias: str, customer_id: str) -> bool:
        if f"{channel}#{business_account_id}#{alias}" in self.conversations:
            return False
        return self.aliases.setdefault((channel, business_account_id, alias), customer_id) == customer_id

    def count_stripped(self, message: InboundMessage) -> bool:
        key = (message.conversation_key, message.platform_message_id)
        if key in self.markers:
            return False
        self.markers[key] = False
        self.stripped[message.business_account_id] = self.stripped.get(message.business_account_id, 0) + 1
        return True

    def get(self, conversation_key: str) -> Conversation | None:
        return self.conversations.get(conversation_key)


@dataclass
class FakeCipher:
    """Reversible and context-bound, like KMS with an encryption context."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        return f"enc[{sorted(context.items())}]{plaintext[::-1]}"

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        prefix = f"enc[{sorted(context.items())}]"
        if not ciphertext.startswith(prefix):
            raise TokenUnreadable("InvalidCiphertextException: wrong encryption context")
        return ciphertext[len(prefix) :][::-1]


@dataclass
class FakeAccountStore:
    states: dict[str, Any] = field(default_factory=dict)
    advertisers: dict[str, Any] = field(default_factory=dict)
    businesses: dict[str, Any] = field(default_factory=dict)
    reauth: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    race_lost: bool = False  # make the next rotation lose to a concurrent refresher

    def put_state(self, state: Any, pending_cap: int, window_seconds: int) -> None:
        if sum(s.workspace == state.workspace for s in self.states.values()) >= pending_cap:
            raise TooManyConnectionStarts(state.workspace)
        self.states[state.state] = state

    def take_state(self, state: str) -> Any:
        return self.states.pop(state, None)

    def _in_workspace(self, accounts: dict[str, Any], account_id: str, workspace: str) -> None:
        if account_id in accounts and accounts[account_id].workspace != workspace:
            raise ConnectedElsewhere(account_id, workspace)

    def save_advertiser(self, account: Any) -> None:
        self._in_workspace(self.advertisers, account.advertiser_id, account.workspace)
        self.advertisers[account.advertiser_id] = account

    def move_to_workspace(self, kind: Any, account_id: str, workspace: str) -> bool:
        accounts = self.businesses if kind == "business" else self.advertisers
        if account_id not in accounts:
            return False
        accounts[account_id] = accounts[account_id].model_copy(update={"workspace": workspace})
        return True

    def get_advertiser(self, advertiser_id: str) -> Any:
        account = self.advertisers.get(advertiser_id)
        return (account, []) if account is not None else None

    def save_business(self, account: Any) -> None:
        self._in_workspace(self.businesses, account.business_id, account.workspace)
        self.businesses[account.business_id] = account

    def get_business(self, business_id: str) -> Any:
        return self.businesses.get(business_id)

    def businesses_due_for_refresh(self, until_ms: int) -> list[str]:
        return [b.business_id for b in self.businesses.values() if b.status == "ACTIVE" and b.access_expires_at_ms <= until_ms]

    def rotate_business_tokens(self, account: Any, expected_version: int) -> bool:
        if self.race_lost or self.businesses[account.business_id].version != expected_version:
            return False
        self.businesses[account.business_id] = account
        return True

    def claim_business_refresh(self, business_id: str, version: int, now_ms: int, until_ms: int) -> bool:
        account = self.businesses.get(business_id)
        if account is None or account.version != version or account.status != "ACTIVE":
            return False
        if account.refresh_claimed_until_ms is not None and account.refresh_claimed_until_ms > now_ms:
            return False  # another refresher is presenting this token
        self.businesses[business_id] = account.model_copy(update={"refresh_claimed_until_ms": until_ms})
        return True

    def release_business_refresh(
        self, business_id: str, version: int, issue: str, unconfirmed_since_ms: int | None = None
    ) -> bool:
        account = self.businesses.get(business_id)
        if account is None or account.version != version:
            return False
        since = account.refresh_unconfirmed_since_ms or unconfirmed_since_ms
        self.businesses[business_id] = account.model_copy(
            update={"refresh_claimed_until_ms": None, "refresh_issue": issue, "refresh_unconfirmed_since_ms": since}
        )
        return True

    def mark_needs_reauth(self, kind: str, account_id: str, generation: int, reason: str, status: Any = "NEEDS_REAUTH") -> bool:
        accounts = self.businesses if kind == "business" else self.advertisers
        account = accounts.get(account_id)
        if account is not None:
            if (account.version if kind == "business" else account.connected_at_ms) != generation:
                return False  # connected again or refreshed since: that generation is not the one that failed
            update = {"status": status, "reauth_reason": reason}
            if kind == "business":
                update["refresh_claimed_until_ms"] = None
            accounts[account_id] = account.model_copy(update=update)
        self.reauth[f"{kind}:{account_id}"] = reason
        return True

    def link(self, link: Any) -> None:
        self.links[(link.channel, link.account_id)] = link.advertiser_id

    def unlink(self, advertiser_id: str, channel: Any, account_id: str) -> bool:
        return self.links.pop((channel, account_id), None) is not None


@dataclass
class FakeLedger:
    """Same contract as the Conversations table's signal attributes: read with the conversation, record once."""

    conversations: dict[str, Conversation] = field(default_factory=dict)
    records: dict[tuple[str, str], SignalRecord] = field(default_factory=dict)
    reads: int = 0
    writes: int = 0

    def signals_of(self, conversation_key: str) -> ConversationSignals | None:
        self.reads += 1
        conversation = self.conversations.get(conversation_key)
        if conversation is None:
            return None
        return ConversationSignals(conversation, {s: r for (k, s), r in self.records.items() if k == conversation_key})

    def record(self, conversation_key: str, record: SignalRecord, over: SignalRecord | None) -> bool:
        self.writes += 1
        if self.records.get((conversation_key, record.signal)) != over:
            return False
        self.records[(conversation_key, record.signal)] = record
        return True

    def queue(self, conversation_key: str, record: SignalRecord, limit: int) -> SignalRecord | None:
        existing = self.records.get((conversation_key, record.signal))
        if existing is None:
            outcomes = [r for (key, _), r in self.records.items() if key == conversation_key and r.kind == "outcome"]
            if len(outcomes) >= limit:
                raise OutcomeLimitReached(conversation_key)
            self.records[(conversation_key, record.signal)] = record
        return existing


@dataclass
class FakeTikTokSignals:
    """Records every request; `refuse` is raised by the next calls, one each."""

    requests: list[tuple[str, str, list[OutgoingSignal]]] = field(default_factory=list)
    refuse: list[Exception] = field(default_factory=list)

    def send(self, access_token: str, event_set_id: str, signals: Sequence[OutgoingSignal]) -> None:
        if self.refuse:
            raise self.refuse.pop(0)
        self.requests.append((access_token, event_set_id, list(signals)))


@dataclass
class FakeKeywordLists:
    lists: dict[str, KeywordList] = field(default_factory=dict)
    reads: int = 0

    def current(self, advertiser_id: str) -> KeywordList | None:
        self.reads += 1
        return self.lists.get(advertiser_id)
