"""Ads lookup (reference/tiktok.md section 3): /ad/get/ and /smart_plus/ad/get/."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from .client import TikTokClient

AD_IDS_PER_CALL = 100  # /ad/get/ filtering.ad_ids takes 1-100 ids


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


def ads_by_id(client: TikTokClient, advertiser_id: str, access_token: str, ad_ids: list[str]) -> list[TikTokAd]:
    """Deleted ads included (STATUS_ALL): a conversation can outlive its ad."""
    found: list[TikTokAd] = []
    for start in range(0, len(ad_ids), AD_IDS_PER_CALL):
        filtering = {"ad_ids": ad_ids[start : start + AD_IDS_PER_CALL], "primary_status": "STATUS_ALL"}
        query = {"advertiser_id": advertiser_id, "filtering": json.dumps(filtering), "page_size": AD_IDS_PER_CALL}
        found += [TikTokAd.model_validate(ad) for ad in client.get("ad/get/", query, access_token=access_token).get("list", [])]
    return found


def messaging_ads(client: TikTokClient, advertiser_id: str, access_token: str) -> list[TikTokAd]:
    """Active Instant Messaging ads (destination SOCIAL_MEDIA_APP): candidates for a tracking ID."""
    query = {"advertiser_id": advertiser_id, "filtering": json.dumps({"destination": "SOCIAL_MEDIA_APP"}), "page_size": 1000}
    ads = [TikTokAd.model_validate(ad) for ad in client.get("ad/get/", query, access_token=access_token).get("list", [])]
    return [ad for ad in ads if ad.operation_status in (None, "ENABLE")]


def smart_plus_ads(client: TikTokClient, advertiser_id: str, access_token: str) -> list[SmartPlusAd]:
    query = {"advertiser_id": advertiser_id, "page_size": 1000}
    return [
        SmartPlusAd.model_validate(ad)
        for ad in client.get("smart_plus/ad/get/", query, access_token=access_token).get("list", [])
    ]


def preview_link(client: TikTokClient, advertiser_id: str, access_token: str, ad_id: str) -> str | None:
    """POST /creative/ads_preview/create/ (preview_type AD): a link valid 30 days. Not for Upgraded Smart+."""
    data = client.post(
        "creative/ads_preview/create/",
        {"advertiser_id": advertiser_id, "preview_type": "AD", "ad_id": ad_id},
        access_token=access_token,
    )
    link = data.get("preview_link")
    return str(link) if link else None
