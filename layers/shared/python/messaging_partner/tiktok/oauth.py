"""Marketing API authorization endpoints (reference/tiktok.md section 1a)."""

from __future__ import annotations

from pydantic import BaseModel

from .client import TikTokClient


class AuthorizedAdvertiser(BaseModel):
    advertiser_id: str
    advertiser_name: str | None = None


def authorized_advertisers(client: TikTokClient, app_id: str, secret: str, access_token: str) -> list[AuthorizedAdvertiser]:
    """GET /oauth2/advertiser/get/: every ad account the advertiser token reaches."""
    data = client.get("oauth2/advertiser/get/", {"app_id": app_id, "secret": secret}, access_token=access_token)
    return [AuthorizedAdvertiser.model_validate(item) for item in data.get("list", [])]
