"""The normalized shapes every part of the backend speaks.

Parsers turn platform payloads into these; stores persist them; events carry them.
Message text is kept out of ``repr`` so it never reaches a log line by accident.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"


class MessageKind(StrEnum):
    MESSAGE = "message"  # a customer wrote to the business
    REFERRAL = "referral"  # an ad or link click, possibly before any message
    ECHO = "echo"  # the business's own outbound message, reported back
    STATUS = "status"  # delivery / read receipt of an outbound message
    READ = "read"  # the customer read the business's messages
    STRIPPED = "stripped"  # a message whose sender and text the platform withholds (EEA)


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
    sent_at_ms: int
    text: str | None = Field(default=None, repr=False)
    referral: Referral | None = None

    @property
    def conversation_key(self) -> str:
        return conversation_key(self.channel, self.business_account_id, self.customer_id)

    @property
    def deduplication_key(self) -> str:
        return f"{self.channel}:{self.platform_message_id}"


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


class AccountLinkStatus(StrEnum):
    ACTIVE = "ACTIVE"
    NEEDS_REAUTH = "NEEDS_REAUTH"


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
    """The random, single-use value that ties a callback to the workspace that started the connection."""

    state: str
    kind: ConnectionKind
    workspace: str
    expires_at: int  # unix seconds


class AdvertiserAccount(BaseModel):
    advertiser_id: str
    name: str | None = None
    workspace: str
    status: AccountLinkStatus = AccountLinkStatus.ACTIVE
    token_ciphertext: str = Field(repr=False)
    timezone: str = "UTC"  # the ad account's own: report days are counted in it
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
