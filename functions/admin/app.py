"""AdminFunction: IAM-authorized admin API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler_support.addresses import connect_start_url
from handler_support.http import json_response
from handler_support.observability import logger, metrics, tracer
from handler_support.report_page import report_csv, report_page
from handler_support.secrets import secret_source
from handler_support.settings import settings
from handler_support.wiring import AdminAdapters
from messaging_partner.domain.connections import LINK_TTL_SECONDS, WORKSPACE, connect_link, connect_link_key
from messaging_partner.domain.errors import AlreadyLinked, UnknownAdvertiser
from messaging_partner.domain.keywords import InvalidKeywords, keyword_rules
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
from messaging_partner.domain.signals import InvalidOutcome, outcome_request, report_outcome

app = APIGatewayHttpResolver()


@lru_cache(maxsize=1)
def _adapters() -> AdminAdapters:
    return AdminAdapters.from_settings(settings())


def _advertiser_view(account: AdvertiserAccount) -> dict[str, Any]:
    return account.model_dump(mode="json", exclude={"token_ciphertext"}, exclude_none=True)


@app.get("/admin/advertisers")
def list_advertisers() -> Response[str]:
    return json_response(200, {"advertisers": [_advertiser_view(a) for a in _adapters().accounts.list_advertisers()]})


@app.get("/admin/advertisers/<advertiser_id>")
def get_advertiser(advertiser_id: str) -> Response[str]:
    found = _adapters().accounts.get_advertiser(advertiser_id)
    if found is None:
        return json_response(404, {"message": str(UnknownAdvertiser(advertiser_id))})
    account, links = found
    return json_response(
        200, {**_advertiser_view(account), "links": [link.model_dump(mode="json", exclude_none=True) for link in links]}
    )


def _channel(name: str) -> Channel | None:
    return Channel(name) if name in Channel.__members__.values() else None


@app.put("/admin/advertisers/<advertiser_id>/links/<channel>/<account_id>")
def put_link(advertiser_id: str, channel: str, account_id: str) -> Response[str]:
    chat_channel = _channel(channel)
    if chat_channel is None:
        return json_response(400, {"message": f"Unknown channel {channel!r}. Use one of: {', '.join(c.value for c in Channel)}."})
    body = app.current_event.json_body if app.current_event.body else {}
    link = AccountLink(
        advertiser_id=advertiser_id,
        channel=chat_channel,
        account_id=unquote(account_id),
        display_name=(body or {}).get("display_name"),
        linked_at_ms=int(time.time() * 1000),
    )
    try:
        _adapters().accounts.link(link)
    except UnknownAdvertiser as error:
        return json_response(404, {"message": str(error)})
    except AlreadyLinked as error:
        return json_response(409, {"message": str(error), "linked_to": error.advertiser_id})
    return json_response(200, link.model_dump(mode="json", exclude_none=True))


@app.delete("/admin/advertisers/<advertiser_id>/links/<channel>/<account_id>")
def delete_link(advertiser_id: str, channel: str, account_id: str) -> Response[str]:
    chat_channel = _channel(channel)
    if chat_channel is None or not _adapters().accounts.unlink(advertiser_id, chat_channel, unquote(account_id)):
        return json_response(404, {"message": f"Advertiser {advertiser_id} has no {channel} link {account_id}."})
    return Response(status_code=204, body="")


@app.post("/admin/connect-links")
def post_connect_link() -> Response[str]:
    """A link that connects TikTok accounts into one workspace: hand it to the person who signs in to TikTok."""
    body = _json_body()
    if not isinstance(body, dict) or body.get("kind") not in ConnectionKind.__members__.values():
        return json_response(400, {"message": 'Send {"kind": "advertiser" or "business", "workspace": "<your workspace>"}.'})
    kind = ConnectionKind(body["kind"])
    ttl = body.get("expires_in_seconds", LINK_TTL_SECONDS)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        return json_response(400, {"message": "expires_in_seconds must be a whole number of seconds."})
    key = connect_link_key(secret_source().tiktok_app_secret())
    try:
        link = connect_link(
            kind, str(body.get("workspace", "")), connect_start_url(app.current_event, kind), key, time.time(), ttl
        )
    except ValueError as refused:
        return json_response(400, {"message": str(refused)})
    return json_response(
        201, {"url": link.url, "kind": kind.value, "workspace": body["workspace"], "expires_at": link.expires_at}
    )


def _move(kind: ConnectionKind, account_id: str) -> Response[str]:
    body = _json_body()
    workspace = body.get("workspace") if isinstance(body, dict) else None
    if not isinstance(workspace, str) or not WORKSPACE.fullmatch(workspace):
        return json_response(400, {"message": 'Send {"workspace": "<the workspace to move it to>"}.'})
    if not _adapters().accounts.move_to_workspace(kind, account_id, workspace):
        return json_response(404, {"message": f"No connected TikTok {kind.value} account {account_id}."})
    return json_response(200, {"kind": kind.value, "account_id": account_id, "workspace": workspace})


@app.put("/admin/advertisers/<advertiser_id>/workspace")
def move_advertiser(advertiser_id: str) -> Response[str]:
    """An operator moves an ad account to another workspace; a connection never does."""
    return _move(ConnectionKind.ADVERTISER, advertiser_id)


@app.put("/admin/businesses/<business_id>/workspace")
def move_business(business_id: str) -> Response[str]:
    return _move(ConnectionKind.BUSINESS, unquote(business_id))


MAX_PAGE = 200


def _moment_ms(value: str | None, default_ms: int, end_of_day: bool = False) -> int | None:
    """Epoch milliseconds, an ISO date (a whole day) or an ISO date-time; None when unreadable."""
    if not value:
        return default_ms
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(value) == 10:
        moment += timedelta(days=1, milliseconds=-1)
    return int(moment.timestamp() * 1000)


@app.get("/admin/conversations")
def list_conversations() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    advertiser_id = query.get("advertiser_id")
    if not advertiser_id:
        return json_response(400, {"message": "advertiser_id is required: conversations are listed per ad account."})
    source = query.get("source")
    if source and source not in ConversationSource.__members__.values():
        return json_response(
            400, {"message": f"Unknown source {source!r}. Use one of: {', '.join(s.value for s in ConversationSource)}."}
        )
    from_ms, to_ms = _moment_ms(query.get("from"), 0), _moment_ms(query.get("to"), 2**53, end_of_day=True)
    if from_ms is None or to_ms is None:
        return json_response(
            400, {"message": "from and to take an ISO date (2026-11-22), an ISO date-time or epoch milliseconds."}
        )
    limit = min(int(query["limit"]), MAX_PAGE) if query.get("limit", "").isdigit() else 50
    conversations, cursor = _adapters().conversations.list_for_advertiser(
        advertiser_id, from_ms, to_ms, source, limit, query.get("next")
    )
    body: dict[str, Any] = {"conversations": [c.model_dump(mode="json", exclude_none=True) for c in conversations]}
    if cursor:
        body["next"] = cursor
    return json_response(200, body)


def _no_conversation(key: str) -> Response[str]:
    return json_response(404, {"message": f"No conversation {key!r}. Keys look like whatsapp#<phone_number_id>#<customer id>."})


@app.get("/admin/conversations/<conversation_key>")
def get_conversation(conversation_key: str) -> Response[str]:
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


@app.post("/admin/conversations/<conversation_key>/outcomes")
def post_outcome(conversation_key: str) -> Response[str]:
    """An operator's outcome (a TikTok standard event with a value), sent once per outcome_id."""
    key = unquote(conversation_key)
    try:
        request = outcome_request(_json_body())
        conversation = _adapters().conversations.get(key)
        if conversation is None:
            return _no_conversation(key)
        record, first = report_outcome(conversation, request, _adapters().conversations, _adapters().signal_inputs, _now_ms())
    except InvalidOutcome as refused:
        return json_response(refused.status, {"message": str(refused)})
    return json_response(202 if first else 200, _signal_view(record))


