"""This API's public addresses for OAuth: from configuration or the API's own id, never from request headers.

A Host or X-Forwarded-Proto header is whatever the client sent; a redirect URI built from it
could send TikTok's authorization code elsewhere. API Gateway sets requestContext.apiId
itself, so the default address (the execute-api domain) cannot be steered by a request.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from messaging_partner.domain.models import ConnectionKind

from .settings import settings

CALLBACK_PATH = "/oauth/tiktok/callback"


def _execute_api_origin(event: APIGatewayProxyEventV2) -> str:
    region = os.environ.get("AWS_REGION") or os.environ["AWS_DEFAULT_REGION"]  # Lambda sets AWS_REGION
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{event.request_context.api_id}.execute-api.{region}.{suffix}"


def oauth_callback_url(event: APIGatewayProxyEventV2) -> str:
    """The redirect URI registered at TikTok: OAuthRedirectUrl, else this API's execute-api address."""
    return settings().oauth_redirect_url or _execute_api_origin(event) + CALLBACK_PATH


def connect_start_url(event: APIGatewayProxyEventV2, kind: ConnectionKind) -> str:
    """Where a connect link points: beside the callback (a custom domain included)."""
    callback = oauth_callback_url(event)
    base = callback.split(CALLBACK_PATH)[0] if CALLBACK_PATH in callback else _execute_api_origin(event)
    return f"{base}/oauth/tiktok/{kind.value}/start"
