"""Every interface the rules talk through. Adapters (messaging_partner/adapters) implement them; tests fake them.

Grouped by what is on the other side: the platforms' webhooks, our queues and bus, our
tables, the key that encrypts tokens, and TikTok's Business API. The failures they raise
are in errors.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .domain_events import DomainEvent, MessageReceived, OutcomeReported
from .errors import RetryPolicy, TikTokApiError
from .failures import QueuedRecord, RecordFailure
from .models import (
    AccountLink,
    AccountLinkStatus,
    AdReference,
    AdvertiserAccount,
    AdvertiserGrant,
    AdvertiserProfile,
    AuthorizedAdvertiser,
    BusinessAccount,
    BusinessGrant,
    Channel,
    ConnectionKind,
    Conversation,
    ConversationSignals,
    InboundMessage,
    KeywordList,
    LeadCount,
    OAuthState,
    OutgoingSignal,
    ParsedDelivery,
    Route,
    SignalRecord,
    SmartPlusAd,
    TikTokAd,
    VerificationPolicy,
    WebhookRequest,
)
from .reports import AdDayMetrics, AdDayReport, ReportItem, RollupRequest

# ---------------------------------------------------------------- the platforms' webhooks


class SecretSource(Protocol):
    """Webhook secrets, fetched lazily so a channel only pays for the secret it uses."""

    def meta_app_secret(self) -> str: ...

    def meta_verify_token(self) -> str: ...

    def tiktok_app_secret(self) -> str: ...


class WebhookChannel(Protocol):
    """One platform's webhook dialect: adapters/channels/<platform>.py."""

    @property
    def CHANNEL(self) -> Channel: ...

    def verify(self, request: WebhookRequest, secrets: SecretSource, policy: VerificationPolicy) -> bool: ...

    def handshake(self, query: Mapping[str, str], secrets: SecretSource) -> str | None:
        """The challenge to echo, or None to refuse; raises HandshakeNotSupported where the platform has none."""
        ...

    def parse(self, raw_body: bytes) -> ParsedDelivery: ...


# ---------------------------------------------------------------- queues and bus


class InboundQueue(Protocol):
    def refusal(self, message: InboundMessage) -> str | None:
        """Why the queue could never carry this message (larger than its messages may be), or None."""
        ...

    def send(self, messages: Sequence[InboundMessage]) -> None: ...


class Parker(Protocol):
    def park(self, channel: str, reason: str, payload: bytes | Any) -> None:
        """Keep a verified payload we cannot queue (raw bytes, or a JSON-like fragment), whatever its size, with the reason."""
        ...


class DeadLetters(Protocol):
    """A FIFO queue's DLQ, written by its consumer: a record it gives up on, with the reason beside it."""

    def dead_letter(self, record: QueuedRecord, reason: str) -> None:
        """Keeps the record (body and group) with its reason; raises DeliveryFailed when it could not."""
        ...


class FailureLog(Protocol):
    """Where each failed record is told: the function's log and metrics. Never the message's text."""

    def record_failed(self, failure: RecordFailure) -> None: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class RollupQueue(Protocol):
    """RollupQueue: one message per ad account and date range to roll up."""

    def send(self, requests: Sequence[RollupRequest]) -> None: ...


class SignalInputs(Protocol):
    """SignalQueue: what the signal worker reads besides the bus (customer messages, operators' outcomes)."""

    def send(self, inputs: Sequence[MessageReceived | OutcomeReported]) -> None: ...


# ---------------------------------------------------------------- tables


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
    """Each write is one request: the message's dedupe marker and its conversation change together."""

    def append(self, message: InboundMessage) -> RecordedMessage | None:
        """Adds the message to its open conversation; None when the conversation is not open yet."""
        ...

    def open(
        self, message: InboundMessage, conversation: Conversation, lead: LeadCount | None, one_key_per_customer: bool = False
    ) -> RecordedMessage | None:
        """Creates the conversation with its first message and counts its lead; None when another delivery opened it.

        With one_key_per_customer, the message's customer_aliases are recorded as other names of the
        conversation's customer, and the write holds only while no alias keys a conversation of its own
        and the customer's identifier is nobody's alias.
        """
        ...

    def record_event(self, message: InboundMessage) -> bool:
        """Keeps a conversation event (not a customer message) once, under its conversation; False for a repeat."""
        ...

    def known_customer(self, channel: Channel, business_account_id: str, identifiers: Sequence[str]) -> str | None:
        """The identifier this customer's conversation is keyed by, when one of `identifiers` is an alias of it
        or already keys a conversation; None when none is known."""
        ...

    def add_alias(self, channel: Channel, business_account_id: str, alias: str, customer_id: str) -> bool:
        """Records `alias` as another identifier of `customer_id`; False when the alias keys a conversation of its
        own or names another customer (the first record wins; conversations are never merged here)."""
        ...

    def count_stripped(self, message: InboundMessage) -> bool: ...


