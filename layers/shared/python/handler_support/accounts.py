"""The adapters the account functions (OAuth, token refresh) share, built once per container."""

from __future__ import annotations

from functools import lru_cache

from messaging_partner.bus import EventBridgePublisher
from messaging_partner.kms import KmsTokenCipher
from messaging_partner.settings import settings
from messaging_partner.store.account_links import DynamoAccountStore
from messaging_partner.tiktok.client import TikTokClient


@lru_cache(maxsize=1)
def account_adapters() -> tuple[DynamoAccountStore, TikTokClient, KmsTokenCipher, EventBridgePublisher]:
    config = settings()
    return (
        DynamoAccountStore(config.account_links_table),
        TikTokClient(config.tiktok_api_base_url),
        KmsTokenCipher(config.token_key_id),
        EventBridgePublisher(config.domain_bus_name),
    )
