"""AdminFunction: IAM-authorized admin API."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.addresses import connect_start_url
from handler_support.http import json_response
from handler_support.observability import logger, metrics, tracer
from handler_support.refusals import BodyNotAnObject, json_object_body, readable_json_bodies, validation_refusal
from handler_support.report_page import report_csv, report_page
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import AdminAdapters
from messaging_partner.domain.admin_api import (
    DEFAULT_PAGE_SIZE,
    MAX_BODY_BYTES,
    MAX_CONVERSATION_KEY_LENGTH,
    MAX_CURSOR_LENGTH,
    MAX_ID_LENGTH,
    MAX_PAGE_SIZE,
    AdvertiserDetail,
    AdvertiserList,
    BusinessView,
    ConnectLinkRequest,
    ConnectLinkView,
    ConversationDetail,
    ConversationPage,
    KeywordListRequest,
    LinkRequest,
    MomentFrom,
    MomentTo,
    OutcomeBody,
    Refusal,
    ReportView,
    WorkspaceMove,
    WorkspaceView,
)
from messaging_partner.domain.connections import connect_link, connect_link_key
from messaging_partner.domain.errors import AlreadyLinked, InvalidCursor, UnknownAdvertiser
from messaging_partner.domain.leads import local_date
from messaging_partner.domain.models import (
    AccountLink,
    AdReference,
    AdvertiserAccount,
    Channel,
    ConnectionKind,
    ConversationSource,
    KeywordList,
    SignalRecord,
)
from messaging_partner.domain.reports import (
    Grouping,
    InvalidReportQuery,
    Report,
    ReportItem,
    ReportQuery,
    build_report,
    report_query,
)
from messaging_partner.domain.signals import InvalidOutcome, report_outcome

# Validation reads every parameter and body through the annotations below (limits in
# messaging_partner/domain/admin_api.py) and is what the OpenAPI document (openapi.json) is made from.
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=json_object_body)
IAM = [{"iam": []}]  # every admin route: SigV4-signed by a principal allowed execute-api:Invoke


def _answers(ok: int, model: Any, what: str, *refusals: int, media: str = "application/json") -> dict[int, OpenAPIResponse]:
    """The route's answers for the OpenAPI document: its success with its shape, then each refusal."""
    success: OpenAPIResponse = {"description": what, "content": {media: {"model": model}}} if model else {"description": what}
    return {ok: success, **_refusals(*refusals)}


def _refusals(*statuses: int) -> dict[int, OpenAPIResponse]:
    why = {
        400: "Refused: the message says why, problems lists each field and what was wrong.",
        404: "Nothing by that name.",
        409: "In conflict with what is stored; the message says what to do.",
        413: f"The body is over {MAX_BODY_BYTES:,} bytes.",
        415: "The body is not sent as application/json.",
    }
    return {status: {"description": why[status], "content": {"application/json": {"model": Refusal}}} for status in statuses}


AdvertiserId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description=f"The TikTok ad account id (at most {MAX_ID_LENGTH} characters).",
        examples=["7100000000000000001"],
    ),
]
ConversationKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_CONVERSATION_KEY_LENGTH,
        description="<channel>#<chat account id>#<customer id>, with each # sent as %23 "
        f"(at most {MAX_CONVERSATION_KEY_LENGTH} characters as sent).",
        examples=["whatsapp#106540352242922#351910000001"],
    ),
]
ChatAccountId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="A WhatsApp phone_number_id, Messenger Page id, Instagram account id or TikTok business id "
        f"(at most {MAX_ID_LENGTH} characters as sent, percent-encoded).",
        examples=["106540352242922"],
    ),
]
BusinessId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description=f"The TikTok Business Account's open_id (at most {MAX_ID_LENGTH} characters as sent).",
        examples=["-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"],
    ),
]
ChatChannel = Annotated[Channel, Path(description="The chat platform.")]
QueryAdvertiserId = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description=f"The TikTok ad account (at most {MAX_ID_LENGTH} characters).",
        examples=["7100000000000000001"],
    ),
]
ReportFrom = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=10,
        description="The first day, YYYY-MM-DD in the ad account's time zone (default: 6 days before to).",
        examples=["2026-11-16"],
    ),
]
ReportTo = Annotated[
    str | None,
    Query(
        alias="to",
        max_length=10,
        description="The last day, YYYY-MM-DD (default: today); at most 93 days.",
        examples=["2026-11-22"],
    ),
]