class AccountStore(Protocol):
    def put_state(self, state: OAuthState, pending_cap: int, window_seconds: int) -> None:
        """Stores the state (it expires by TTL); TooManyConnectionStarts when its workspace already stored
        pending_cap states in the current window of window_seconds."""
        ...

    def take_state(self, state: str) -> OAuthState | None:
        """Removes and returns the state atomically: a second take of the same state returns None."""
        ...

    def save_advertiser(self, account: AdvertiserAccount) -> None:
        """Stores the ad account; ConnectedElsewhere when it is stored under another workspace."""
        ...

    def get_advertiser(self, advertiser_id: str) -> tuple[AdvertiserAccount, list[AccountLink]] | None: ...

    def move_to_workspace(self, kind: ConnectionKind, account_id: str, workspace: str) -> bool:
        """An operator's move of a connected account; False when there is no such account."""
        ...

    def save_business(self, account: BusinessAccount) -> None:
        """Stores the Business Account's tokens; ConnectedElsewhere when it is stored under another workspace."""
        ...

    def get_business(self, business_id: str) -> BusinessAccount | None: ...

    def businesses_due_for_refresh(self, until_ms: int) -> list[str]: ...

    def rotate_business_tokens(self, account: BusinessAccount, expected_version: int) -> bool:
        """Saves account when the stored version is still expected_version; False when another refresher won.

        The saved item carries no claim, lost answer or issue: those were about the tokens it replaces."""
        ...

    def claim_business_refresh(self, business_id: str, version: int, now_ms: int, until_ms: int) -> bool:
        """Takes the right to present this version's refresh token to TikTok until until_ms: False when the account
        is no longer this version or ACTIVE, or another refresher's claim runs past now_ms."""
        ...

    def release_business_refresh(
        self, business_id: str, version: int, issue: str, unconfirmed_since_ms: int | None = None
    ) -> bool:
        """The tokens stay as they are: drops any claim and records why (and, for a lost answer, since when TikTok
        may have rotated, kept from the first). False when the account is no longer this version."""
        ...

    def mark_needs_reauth(
        self,
        kind: str,
        account_id: str,
        generation: int,
        reason: str,
        status: AccountLinkStatus = AccountLinkStatus.NEEDS_REAUTH,
    ) -> bool:
        """Marks the account unusable if it is still the generation that failed (an advertiser's connected_at_ms,
        a business's token version); False when it was connected again or refreshed meanwhile, or is gone."""
        ...


class KeywordLists(Protocol):
    def current(self, advertiser_id: str) -> KeywordList | None:
        """The ad account's list (cached a minute per container by the adapter); None when it has none."""
        ...


class SignalLedger(Protocol):
    """Signal records on their conversation: one per (conversation, signal), ever."""

    def signals_of(self, conversation_key: str) -> ConversationSignals | None:
        """The conversation and its signals so far (one read); None when there is no such conversation."""
        ...

    def record(self, conversation_key: str, record: SignalRecord, over: SignalRecord | None) -> bool:
        """Records a signal's fate (one write) if the ledger still holds `over` (None: no record yet);
        False when another worker recorded it first."""
        ...

    def queue(self, conversation_key: str, record: SignalRecord, limit: int) -> SignalRecord | None:
        """Records an outcome QUEUED unless its signal exists; None when recorded, else the existing record.
        OutcomeLimitReached when the conversation already holds `limit` outcomes."""
        ...


class ReportStore(Protocol):
    """Reports items (adapters/aws/reports.py): lead counters beside TikTok's numbers, per ad account, day and bucket."""

    def items(self, advertiser_id: str, days: Sequence[str]) -> list[ReportItem]:
        """Every item of those days: leads and, where rolled up, TikTok's numbers."""
        ...

    def rolled_up(self, advertiser_id: str, days: Sequence[str]) -> list[ReportItem]:
        """The items of those days that hold TikTok's numbers."""
        ...

    def put_metrics(self, advertiser_id: str, metrics: AdDayMetrics, currency: str | None) -> None:
        """Sets TikTok's numbers on the ad's item for its day (one write; its lead counter is left alone)."""
        ...

    def clear_metrics(self, advertiser_id: str, day: str, bucket: str) -> None:
        """Removes TikTok's numbers from an item TikTok no longer reports (the lead counter stays)."""
        ...


