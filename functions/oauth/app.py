"""OAuthFunction: /oauth/tiktok/{kind}/start (a signed connect link) redirects to TikTok; /oauth/tiktok/callback finishes."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.addresses import oauth_callback_url
from handler_support.deadline import tiktok_calls_bounded
from handler_support.observability import logger, metrics, tracer
from handler_support.pages import html_page
from handler_support.refusals import problems_of
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import AccountAdapters
from messaging_partner.domain.connections import STATE_TTL_SECONDS, ConnectionFailed, finish_connection, start_connection
from messaging_partner.domain.models import ConnectionKind, TikTokApp

# Validation reads the parameters through the annotations below and makes the OpenAPI document (openapi.json).
app = APIGatewayHttpResolver(enable_validation=True)

# Our states are 43 characters (secrets.token_urlsafe(32)); TikTok's codes are shorter than 1,024. Limits keep a
# crafted link from reaching DynamoDB with a key over its 2,048 bytes (a 500) or a workspace bloating the item.
MAX_WORKSPACE_LENGTH = 128
MAX_STATE_LENGTH = 128
MAX_CODE_LENGTH = 1024
MAX_ERROR_LENGTH = 512
MAX_SIGNATURE_LENGTH = 64  # hex SHA-256
MAX_EXPIRES_LENGTH = 12  # unix seconds
PAGE = {"text/html": {"schema": {"type": "string"}}}


def _pages(*answers: tuple[int, str]) -> dict[int, OpenAPIResponse]:
    return {
        status: {"description": what, "content": PAGE} if status != 302 else {"description": what} for status, what in answers
    }


NOT_SET_UP = (503, "The stack has no TikTok app id yet (the page says which parameter to set).")


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


@app.get(
    "/oauth/tiktok/<kind>/start",
    summary="A connect link (POST /admin/connect-links) opened in a browser: TikTok ad accounts or a Business Account",
    responses=_pages(
        (302, "To TikTok's consent page, with a single-use state (10 minutes) bound to the workspace and this browser."),
        (400, "A page naming what does not fit in the link."),
        (403, "A page: the link is not signed by this backend, was altered or has expired."),
        (404, "A page: there is no such connection."),
        (429, "A page: the workspace started too many connections in the last ten minutes."),
        NOT_SET_UP,
    ),
)
def start(
    kind: Annotated[
        str,
        Path(
            max_length=32,
            description="advertiser: TikTok for Business ad accounts; business: the TikTok Business Account for direct messages.",
            json_schema_extra={"enum": [k.value for k in ConnectionKind]},
        ),
    ],
    workspace: Annotated[
        str,
        Query(
            max_length=MAX_WORKSPACE_LENGTH,
            description=f"The workspace the link connects into (at most {MAX_WORKSPACE_LENGTH} characters).",
            examples=["acme"],
        ),
    ] = "",
    expires: Annotated[str, Query(max_length=MAX_EXPIRES_LENGTH, description="When the link stops working (unix s).")] = "",
    signature: Annotated[
        str, Query(max_length=MAX_SIGNATURE_LENGTH, description="The link's signature (HMAC-SHA256, hex).")
    ] = "",
) -> Response[str]:
    """Binds this browser (an HttpOnly cookie; the state keeps only its hash), then goes to TikTok."""
    if kind not in ConnectionKind.__members__.values():
        return html_page(404, "Unknown connection", [f"There is no {kind!r} connection. Use advertiser or business."])
    link = {"workspace": workspace, "expires": expires, "signature": signature}
    try:
        started = start_connection(ConnectionKind(kind), link, _tiktok_app(), _adapters().accounts, time.time())
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


@app.get(
    "/oauth/tiktok/callback",
    summary="Where TikTok sends the browser back: finishes the connection",
    responses=_pages(
        (200, "A page naming the connected accounts."),
        (400, "A page: consent denied, the link used, expired or altered, or the code used (40110)."),
        (403, "A page: started in another browser, or a permission was not granted (40001)."),
        (409, "A page: every account granted is connected to another workspace."),
        (502, "A page: TikTok refused the app's credentials (40113) or could not be reached."),
        (504, "A page: TikTok did not answer in time."),
        NOT_SET_UP,
    ),
)
def callback(
    state: Annotated[str, Query(max_length=MAX_STATE_LENGTH, description="The state the start gave TikTok.")] = "",
    auth_code: Annotated[str, Query(max_length=MAX_CODE_LENGTH, description="TikTok's code (ad accounts).")] = "",
    code: Annotated[str, Query(max_length=MAX_CODE_LENGTH, description="TikTok's code (Business Accounts).")] = "",
    error: Annotated[str, Query(max_length=MAX_ERROR_LENGTH, description="Set when the person did not allow.")] = "",
) -> Response[str]:
    adapters = _adapters()
    query = {
        name: value for name, value in (("state", state), ("auth_code", auth_code), ("code", code), ("error", error)) if value
    }
    cookies = dict(c.split("=", 1) for c in app.current_event.cookies or [] if "=" in c)
    try:
        connected = finish_connection(
            query, _tiktok_app(), adapters.accounts, adapters.tiktok, adapters.cipher, adapters.publisher, time.time(), cookies
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


@app.exception_handler(RequestValidationError)
def _refused(error: RequestValidationError) -> Response[str]:
    """The person is in a browser: a page naming what was wrong with the link."""
    return html_page(
        400,
        "The TikTok account was not connected",
        ["This link was not one this app makes.", "Start the connection again from the app."],
        problems_of(error.errors()),
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