@lru_cache(maxsize=1)
def _adapters() -> AdminAdapters:
    return AdminAdapters.from_settings(settings())


def _advertiser_view(account: AdvertiserAccount) -> dict[str, Any]:
    return account.model_dump(mode="json", exclude={"token_ciphertext"}, exclude_none=True)


@app.get(
    "/admin/advertisers",
    summary="List the connected TikTok ad accounts and their status",
    security=IAM,
    responses=_answers(200, AdvertiserList, "The connected ad accounts."),
)
def list_advertisers() -> Response[str]:
    return json_response(200, {"advertisers": [_advertiser_view(a) for a in _adapters().accounts.list_advertisers()]})


@app.get(
    "/admin/advertisers/<advertiser_id>",
    summary="One ad account with its linked chat accounts",
    security=IAM,
    responses=_answers(200, AdvertiserDetail, "The ad account with its linked chat accounts.", 400, 404),
)
def get_advertiser(advertiser_id: AdvertiserId) -> Response[str]:
    found = _adapters().accounts.get_advertiser(advertiser_id)
    if found is None:
        return json_response(404, {"message": str(UnknownAdvertiser(advertiser_id))})
    account, links = found
    return json_response(
        200, {**_advertiser_view(account), "links": [link.model_dump(mode="json", exclude_none=True) for link in links]}
    )


@app.put(
    "/admin/advertisers/<advertiser_id>/links/<channel>/<account_id>",
    summary="Link a chat account to the ad account (409 if another holds it)",
    security=IAM,
    responses=_answers(200, AccountLink, "Linked (again, when it already was).", 400, 404, 409, 413, 415),
)
def put_link(
    advertiser_id: AdvertiserId,
    channel: ChatChannel,
    account_id: ChatAccountId,
    body: Annotated[LinkRequest | None, Body(description="Optional: how people know the chat account.")] = None,
) -> Response[str]:
    link = AccountLink(
        advertiser_id=advertiser_id,
        channel=channel,
        account_id=unquote(account_id),
        display_name=body.display_name if body else None,
        linked_at_ms=int(time.time() * 1000),
    )
    try:
        _adapters().accounts.link(link)
    except UnknownAdvertiser as error:
        return json_response(404, {"message": str(error)})
    except AlreadyLinked as error:
        return json_response(409, {"message": str(error), "linked_to": error.advertiser_id})
    return json_response(200, link.model_dump(mode="json", exclude_none=True))


@app.delete(
    "/admin/advertisers/<advertiser_id>/links/<channel>/<account_id>",
    summary="Unlink a chat account; conversations and reports stay",
    security=IAM,
    responses=_answers(204, None, "Unlinked; its conversations and reports stay.", 400, 404),
)
def delete_link(advertiser_id: AdvertiserId, channel: ChatChannel, account_id: ChatAccountId) -> Response[str]:
    if not _adapters().accounts.unlink(advertiser_id, channel, unquote(account_id)):
        return json_response(404, {"message": f"Advertiser {advertiser_id} has no {channel} link {account_id}."})
    return Response(status_code=204, body="")


