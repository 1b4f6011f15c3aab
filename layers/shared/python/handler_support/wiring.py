"""The adapters each function talks through, built from its settings: one named object per function.

Handlers cache their object once per container (the memories inside, routes, cards and
tokens, are what keep DynamoDB and TikTok calls rare) and hand its parts to the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messaging_partner.adapters.aws.account_links import CachedKeywordLists, CachedRouter, DynamoAccountStore
from messaging_partner.adapters.aws.ad_lookups import DynamoAdCache
from messaging_partner.adapters.aws.bus import EventBridgePublisher
from messaging_partner.adapters.aws.conversations import DynamoConversationStore
from messaging_partner.adapters.aws.kms import KmsTokenCipher
from messaging_partner.adapters.aws.parking import ParkedPayloads
from messaging_partner.adapters.aws.queues import SqsDeadLetters, SqsInboundQueue, SqsParker, SqsRollupQueue, SqsSignalInputs
from messaging_partner.adapters.aws.reports import DynamoReports
from messaging_partner.adapters.tiktok_api.ads import TikTokAdsApi
from messaging_partner.adapters.tiktok_api.auth import TikTokAuthApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.adapters.tiktok_api.pacing import Pacer
from messaging_partner.adapters.tiktok_api.reports import TikTokReportsApi
from messaging_partner.adapters.tiktok_api.signals import EventsApiSignals
from messaging_partner.domain.ad_cards import AdCardResolver
from messaging_partner.domain.keywords import KeywordMatcher
from messaging_partner.domain.rollups import ReportRollup, rollup_pace
from messaging_partner.domain.signals import SignalEvents
from messaging_partner.domain.tokens import AdvertiserTokenSource

from .settings import Settings


@dataclass(frozen=True)
class WebhookAdapters:
    inbound_queue: SqsInboundQueue
    parker: ParkedPayloads

    @classmethod
    def from_settings(cls, config: Settings) -> WebhookAdapters:
        return cls(
            SqsInboundQueue(config.inbound_queue_url),
            ParkedPayloads(config.parked_queue_url, config.parked_payloads_bucket),
        )


@dataclass(frozen=True)
class AttributionAdapters:
    conversations: DynamoConversationStore
    publisher: EventBridgePublisher
    signals: SqsSignalInputs
    router: CachedRouter
    ad_cards: AdCardResolver
    accounts: DynamoAccountStore
    parker: SqsParker  # unreadable records, at once
    dead_letters: SqsDeadLetters  # records failing their last receive, with the reason
    max_receive_count: int
    known_customers: dict[tuple[str, str, str], str] = field(default_factory=dict)  # customer aliases, per container

    @classmethod
    def from_settings(cls, config: Settings) -> AttributionAdapters:
        if not config.inbound_dlq_url or config.inbound_max_receive_count < 1:
            raise ValueError(
                "AttributionFunction needs INBOUND_DLQ_URL and INBOUND_MAX_RECEIVE_COUNT (template.yaml gives them): "
                "without them a failing record would reach the DLQ without its reason"
            )
        accounts = DynamoAccountStore(config.account_links_table)
        publisher = EventBridgePublisher(config.domain_bus_name)
        tokens = AdvertiserTokenSource(accounts, KmsTokenCipher(config.token_key_id), publisher)
        return cls(
            conversations=DynamoConversationStore(
                config.conversations_table, config.message_marker_ttl_days, reports=DynamoReports(config.reports_table)
            ),
            publisher=publisher,
            signals=SqsSignalInputs(config.signal_queue_url),
            router=CachedRouter(accounts, config.config_cache_seconds),
            ad_cards=AdCardResolver(
                DynamoAdCache(config.ad_lookups_table), tokens, TikTokAdsApi(TikTokClient(config.tiktok_api_base_url))
            ),
            accounts=accounts,
            parker=SqsParker(config.parked_queue_url),
            dead_letters=SqsDeadLetters(config.inbound_dlq_url, failed_by="AttributionFunction"),
            max_receive_count=config.inbound_max_receive_count,
        )


@dataclass(frozen=True)
class AccountAdapters:
    """What the OAuth flows and the token refresher talk through."""

    accounts: DynamoAccountStore
    tiktok: TikTokAuthApi
    cipher: KmsTokenCipher
    publisher: EventBridgePublisher

    @classmethod
    def from_settings(cls, config: Settings) -> AccountAdapters:
        return cls(
            accounts=DynamoAccountStore(config.account_links_table),
            tiktok=TikTokAuthApi(TikTokClient(config.tiktok_api_base_url)),
            cipher=KmsTokenCipher(config.token_key_id),
            publisher=EventBridgePublisher(config.domain_bus_name),
        )


@dataclass(frozen=True)
class SignalAdapters:
    """What the signal worker talks through; the memories (routes, keyword lists, tokens) last the container."""

    router: CachedRouter
    keyword_lists: CachedKeywordLists
    ledger: DynamoConversationStore
    tokens: AdvertiserTokenSource
    tiktok: EventsApiSignals
    events: SignalEvents
    matchers: dict[tuple[str, int], KeywordMatcher] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, config: Settings) -> SignalAdapters:
        accounts = DynamoAccountStore(config.account_links_table)
        publisher = EventBridgePublisher(config.domain_bus_name)
        return cls(
            router=CachedRouter(accounts, config.config_cache_seconds),
            keyword_lists=CachedKeywordLists(accounts, config.config_cache_seconds),
            ledger=DynamoConversationStore(config.conversations_table),
            tokens=AdvertiserTokenSource(accounts, KmsTokenCipher(config.token_key_id), publisher),
            tiktok=EventsApiSignals(TikTokClient(config.tiktok_api_base_url), config.signal_event_source),
            events=SignalEvents(config.signal_events),
        )


@dataclass(frozen=True)
class RollupAdapters:
    """The schedules' fan-out and the rollup of one ad account; the token memory lasts the container."""

    accounts: DynamoAccountStore
    queue: SqsRollupQueue
    rollup: ReportRollup

    @classmethod
    def from_settings(cls, config: Settings) -> RollupAdapters:
        accounts = DynamoAccountStore(config.account_links_table)
        pacer = Pacer(rollup_pace(config.tiktok_qps_tier, config.rollup_max_concurrency))
        tokens = AdvertiserTokenSource(
            accounts, KmsTokenCipher(config.token_key_id), EventBridgePublisher(config.domain_bus_name)
        )
        return cls(
            accounts=accounts,
            queue=SqsRollupQueue(config.rollup_queue_url),
            rollup=ReportRollup(
                tokens,
                TikTokReportsApi(TikTokClient(config.tiktok_api_base_url, pace=pacer.wait)),
                DynamoReports(config.reports_table),
                DynamoAdCache(config.ad_lookups_table),
                accounts,
            ),
        )


@dataclass(frozen=True)
class AdminAdapters:
    accounts: DynamoAccountStore
    conversations: DynamoConversationStore
    signal_inputs: SqsSignalInputs
    reports: DynamoReports
    ad_cache: DynamoAdCache

    @classmethod
    def from_settings(cls, config: Settings) -> AdminAdapters:
        return cls(
            DynamoAccountStore(config.account_links_table),
            DynamoConversationStore(config.conversations_table),
            SqsSignalInputs(config.signal_queue_url),
            DynamoReports(config.reports_table),
            DynamoAdCache(config.ad_lookups_table),
        )
