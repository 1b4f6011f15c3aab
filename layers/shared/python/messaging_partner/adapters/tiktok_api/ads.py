"""Ads lookup (reference/tiktok.md section 3): /ad/get/, /smart_plus/ad/get/, /creative/ads_preview/create/."""

from __future__ import annotations

import json

from messaging_partner.domain.models import SmartPlusAd, TikTokAd

from .client import TikTokClient

AD_IDS_PER_CALL = 100  # /ad/get/ filtering.ad_ids takes 1-100 ids


class TikTokAdsApi:
    """The TikTokAds port over the Business API."""

    def __init__(self, client: TikTokClient) -> None:
        self._client = client

    def ads_by_id(self, advertiser_id: str, access_token: str, ad_ids: list[str]) -> list[TikTokAd]:
        """Deleted ads included (STATUS_ALL): a conversation can outlive its ad."""
        found: list[TikTokAd] = []
        for start in range(0, len(ad_ids), AD_IDS_PER_CALL):
            filtering = {"ad_ids": ad_ids[start : start + AD_IDS_PER_CALL], "primary_status": "STATUS_ALL"}
            query = {"advertiser_id": advertiser_id, "filtering": json.dumps(filtering), "page_size": AD_IDS_PER_CALL}
            answer = self._client.get("ad/get/", query, access_token=access_token)
            found += [TikTokAd.model_validate(ad) for ad in answer.get("list", [])]
        return found

    def messaging_ads(self, advertiser_id: str, access_token: str) -> list[TikTokAd]:
        """Instant Messaging ads (destination SOCIAL_MEDIA_APP), with their operation status."""
        query = {"advertiser_id": advertiser_id, "filtering": json.dumps({"destination": "SOCIAL_MEDIA_APP"}), "page_size": 1000}
        answer = self._client.get("ad/get/", query, access_token=access_token)
        return [TikTokAd.model_validate(ad) for ad in answer.get("list", [])]

    def smart_plus_ads(self, advertiser_id: str, access_token: str) -> list[SmartPlusAd]:
        query = {"advertiser_id": advertiser_id, "page_size": 1000}
        answer = self._client.get("smart_plus/ad/get/", query, access_token=access_token)
        return [SmartPlusAd.model_validate(ad) for ad in answer.get("list", [])]

    def preview_link(self, advertiser_id: str, access_token: str, ad_id: str) -> str | None:
        """POST /creative/ads_preview/create/ (preview_type AD): a link valid 30 days. Not for Upgraded Smart+."""
        data = self._client.post(
            "creative/ads_preview/create/",
            {"advertiser_id": advertiser_id, "preview_type": "AD", "ad_id": ad_id},
            access_token=access_token,
        )
        link = data.get("preview_link")
        return str(link) if link else None
