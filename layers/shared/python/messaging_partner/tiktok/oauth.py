"""Authorization endpoints: Marketing API advertiser tokens and tt_user Business Account tokens (tiktok.md 1a, 1b)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from .client import TikTokClient


class AuthorizedAdvertiser(BaseModel):
    advertiser_id: str
    advertiser_name: str | None = None


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


def exchange_advertiser_code(client: TikTokClient, app_id: str, secret: str, auth_code: str) -> AdvertiserGrant:
    data = client.post("oauth2/access_token/", {"app_id": app_id, "secret": secret, "auth_code": auth_code})
    return AdvertiserGrant.model_validate(data)


def authorized_advertisers(client: TikTokClient, app_id: str, secret: str, access_token: str) -> list[AuthorizedAdvertiser]:
    """GET /oauth2/advertiser/get/: every ad account the advertiser token reaches."""
    data = client.get("oauth2/advertiser/get/", {"app_id": app_id, "secret": secret}, access_token=access_token)
    return [AuthorizedAdvertiser.model_validate(item) for item in data.get("list", [])]


def advertiser_timezones(client: TikTokClient, advertiser_ids: list[str], access_token: str) -> dict[str, str]:
    """GET /advertiser/info/: each ad account's time zone (report days are counted in it)."""
    data = client.get("advertiser/info/", {"advertiser_ids": json.dumps(advertiser_ids)}, access_token=access_token)
    return {str(item["advertiser_id"]): str(item["timezone"]) for item in data.get("list", []) if item.get("timezone")}


def message_event_set_ids(client: TikTokClient, advertiser_id: str, access_token: str) -> list[str]:
    """GET /ctm/message_event_set/get/: the advertiser's message event sets (needs CTX Events Management)."""
    data = client.get("ctm/message_event_set/get/", {"advertiser_id": advertiser_id}, access_token=access_token)
    return [
        str(item["message_event_set_id"]) for item in data.get("message_event_set_list", []) if "message_event_set_id" in item
    ]


def exchange_business_code(client: TikTokClient, app_id: str, secret: str, auth_code: str, redirect_uri: str) -> BusinessGrant:
    body = {
        "client_id": app_id,
        "client_secret": secret,
        "grant_type": "authorization_code",
        "auth_code": auth_code,
        "redirect_uri": redirect_uri,
    }
    return BusinessGrant.model_validate(client.post("tt_user/oauth2/token/", body))


def refresh_business_token(client: TikTokClient, app_id: str, secret: str, refresh_token: str) -> BusinessGrant:
    body = {"client_id": app_id, "client_secret": secret, "grant_type": "refresh_token", "refresh_token": refresh_token}
    return BusinessGrant.model_validate(client.post("tt_user/oauth2/refresh_token/", body, retry_system_errors=True))