@app.put("/admin/advertisers/<advertiser_id>/keywords")
def put_keywords(advertiser_id: str) -> Response[str]:
    """Replaces the ad account's keyword list as a whole; a bad entry refuses the whole list, naming it."""
    try:
        rules = keyword_rules(_json_body())
        keywords = _adapters().accounts.replace_keywords(advertiser_id, rules, _now_ms())
    except InvalidKeywords as refused:
        return json_response(400, {"message": "The keyword list was not saved.", "problems": refused.problems})
    except UnknownAdvertiser as error:
        return json_response(404, {"message": str(error)})
    return json_response(200, keywords.model_dump(mode="json"))


@app.get("/admin/advertisers/<advertiser_id>/keywords")
def get_keywords(advertiser_id: str) -> Response[str]:
    accounts = _adapters().accounts
    keywords = accounts.keywords(advertiser_id)
    if keywords is None:
        if accounts.get_advertiser(advertiser_id) is None:
            return json_response(404, {"message": str(UnknownAdvertiser(advertiser_id))})
        keywords = KeywordList(advertiser_id=advertiser_id, version=0, updated_at_ms=0)
    return json_response(200, keywords.model_dump(mode="json"))


def _json_body() -> Any:
    """The request's JSON; None when there is none or it is not JSON (the validators then say what to send)."""
    try:
        return app.current_event.json_body if app.current_event.body else None
    except ValueError:
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)


