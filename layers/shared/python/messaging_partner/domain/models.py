"""The normalized shapes every part of the backend speaks.

Parsers turn platform payloads into these; repositories persist them; events carry them;
the TikTok adapters answer in them. Message text is kept out of ``repr`` so it never
reaches a log line by accident.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"


class MessageKind(StrEnum):
    MESSAGE = "message"  # a customer wrote or sent something the platform shows: the only kind that is a customer message
    REFERRAL = "referral"  # an ad or link click, possibly before any message
    ECHO = "echo"  # the business's own outbound message, reported back
    STATUS = "status"  # delivery / read receipt of an outbound message
    READ = "read"  # the customer read the business's messages
    STRIPPED = "stripped"  # a message whose sender and text the platform withholds (EEA)
    # Conversation events: about the conversation, kept in it, never a customer message.
    REACTION = "reaction"  # an emoji on an earlier message, added or removed
    EDIT = "edit"  # new text for an earlier message (refers_to), which keeps its place
    DELETION = "deletion"  # the customer unsent an earlier message (refers_to)
    SYSTEM = "system"  # the platform's notice, such as a customer's changed number
    UNSUPPORTED = "unsupported"  # something the customer sent that the platform does not pass on
    # About the business account, not a conversation.
    DEAUTHORIZATION = "deauthorization"  # the account owner removed this app's access (TikTok authorization.removed)


CONVERSATION_EVENT_KINDS = frozenset(
    {MessageKind.REACTION, MessageKind.EDIT, MessageKind.DELETION, MessageKind.SYSTEM, MessageKind.UNSUPPORTED}
)


class ConversationSource(StrEnum):
    ORGANIC = "organic"
    TIKTOK_AD = "tiktok_ad"
    TIKTOK_SHORT_LINK = "tiktok_short_link"
    META_AD = "meta_ad"


class Referral(BaseModel):
    """Where a click came from, as the platform reported it."""

    model_config = ConfigDict(frozen=True)

    source: str  # the platform's own word: "ad", "ADS", "SHORTLINK", "short_link", ...
    ad_id: str | None = None
    ad_name: str | None = None  # the ad's name (TikTok) or title/headline (Meta)
    media_urls: tuple[str, ...] = ()
    click_id: str | None = None  # Meta's ctwa_clid
    tracking_ref: str | None = None  # the ref of an m.me / ig.me / tiktok.me link
    advertiser_id: str | None = None  # TikTok DM referrals name the ad account
    creative_material_id: str | None = None  # TikTok Upgraded Smart+: message_material_id

    @property
    def is_ad(self) -> bool:
        return self.ad_id is not None and self.source.lower() in ("ad", "ads")


class InboundMessage(BaseModel):
    """One platform event about one conversation, in the shape the queue carries."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    business_account_id: str  # what AccountLinks routes on (phone_number_id, page id, ...)
    customer_id: str  # empty only for STRIPPED events, whose sender the platform withholds
    platform_message_id: str
    kind: MessageKind
    sent_at_ms: int  # 0 when the platform gave no usable time; receipt replaces it (domain/webhooks.py)
    text: str | None = Field(default=None, repr=False)
    referral: Referral | None = None
    refers_to: str | None = None  # the platform message id an event is about (edits, deletions, reactions)
    detail: str | None = None  # what an event says beyond its kind: "added"/"removed", a system notice's type, ...
    # The customer's other identifiers in this payload (WhatsApp phone and BSUID); left off the wire when none.
    customer_aliases: tuple[str, ...] = Field(default=(), exclude_if=lambda aliases: not aliases)
    timestamp_note: str | None = None  # set when the platform's time was unusable and the receipt time stands in

    @property
    def conversation_key(self) -> str:
        return conversation_key(self.channel, self.business_account_id, self.customer_id)

    @property
    def deduplication_key(self) -> str:
        return f"{self.channel}:{self.platform_message_id}"

    @property
    def ordering_key(self) -> str:
        """What must be processed in order with this event (InboundQueue's FIFO message group).

        A conversation's events, in order: the first touch decides the source. An EEA-stripped event
        names no customer and opens nothing; it is only counted, and counts commute, so each is its
        own group: one that fails cannot hold up its business's others. Its platform id is a stable
        hash of the event, so a redelivery lands in the same group, where FIFO deduplication (scoped
        to the message group) still drops it.
        """
        if self.kind is MessageKind.STRIPPED:
            return f"{self.conversation_key}#{self.platform_message_id}"
        return self.conversation_key


def conversation_key(channel: Channel, business_account_id: str, customer_id: str) -> str:
    return f"{channel}#{business_account_id}#{customer_id}"


