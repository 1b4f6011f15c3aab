"""OAuthFunction: /oauth/tiktok/{kind}/start redirects to TikTok; /oauth/tiktok/callback finishes the connection."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.deadline import tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.pages import html_page
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import AccountAdapters
from messaging_partner.domain.connections import ConnectionFailed, finish_connection, start_connection
from messaging_partner.domain.models import ConnectionKind, TikTokApp

app = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def _adapters() -> AccountAdapters:
    return AccountAdapters.from_settings(settings())


def _tiktok_app() -> TikTokApp:
    """The redirect URI: the configured one, else this API's own callback as the browser reached it."""
    event = app.current_event
    scheme = event.headers.get("x-forwarded-proto", "https")
    host = event.headers.get("host") or event.request_context.domain_name
    config = settings()
    return TikTokApp(
        app_id=config.tiktok_app_id,
        secret=secret_source().tiktok_app_secret(),
        redirect_uri=config.oauth_redirect_url or f"{scheme}://{host}/oauth/tiktok/callback",
        advertiser_authorize_url=config.tiktok_advertiser_auth_url,
        business_authorize_url=config.tiktok_business_auth_url,
    )


def _failure_page(failure: ConnectionFailed) -> Response[str]:
    metrics.add_metric(name=f"ConnectionFailed_{failure.reason}", unit=MetricUnit.Count, value=1)
    logger.info("Connection failed", extra={"reason": failure.reason})
    return html_page(failure.status, "The TikTok account was not connected", [failure.title, failure.action])


@app.get("/oauth/tiktok/<kind>/start")
def start(kind: str) -> Response[str]:
    if kind not in ConnectionKind.__members__.values():
        return html_page(404, "Unknown connection", [f"There is no {kind!r} connection. Use advertiser or business."])
    workspace = (app.current_event.query_string_parameters or {}).get("workspace", "")
    try:
        url = start_connection(ConnectionKind(kind), workspace, _tiktok_app(), _adapters().accounts, time.time())
    except ConnectionFailed as failure:
        return _failure_page(failure)
    return Response(status_code=302, headers={"Location": url}, body="")


@app.get("/oauth/tiktok/callback")
def callback() -> Response[str]:
    adapters = _adapters()
    query = app.current_event.query_string_parameters or {}
    try:
        connected = finish_connection(
            query, _tiktok_app(), adapters.accounts, adapters.tiktok, adapters.cipher, adapters.publisher, time.time()
        )
    except ConnectionFailed as failure:
        return _failure_page(failure)
    metrics.add_metric(name=f"Connected_{connected.kind}", unit=MetricUnit.Count, value=len(connected.accounts))
    logger.info(
        "Accounts connected",
        extra={"kind": connected.kind, "accounts": list(connected.accounts), "workspace": connected.workspace},
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
