"""Authorization endpoints: Marketing API advertiser tokens and tt_user Business Account tokens (tiktok.md 1a, 1b)."""

from __future__ import annotations

import json
from typing import Any

from messaging_partner.domain.errors import RetryPolicy, TikTokTransportError
from messaging_partner.domain.models import AdvertiserGrant, AdvertiserProfile, AuthorizedAdvertiser, BusinessGrant

from .client import TikTokClient

INFO_IDS_PER_CALL = 100  # /advertiser/info/ takes up to 100 advertiser_ids


def advertiser_profiles(client: TikTokClient, advertiser_ids: list[str], access_token: str) -> dict[str, AdvertiserProfile]:
    """GET /advertiser/info/, 100 ad accounts a call; an account TikTok says nothing of is left out."""
    profiles = {}
    for start in range(0, len(advertiser_ids), INFO_IDS_PER_CALL):
        query = {"advertiser_ids": json.dumps(advertiser_ids[start : start + INFO_IDS_PER_CALL])}
        for item in client.get("advertiser/info/", query, access_token=access_token).get("list", []):
            profiles[str(item["advertiser_id"])] = AdvertiserProfile(
                timezone=str(item.get("timezone") or "UTC"), currency=str(item["currency"]) if item.get("currency") else None
            )
    return profiles


class TikTokAuthApi:
    """The TikTokAuth port over the Business API."""

    def __init__(self, client: TikTokClient) -> None:
        self._client = client

    def exchange_advertiser_code(self, app_id: str, secret: str, auth_code: str) -> AdvertiserGrant:
        data = self._client.post("oauth2/access_token/", {"app_id": app_id, "secret": secret, "auth_code": auth_code})
        return AdvertiserGrant.model_validate(data)

    def authorized_advertisers(self, app_id: str, secret: str, access_token: str) -> list[AuthorizedAdvertiser]:
        """GET /oauth2/advertiser/get/: every ad account the advertiser token reaches."""
        data = self._client.get("oauth2/advertiser/get/", {"app_id": app_id, "secret": secret}, access_token=access_token)
        return [AuthorizedAdvertiser.model_validate(item) for item in data.get("list", [])]

    def advertiser_profiles(self, advertiser_ids: list[str], access_token: str) -> dict[str, AdvertiserProfile]:
        """GET /advertiser/info/: each ad account's time zone (report days are counted in it) and currency."""
        return advertiser_profiles(self._client, advertiser_ids, access_token)

    def message_event_set_ids(self, advertiser_id: str, access_token: str) -> list[str]:
        """GET /ctm/message_event_set/get/: the advertiser's message event sets (needs CTX Events Management)."""
        data = self._client.get("ctm/message_event_set/get/", {"advertiser_id": advertiser_id}, access_token=access_token)
        return [
            str(item["message_event_set_id"]) for item in data.get("message_event_set_list", []) if "message_event_set_id" in item
        ]

    def exchange_business_code(self, app_id: str, secret: str, auth_code: str, redirect_uri: str) -> BusinessGrant:
        body = {
            "client_id": app_id,
            "client_secret": secret,
            "grant_type": "authorization_code",
            "auth_code": auth_code,
            "redirect_uri": redirect_uri,
        }
        return business_grant("tt_user/oauth2/token/", self._client.post("tt_user/oauth2/token/", body))

    def refresh_business_token(self, app_id: str, secret: str, refresh_token: str, retry: RetryPolicy) -> BusinessGrant:
        """How often to try is the caller's: domain/tokens.py owns the refresh retry policy."""
        body = {"client_id": app_id, "client_secret": secret, "grant_type": "refresh_token", "refresh_token": refresh_token}
        return business_grant(
            "tt_user/oauth2/refresh_token/", self._client.post("tt_user/oauth2/refresh_token/", body, retry=retry)
        )


def business_grant(path: str, data: dict[str, object]) -> BusinessGrant:
    """TikTok's tokens; an answer without usable ones is a lost answer (TikTok may have issued them), and its
    error names the missing fields only: the values are tokens."""
    try:
        return BusinessGrant.model_validate(data)
    except ValueError as error:  # pydantic's ValidationError
        errors: list[dict[str, Any]] = getattr(error, "errors", list)()
        fields = sorted({str(e["loc"][0]) for e in errors if e.get("loc")})
        raise TikTokTransportError(f"TikTok API {path} answered without usable tokens (fields: {', '.join(fields)})") from None