@app.get("/admin/businesses/<business_id>")
def get_business(business_id: str) -> Response[str]:
    """A TikTok Business Account's connection: status (ACTIVE, NEEDS_REAUTH, DISCONNECTED), why, token expiry."""
    account = _adapters().accounts.get_business(unquote(business_id))
    if account is None:
        return json_response(
            404, {"message": f"No connected TikTok Business Account {business_id}. Connect it: GET /oauth/tiktok/business/start."}
        )
    hidden = {"access_token_ciphertext", "refresh_token_ciphertext"}
    return json_response(200, account.model_dump(mode="json", exclude=hidden, exclude_none=True))


@app.get("/admin/reports")
def get_report() -> Response[str]:
    """TikTok's numbers beside our leads for one ad account: JSON (totals and rows) or, with format=csv, CSV."""
    params = app.current_event.query_string_parameters or {}
    output = params.get("format", "json")
    if output not in ("json", "csv"):
        return json_response(400, {"message": f"Unknown format {output!r}. Use json or csv."})
    asked = _report_query(params)
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


@app.get("/admin/reports/view")
def view_report() -> Response[str]:
    """The report as one self-contained page: a chart of ad-flow vs organic leads per day, then the per-ad table."""
    asked = _report_query({**(app.current_event.query_string_parameters or {}), "group_by": Grouping.DAY.value})
    if isinstance(asked, Response):
        return asked
    query, account = asked
    items = _adapters().reports.items(query.advertiser_id, query.days)
    cards = _cards(query.advertiser_id, items)
    by_ad = ReportQuery(query.advertiser_id, query.first_day, query.last_day, Grouping.AD)
    daily, per_ad = (build_report(q, items, account.timezone, cards, account.currency) for q in (query, by_ad))
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=report_page(daily, per_ad, account.name))


def _report_query(params: dict[str, str]) -> tuple[ReportQuery, AdvertiserAccount] | Response[str]:
    advertiser_id = params.get("advertiser_id")
    if not advertiser_id:
        return json_response(400, {"message": "advertiser_id is required: reports are per ad account."})
    found = _adapters().accounts.get_advertiser(advertiser_id)
    if found is None:
        return json_response(400, {"message": str(UnknownAdvertiser(advertiser_id))})
    account = found[0]
    today = local_date(_now_ms(), account.timezone)
    try:
        return report_query(advertiser_id, params.get("from"), params.get("to"), params.get("group_by"), today), account
    except InvalidReportQuery as refused:
        return json_response(400, {"message": str(refused)})


def _report(query: ReportQuery, account: AdvertiserAccount, items: list[ReportItem]) -> Report:
    return build_report(query, items, account.timezone, _cards(query.advertiser_id, items), account.currency)


def _cards(advertiser_id: str, items: list[ReportItem]) -> dict[str, AdReference]:
    """Ads with leads but no TikTok numbers in the range are named from the ad cache (one batch read)."""
    unnamed = sorted({i.ad_id for i in items if i.ad_id and not (i.metrics and i.metrics.ad_name)})
    return _adapters().ad_cache.get_many(advertiser_id, unnamed) if unnamed else {}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