class CurrencyMemory(Protocol):
    def remember_currency(self, advertiser_id: str, currency: str) -> None:
        """Keeps the ad account's currency on it (only where none is kept yet)."""
        ...


class AdCache(Protocol):
    def get_many(self, advertiser_id: str, ad_ids: Iterable[str]) -> dict[str, AdReference]: ...

    def put_many(self, advertiser_id: str, cards: Iterable[AdReference]) -> None: ...


# ---------------------------------------------------------------- the key that encrypts tokens


class TokenCipher(Protocol):
    """Encrypts tokens at rest (KMS in AWS); the context binds a ciphertext to its account."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...


class AdvertiserTokens(Protocol):
    """Advertiser tokens as the ad card resolver uses them (domain/tokens.py implements it)."""

    def token(self, advertiser_id: str) -> str:
        """The advertiser's access token; raises AdvertiserUnavailable."""
        ...

    def rejected(self, advertiser_id: str, error: TikTokApiError) -> bool:
        """TikTok refused the token on use: 40105/40106 mark the ad account NEEDS_REAUTH. True when it was
        marked; False when the refused token was not the stored one (connected again meanwhile) or not revoked."""
        ...

    def event_set_id(self, advertiser_id: str) -> str | None:
        """The ad account's message event set, found when it was connected; None without one."""
        ...


# ---------------------------------------------------------------- TikTok Business API


class TikTokAds(Protocol):
    """Ad lookups with one advertiser's token (adapters/tiktok_api/ads.py)."""

    def ads_by_id(self, advertiser_id: str, access_token: str, ad_ids: list[str]) -> list[TikTokAd]:
        """Deleted ads included: a conversation can outlive its ad."""
        ...

    def messaging_ads(self, advertiser_id: str, access_token: str) -> list[TikTokAd]:
        """Instant Messaging ads (destination SOCIAL_MEDIA_APP), whatever their status."""
        ...

    def smart_plus_ads(self, advertiser_id: str, access_token: str) -> list[SmartPlusAd]: ...

    def preview_link(self, advertiser_id: str, access_token: str, ad_id: str) -> str | None: ...


class TikTokSignals(Protocol):
    """Sends signals to the ad account's message event set (adapters/tiktok_api/signals.py owns the wire format)."""

    def send(self, access_token: str, event_set_id: str, signals: Sequence[OutgoingSignal]) -> None:
        """One request per call (at most MAX_EVENTS_PER_REQUEST signals); raises TikTokApiError, TikTokTransportError."""
        ...


class TikTokReports(Protocol):
    """/report/integrated/get/ with one advertiser's token (adapters/tiktok_api/reports.py), paced to the app's QPS."""

    def ad_days(self, advertiser_id: str, access_token: str, first_day: str, last_day: str) -> AdDayReport:
        """Every page of the BASIC AUCTION_AD report by ad_id and stat_time_day, deleted ads included;
        raises TikTokApiError, TikTokTransportError, ReportUnreadable."""
        ...

    def currency(self, advertiser_id: str, access_token: str) -> str | None: ...


class TikTokAuth(Protocol):
    """The authorization endpoints of both OAuth flows (adapters/tiktok_api/auth.py)."""

    def exchange_advertiser_code(self, app_id: str, secret: str, auth_code: str) -> AdvertiserGrant: ...

    def authorized_advertisers(self, app_id: str, secret: str, access_token: str) -> list[AuthorizedAdvertiser]: ...

    def advertiser_profiles(self, advertiser_ids: list[str], access_token: str) -> dict[str, AdvertiserProfile]:
        """Each ad account's time zone and currency (GET /advertiser/info/)."""
        ...

    def message_event_set_ids(self, advertiser_id: str, access_token: str) -> list[str]: ...

    def exchange_business_code(self, app_id: str, secret: str, auth_code: str, redirect_uri: str) -> BusinessGrant: ...

    def refresh_business_token(self, app_id: str, secret: str, refresh_token: str, retry: RetryPolicy) -> BusinessGrant: ...
