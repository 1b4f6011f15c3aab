"""OAuthFunction: /oauth/tiktok/{kind}/start (a signed connect link) redirects to TikTok; /oauth/tiktok/callback finishes."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.addresses import oauth_callback_url
from handler_support.deadline import tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.pages import html_page
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import AccountAdapters
from messaging_partner.domain.connections import STATE_TTL_SECONDS, ConnectionFailed, finish_connection, start_connection
from messaging_partner.domain.models import ConnectionKind, TikTokApp

app = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def _adapters() -> AccountAdapters:
    return AccountAdapters.from_settings(settings())


def _tiktok_app() -> TikTokApp:
    config = settings()
    return TikTokApp(
        app_id=config.tiktok_app_id,
        secret=secret_source().tiktok_app_secret(),
        redirect_uri=oauth_callback_url(app.current_event),
        advertiser_authorize_url=config.tiktok_advertiser_auth_url,
        business_authorize_url=config.tiktok_business_auth_url,
    )


def _failure_page(failure: ConnectionFailed) -> Response[str]:
    metrics.add_metric(name=f"ConnectionFailed_{failure.reason}", unit=MetricUnit.Count, value=1)
    logger.info("Connection failed", extra={"reason": failure.reason})
    return html_page(failure.status, "The TikTok account was not connected", [failure.title, failure.action])


@app.get("/oauth/tiktok/<kind>/start")
def start(kind: str) -> Response[str]:
    """A signed connect link (POST /admin/connect-links) opened in a browser: bind that browser, go to TikTok."""
    if kind not in ConnectionKind.__members__.values():
        return html_page(404, "Unknown connection", [f"There is no {kind!r} connection. Use advertiser or business."])
    query = app.current_event.query_string_parameters or {}
    try:
        started = start_connection(ConnectionKind(kind), query, _tiktok_app(), _adapters().accounts, time.time())
    except ConnectionFailed as failure:
        return _failure_page(failure)
    cookie = Cookie(
        name=started.cookie_name,
        value=started.browser_secret,
        path="/oauth/tiktok",
        max_age=STATE_TTL_SECONDS,
        secure=True,
        http_only=True,
        same_site=SameSite.LAX_MODE,  # sent on TikTok's redirect back, a top-level GET; not on cross-site requests
    )
    return Response(status_code=302, headers={"Location": started.authorize_url}, cookies=[cookie], body="")


@app.get("/oauth/tiktok/callback")
def callback() -> Response[str]:
    adapters = _adapters()
    event = app.current_event
    cookies = dict(c.split("=", 1) for c in event.cookies or [] if "=" in c)
    try:
        connected = finish_connection(
            event.query_string_parameters or {},
            _tiktok_app(),
            adapters.accounts,
            adapters.tiktok,
            adapters.cipher,
            adapters.publisher,
            time.time(),
            cookies,
        )
    except ConnectionFailed as failure:
        return _failure_page(failure)
    metrics.add_metric(name=f"Connected_{connected.kind}", unit=MetricUnit.Count, value=len(connected.accounts))
    logger.info(
        "Accounts connected",
        extra={
            "kind": connected.kind,
            "accounts": list(connected.accounts),
            "workspace": connected.workspace,
            "elsewhere": connected.elsewhere,
        },
    )
    what = "TikTok ad accounts" if connected.kind is ConnectionKind.ADVERTISER else "TikTok Business Account"
    items = [f"{name} ({account_id})" if name else account_id for account_id, name in connected.accounts.items()]
    return html_page(
        200, f"Connected: {what}", ["These accounts are now connected. You can close this page.", *connected.notes], items
    )


def configured(app: APIGatewayHttpResolver, next_middleware: Any) -> Response[str]:
    """A stack deployed without its TikTok app id (the parameter defaults to empty) says so instead of failing at TikTok."""
    if not settings().tiktok_app_id:
        return html_page(
            503,
            "TikTok connections are not set up yet",
            [
                "This backend has no TikTok app id. Its operator sets it with "
                "sam deploy --parameter-overrides TikTokAppId=<your app id> (TikTok for Business > My Apps > App Detail)."
            ],
        )
    response: Response[str] = next_middleware(app)
    return response


app.use(middlewares=[configured])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
@tiktok_calls_bounded
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