class AdReference(BaseModel):
    """What we know about the ad behind a conversation: the ad preview card."""

    model_config = ConfigDict(frozen=True)

    advertiser_id: str | None = None
    ad_id: str | None = None  # None: ad flow, but which ad is not known (see candidates, unresolved_reason)
    ad_name: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    adgroup_id: str | None = None
    adgroup_name: str | None = None
    preview_url: str | None = None
    is_smart_plus: bool = False
    resolved_by: str | None = None  # referral, ad_get, smart_plus_ad_get, single_active_im_ad
    unresolved_reason: str | None = None
    candidates: tuple[str, ...] = ()


class Conversation(BaseModel):
    conversation_key: str
    channel: Channel
    business_account_id: str
    customer_id: str
    source: ConversationSource
    advertiser_id: str | None = None
    referral: Referral | None = None
    tracking_id: str | None = None  # the TikTok tracking ID found in the first message
    ad: AdReference | None = None
    day: str | None = None  # the start day in the advertiser's time zone (reports count leads by it)
    started_at_ms: int
    last_message_at_ms: int
    customer_message_count: int = 0


class ConversationEvent(BaseModel):
    """Something that happened in a conversation that is not a customer message: kept and shown, never counted as one."""

    kind: MessageKind
    platform_message_id: str
    sent_at_ms: int
    refers_to: str | None = None
    detail: str | None = None
    timestamp_note: str | None = None


class AccountLinkStatus(StrEnum):
    ACTIVE = "ACTIVE"
    NEEDS_REAUTH = "NEEDS_REAUTH"  # TikTok refused a token: the owner must connect the account again
    DISCONNECTED = "DISCONNECTED"  # the owner removed this app's access on TikTok; connecting again restores it


class AccountLink(BaseModel):
    """A chat account (WhatsApp number, Page, Instagram account, TikTok business) tied to an advertiser."""

    advertiser_id: str
    channel: Channel
    account_id: str
    display_name: str | None = None
    linked_at_ms: int
    timezone: str = "UTC"  # copied from the advertiser when linking, so routing is one read


class Route(BaseModel):
    """Where a chat account's conversations belong."""

    advertiser_id: str
    timezone: str = "UTC"
    display_name: str | None = None  # for WhatsApp, the number people write to


class ConnectionKind(StrEnum):
    ADVERTISER = "advertiser"  # a TikTok for Business ad account (Marketing API)
    BUSINESS = "business"  # a TikTok Business Account (tt_user, direct messages)


class OAuthState(BaseModel):
    """The random, single-use value that ties a callback to the workspace and the browser that started the connection."""

    state: str
    kind: ConnectionKind
    workspace: str
    expires_at: int  # unix seconds
    browser_hash: str = ""  # SHA-256 of the secret in the starting browser's cookie; "" never matches


class AdvertiserAccount(BaseModel):
    advertiser_id: str
    name: str | None = None
    workspace: str
    status: AccountLinkStatus = AccountLinkStatus.ACTIVE
    token_ciphertext: str = Field(repr=False)
    timezone: str = "UTC"  # the ad account's own: report days are counted in it
    currency: str | None = None  # the ad account's, for its spend (None: connected before currencies were kept)
    message_event_set_ids: list[str] = []
    connected_at_ms: int
    reauth_reason: str | None = None


class BusinessAccount(BaseModel):
    """A TikTok Business Account's tt_user tokens, encrypted; version guards concurrent refreshes."""

    business_id: str  # tt_user open_id
    workspace: str
    status: AccountLinkStatus = AccountLinkStatus.ACTIVE
    access_token_ciphertext: str = Field(repr=False)
    refresh_token_ciphertext: str = Field(repr=False)
    access_expires_at_ms: int
    refresh_expires_at_ms: int
    scopes: list[str] = []
    version: int = 1
    connected_at_ms: int
    refreshed_at_ms: int | None = None
    reauth_reason: str | None = None
    # Left by the token refresher (domain/tokens.py), cleared when the tokens rotate or the account is connected again:
    refresh_claimed_until_ms: int | None = None  # a refresher is presenting the refresh token to TikTok until then
    refresh_unconfirmed_since_ms: int | None = None  # a refresh whose answer was lost: TikTok may have rotated since
    refresh_issue: str | None = None  # why the last run left the tokens as they were, for a person


@dataclass(frozen=True)
class LeadCount:
    """One lead to count: Reports RPT#<advertiser_id>#<day>, sort key <bucket> (domain/leads.py decides which)."""

    advertiser_id: str
    day: str  # in the ad account's time zone
    bucket: str  # AD#<ad_id>, AD#UNRESOLVED, META_AD, SHORT_LINK, ORGANIC