@app.post(
    "/admin/connect-links",
    summary="A signed, short-lived link that connects TikTok accounts into one workspace",
    security=IAM,
    responses=_answers(201, ConnectLinkView, "The link: send the person's browser to url.", 400, 413, 415),
)
def post_connect_link(
    body: Annotated[ConnectLinkRequest, Body(description="What to connect, and into which workspace.")],
) -> Response[str]:
    """Hand the link to the person who signs in to TikTok; it works in the browser that opens it, until it expires."""
    key = connect_link_key(secret_source().tiktok_app_secret())
    start_url = connect_start_url(app.current_event, body.kind)
    link = connect_link(body.kind, body.workspace, start_url, key, time.time(), body.expires_in_seconds)
    view = ConnectLinkView(url=link.url, kind=body.kind, workspace=body.workspace, expires_at=link.expires_at)
    return json_response(201, view.model_dump(mode="json"))


def _move(kind: ConnectionKind, account_id: str, body: WorkspaceMove) -> Response[str]:
    if not _adapters().accounts.move_to_workspace(kind, account_id, body.workspace):
        return json_response(404, {"message": f"No connected TikTok {kind.value} account {account_id}."})
    return json_response(200, WorkspaceView(kind=kind, account_id=account_id, workspace=body.workspace).model_dump(mode="json"))


MoveBody = Annotated[WorkspaceMove, Body(description="The workspace to move it to.")]


@app.put(
    "/admin/advertisers/<advertiser_id>/workspace",
    summary="Move a connected ad account to another workspace (a connection never does)",
    security=IAM,
    responses=_answers(200, WorkspaceView, "Moved.", 400, 404, 413, 415),
)
def move_advertiser(advertiser_id: AdvertiserId, body: MoveBody) -> Response[str]:
    return _move(ConnectionKind.ADVERTISER, advertiser_id, body)


@app.put(
    "/admin/businesses/<business_id>/workspace",
    summary="Move a connected TikTok Business Account to another workspace",
    security=IAM,
    responses=_answers(200, WorkspaceView, "Moved.", 400, 404, 413, 415),
)
def move_business(business_id: BusinessId, body: MoveBody) -> Response[str]:
    return _move(ConnectionKind.BUSINESS, unquote(business_id), body)