# ---------------------------------------------------------------- webhook receipt


@dataclass(frozen=True)
class VerificationPolicy:
    """What signature checks need besides the secret: the time now and how old a signed delivery may be."""

    now: float
    max_signature_age_seconds: int = 300


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


# ---------------------------------------------------------------- what TikTok answers


@dataclass(frozen=True)
class TikTokApp:
    """This backend's TikTok app: credentials and the OAuth addresses."""

    app_id: str
    secret: str
    redirect_uri: str
    advertiser_authorize_url: str
    business_authorize_url: str


class AuthorizedAdvertiser(BaseModel):
    advertiser_id: str
    advertiser_name: str | None = None


class AdvertiserProfile(BaseModel):
    """What /advertiser/info/ tells about an ad account: report days and spend are in these."""

    timezone: str = "UTC"
    currency: str | None = None


class AdvertiserGrant(BaseModel):
    """A long-term advertiser token: it never expires on a timer, and cannot be refreshed."""

    access_token: str
    advertiser_ids: list[str] = []
    scope: list[int] = []


class BusinessGrant(BaseModel):
    """tt_user tokens: access 24 h, refresh 1 year and rotated on every refresh."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_token_expires_in: int
    open_id: str  # the business_id every Business Messaging call needs
    scope: str = ""


class AdNames(BaseModel):
    """What both ad kinds name: the ad and where it sits."""

    model_config = ConfigDict(extra="ignore")

    advertiser_id: str
    ad_name: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    adgroup_id: str | None = None
    adgroup_name: str | None = None


class TikTokAd(AdNames):
    ad_id: str
    display_name: str | None = None
    operation_status: str | None = None
    phone_number: str | None = None
    page_id: str | None = None


class SmartPlusAd(AdNames):
    smart_plus_ad_id: str
    creative_list: list[dict[str, Any]] = []

    def has_creative(self, creative_id: str) -> bool:
        return any(creative_id in (c.get("ad_id"), c.get("message_material_id")) for c in self.creative_list)


# ---------------------------------------------------------------- signals back to TikTok


class KeywordRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    keyword: str
    signal: str
    accent_insensitive: bool = False


class KeywordList(BaseModel):
    """An ad account's keywords; `version` grows with every replacement, so matchers compile once per version."""

    advertiser_id: str
    version: int
    keywords: tuple[KeywordRule, ...] = ()
    updated_at_ms: int


class SignalKind(StrEnum):
    CONVERSATION = "conversation"  # once per conversation that came from TikTok
    KEYWORD = "keyword"  # the first customer message with a keyword of the ad account's list
    OUTCOME = "outcome"  # an operator's result for the conversation (a purchase, a qualified lead)


class SignalStatus(StrEnum):
    QUEUED = "queued"  # an outcome accepted by the admin API, for the signal worker; a signal on its way
    SENT = "sent"
    FAILED = "failed"  # TikTok refused it for good, or it cannot be sent; `reason` says why
    SKIPPED = "skipped"  # not sent on purpose; `reason` says why


class SignalRecord(BaseModel):
    """What a conversation shows of one signal: which, as which TikTok event, what became of it."""

    signal: str  # "conversation", a keyword list's signal name, or "outcome:<outcome_id>"
    kind: SignalKind
    event: str  # the TikTok event it is sent as
    status: SignalStatus
    event_id: str  # stable: TikTok drops a repeat of the same (event set, event_id, event)
    at: str  # ISO 8601, when the status was set
    reason: str | None = None
    value: float | None = None  # outcomes
    currency: str | None = None


class OutgoingSignal(BaseModel):
    """Everything the sender may put on the wire. No message text, ever; identifiers leave only hashed."""

    model_config = ConfigDict(frozen=True)

    advertiser_id: str
    channel: Channel
    customer_ids: tuple[str, ...]  # the customer's identifiers; the sender hashes them (phones as E.164)
    record: SignalRecord
    occurred_at_ms: int
    tracking_id: str | None = None
    ad_id: str | None = None
    short_link_ref: str | None = None


@dataclass(frozen=True)
class ConversationSignals:
    """A conversation and the signals recorded on it, by signal name."""

    conversation: Conversation
    records: dict[str, SignalRecord]


@dataclass(frozen=True)
class ConversationView:
    """A conversation as the admin API shows it: the record, its events, its signals."""

    conversation: Conversation | None  # None when only events exist (a reaction before any message)
    events: list[ConversationEvent]
    signals: list[SignalRecord]