@app.get(
    "/admin/conversations",
    summary="The ad account's conversations, newest first, a page at a time",
    security=IAM,
    responses=_answers(200, ConversationPage, "The ad account's conversations, newest first.", 400),
)
def list_conversations(
    advertiser_id: QueryAdvertiserId,
    source: Annotated[ConversationSource | None, Query(description="Only conversations from this source.")] = None,
    start: Annotated[
        MomentFrom | None,
        Query(alias="from", description="Started at or after: an ISO date, an ISO date-time or epoch milliseconds."),
    ] = None,
    end: Annotated[
        MomentTo | None,
        Query(alias="to", description="Started at or before (a date: to its end): as from."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Conversations per page, 1 to {MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            alias="next",
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            description="The previous page's next, exactly as given; leave it out for the first page.",
        ),
    ] = None,
) -> Response[str]:
    conversations, following = _adapters().conversations.list_for_advertiser(
        advertiser_id, start if start is not None else 0, end if end is not None else 2**53, source, limit, cursor
    )
    body: dict[str, Any] = {"conversations": [c.model_dump(mode="json", exclude_none=True) for c in conversations]}
    if following:
        body["next"] = following
    return json_response(200, body)


def _no_conversation(key: str) -> Response[str]:
    return json_response(404, {"message": f"No conversation {key!r}. Keys look like whatsapp#<phone_number_id>#<customer id>."})


@app.get(
    "/admin/conversations/<conversation_key>",
    summary="A conversation with its source, ad card, events and signals",
    security=IAM,
    responses=_answers(200, ConversationDetail, "The conversation, its events and its signals.", 400, 404),
)
def get_conversation(conversation_key: ConversationKey) -> Response[str]:
    """The conversation with its events (reactions, edits, deletions, notices) and signals; events may come first."""
    key = unquote(conversation_key)  # keys hold '#', sent as %23
    view = _adapters().conversations.conversation_view(key)
    if view is None:
        return _no_conversation(key)
    conversation = view.conversation
    body: dict[str, Any] = conversation.model_dump(mode="json", exclude_none=True) if conversation else {"conversation_key": key}
    body["events"] = [event.model_dump(mode="json", exclude_none=True) for event in view.events]
    body["signals"] = [_signal_view(record) for record in view.signals]
    return json_response(200, body)


def _signal_view(record: SignalRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude_none=True)


@app.post(
    "/admin/conversations/<conversation_key>/outcomes",
    summary="Send an outcome (a TikTok standard event with a value) once per outcome_id",
    security=IAM,
    responses={
        **_answers(202, SignalRecord, "Queued for TikTok, once.", 400, 404, 409, 413, 415),
        200: {"description": "Posted before: the first one.", "content": {"application/json": {"model": SignalRecord}}},
    },
)
def post_outcome(conversation_key: ConversationKey, body: Annotated[OutcomeBody, Body()]) -> Response[str]:
    """An operator's outcome (a TikTok standard event with a value), sent once per outcome_id."""
    key = unquote(conversation_key)
    conversation = _adapters().conversations.get(key)
    if conversation is None:
        return _no_conversation(key)
    try:
        record, first = report_outcome(
            conversation, body.request(), _adapters().conversations, _adapters().signal_inputs, _now_ms()
        )
    except InvalidOutcome as refused:
        return json_response(refused.status, {"message": str(refused)})
    return json_response(202 if first else 200, _signal_view(record))


@app.put(
    "/admin/advertisers/<advertiser_id>/keywords",
    summary="Replace the ad account's keyword list, whole",
    security=IAM,
    responses=_answers(200, KeywordList, "Saved, with its new version.", 400, 404, 413, 415),
)
def put_keywords(advertiser_id: AdvertiserId, body: Annotated[KeywordListRequest, Body()]) -> Response[str]:
    """Replaces the ad account's keyword list as a whole; a bad entry refuses the whole list, naming it."""
    try:
        keywords = _adapters().accounts.replace_keywords(advertiser_id, body.rules(), _now_ms())
    except UnknownAdvertiser as error:
        return json_response(404, {"message": str(error)})
    return json_response(200, keywords.model_dump(mode="json"))


@app.get(
    "/admin/advertisers/<advertiser_id>/keywords",
    summary="The ad account's keyword list and its version",
    security=IAM,
    responses=_answers(200, KeywordList, "The list and its version (0 before the first PUT).", 400, 404),
)
def get_keywords(advertiser_id: AdvertiserId) -> Response[str]:
    accounts = _adapters().accounts
    keywords = accounts.keywords(advertiser_id)
    if keywords is None:
        if accounts.get_advertiser(advertiser_id) is None:
            return json_response(404, {"message": str(UnknownAdvertiser(advertiser_id))})
        keywords = KeywordList(advertiser_id=advertiser_id, version=0, updated_at_ms=0)
    return json_response(200, keywords.model_dump(mode="json"))


def _now_ms() -> int:
    return int(time.time() * 1000)


@app.get(
    "/admin/businesses/<business_id>",
    summary="A TikTok Business Account's connection: status, why, token expiry",
    security=IAM,
    responses=_answers(200, BusinessView, "The Business Account's connection.", 400, 404),
)
def get_business(business_id: BusinessId) -> Response[str]:
    """A TikTok Business Account's connection: status (ACTIVE, NEEDS_REAUTH, DISCONNECTED), why, token expiry."""
    account = _adapters().accounts.get_business(unquote(business_id))
    if account is None:
        return json_response(
            404,
            {"message": f"No connected TikTok Business Account {business_id}. Connect it: POST /admin/connect-links."},
        )
    hidden = {"access_token_ciphertext", "refresh_token_ciphertext"}
    return json_response(200, account.model_dump(mode="json", exclude=hidden, exclude_none=True))


@app.get(
    "/admin/reports",
    summary="TikTok's spend beside our leads, by day, ad or campaign (JSON or CSV)",
    security=IAM,
    responses={
        **_refusals(400),
        200: {
            "description": "The report as JSON, or with format=csv as a CSV attachment with a header row.",
            "content": {"application/json": {"model": ReportView}, "text/csv": {"schema": {"type": "string"}}},
        },
    },
)
def get_report(
    advertiser_id: QueryAdvertiserId,
    first: ReportFrom = None,
    last: ReportTo = None,
    group_by: Annotated[Grouping, Query(description="Rows per day, ad or campaign.")] = Grouping.DAY,
    output: Annotated[Literal["json", "csv"], Query(alias="format", description="JSON, or CSV with a header row.")] = "json",
) -> Response[str]:
    """TikTok's numbers beside our leads for one ad account: JSON (totals and rows) or, with format=csv, CSV.

    Both ends default to the last 7 days up to today in the ad account's time zone; at most 93 days.
    """
    asked = _report_query(advertiser_id, first, last, group_by)
    if isinstance(asked, Response):
        return asked
    query, account = asked
    report = _report(query, account, _adapters().reports.items(query.advertiser_id, query.days))
    if output == "json":
        return json_response(200, report.as_json())
    filename = f"report-{query.advertiser_id}-{query.first_day}-{query.last_day}-by-{query.grouping.value}.csv"
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=report_csv(report),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@app.get(
    "/admin/reports/view",
    summary="The report as one self-contained HTML page with a chart",
    security=IAM,
    responses=_answers(200, str, "One self-contained HTML page: the chart, then the per-ad table.", 400, media="text/html"),
)
def view_report(
    advertiser_id: QueryAdvertiserId,
    first: ReportFrom = None,
    last: ReportTo = None,
) -> Response[str]:
    """The report as one self-contained page: a chart of ad-flow vs organic leads per day, then the per-ad table."""
    asked = _report_query(advertiser_id, first, last, Grouping.DAY)
    if isinstance(asked, Response):
        return asked
    query, account = asked
    items = _adapters().reports.items(query.advertiser_id, query.days)
    cards = _cards(query.advertiser_id, items)
    by_ad = ReportQuery(query.advertiser_id, query.first_day, query.last_day, Grouping.AD)
    daily, per_ad = (build_report(q, items, account.timezone, cards, account.currency) for q in (query, by_ad))
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=report_page(daily, per_ad, account.name))


def _report_query(
    advertiser_id: str, first: str | None, last: str | None, grouping: Grouping
) -> tuple[ReportQuery, AdvertiserAccount] | Response[str]:
    found = _adapters().accounts.get_advertiser(advertiser_id)
    if found is None:
        return json_response(400, {"message": str(UnknownAdvertiser(advertiser_id))})
    account = found[0]
    today = local_date(_now_ms(), account.timezone)
    try:
        return report_query(advertiser_id, first, last, grouping, today), account
    except InvalidReportQuery as refused:
        return json_response(400, {"message": str(refused)})


def _report(query: ReportQuery, account: AdvertiserAccount, items: list[ReportItem]) -> Report:
    return build_report(query, items, account.timezone, _cards(query.advertiser_id, items), account.currency)


def _cards(advertiser_id: str, items: list[ReportItem]) -> dict[str, AdReference]:
    """Ads with leads but no TikTok numbers in the range are named from the ad cache (one batch read)."""
    unnamed = sorted({i.ad_id for i in items if i.ad_id and not (i.metrics and i.metrics.ad_name)})
    return _adapters().ad_cache.get_many(advertiser_id, unnamed) if unnamed else {}


@app.exception_handler(RequestValidationError)
def _refused(error: RequestValidationError) -> Response[str]:
    return validation_refusal(error)


@app.exception_handler(BodyNotAnObject)
def _not_an_object(error: BodyNotAnObject) -> Response[str]:
    return json_response(400, {"message": str(error)})


@app.exception_handler(InvalidCursor)
def _bad_cursor(error: InvalidCursor) -> Response[str]:
    return json_response(400, {"message": str(error)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
@readable_json_bodies(MAX_BODY_BYTES)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
