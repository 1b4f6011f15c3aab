"""Both OAuth flows, account links and the token refresher, against moto and the TikTok emulator."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from handler_support import settings
from local.runtime import LambdaContext
from local.stack import scheduled_event
from messaging_partner.adapters.aws.account_links import DynamoAccountStore
from messaging_partner.adapters.aws.kms import KmsTokenCipher
from messaging_partner.domain.errors import TokenUnreadable
from messaging_partner.domain.models import Channel, OAuthState
from messaging_partner.domain.tokens import token_context
from tests.integration.conftest import IntegrationStack, RunningEmulator

ADVERTISER_1, ADVERTISER_2 = "7100000000000000001", "7100000000000000002"
BUSINESS = "-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"


def store(stack: IntegrationStack) -> DynamoAccountStore:
    return DynamoAccountStore(stack.provisioned.attribute("AccountLinksTable", "Ref"))


def bus_events(stack: IntegrationStack) -> Callable[[], list[dict[str, Any]]]:
    """Everything on the domain bus from now on, through a rule and queue made for the test: call to read."""
    events, sqs = stack.session.client("events"), stack.session.client("sqs")
    url = sqs.create_queue(QueueName="test-bus-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.provisioned.attribute("DomainBus", "Name")
    events.put_rule(Name="test-capture", EventBusName=bus, EventPattern=json.dumps({"source": ["messaging-partner"]}))
    events.put_targets(Rule="test-capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    captured: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        captured.extend(json.loads(message["Body"]) for message in messages)
        return captured

    return read


@dataclass(frozen=True)
class Started:
    authorize_url: str  # TikTok's consent page
    browser: dict[str, str]  # the starting browser's cookie header


def link_path(stack: IntegrationStack, kind: str, workspace: str = "acme") -> str:
    """A connect link from the admin API, as path and query of the OAuth function."""
    body = json.dumps({"kind": kind, "workspace": workspace}).encode()
    answer = stack.http("AdminFunction", "POST", "/admin/connect-links", body, {"content-type": "application/json"})
    assert answer["statusCode"] == 201, answer
    url = urlsplit(json.loads(answer["body"])["url"])
    return f"{url.path}?{url.query}"


def start(stack: IntegrationStack, kind: str, workspace: str = "acme") -> Started:
    response = stack.http("OAuthFunction", "GET", link_path(stack, kind, workspace))
    assert response["statusCode"] == 302, response
    [cookie] = response["cookies"]
    return Started(str(response["headers"]["Location"]), {"cookie": cookie.split(";", 1)[0]})


def consent(started: Started) -> tuple[str, dict[str, str]]:
    """The browser at TikTok's consent page: it redirects back to our callback, keeping its cookie."""
    answer = requests.get(started.authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"]), started.browser


def callback(stack: IntegrationStack, redirect: tuple[str, dict[str, str]]) -> dict[str, Any]:
    url, browser = redirect
    parts = urlsplit(url)
    assert parts.path == "/oauth/tiktok/callback"
    return stack.http("OAuthFunction", "GET", f"{parts.path}?{parts.query}", headers=browser)


def connect(stack: IntegrationStack, kind: str, workspace: str = "acme") -> dict[str, Any]:
    return callback(stack, consent(start(stack, kind, workspace)))


def test_advertiser_connection_end_to_end(aws_stack: IntegrationStack) -> None:
    events = bus_events(aws_stack)
    authorize = start(aws_stack, "advertiser")
    query = parse_qs(urlsplit(authorize.authorize_url).query)
    assert query["app_id"] == ["local-tiktok-app"]
    # No OAuthRedirectUrl: the API's own execute-api address, from the API id API Gateway passes.
    assert query["redirect_uri"] == ["https://local.execute-api.us-east-1.amazonaws.com/oauth/tiktok/callback"]
    page = callback(aws_stack, consent(authorize))
    assert page["statusCode"] == 200
    assert "Demo Sneakers (7100000000000000001)" in page["body"]
    assert "no message event set access" in page["body"]  # the second ad account lacks the permission

    account, links = store(aws_stack).get_advertiser(ADVERTISER_1)  # type: ignore[misc]
    assert (account.name, account.workspace, account.status, links) == ("Demo Sneakers", "acme", "ACTIVE", [])
    assert account.message_event_set_ids == ["7200000000000000001"]
    assert "local-advertiser-token" not in account.token_ciphertext  # the raw item holds ciphertext
    cipher = KmsTokenCipher(aws_stack.provisioned.attribute("TokenKey", "Ref"))
    assert cipher.decrypt(account.token_ciphertext, token_context("advertiser", ADVERTISER_1)) == "local-advertiser-token"
    with pytest.raises(TokenUnreadable, match="InvalidCiphertext"):  # bound to its account by the encryption context
        cipher.decrypt(account.token_ciphertext, token_context("advertiser", ADVERTISER_2))
    [connected] = [e for e in events() if e["detail-type"] == "AccountConnected"]  # type: ignore[attr-defined]
    assert connected["detail"]["account_ids"] == [ADVERTISER_1, ADVERTISER_2]


def test_business_connection_stores_rotating_tokens_encrypted(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    page = connect(aws_stack, "business")
    assert page["statusCode"] == 200, page["body"]
    account = store(aws_stack).get_business(BUSINESS)
    assert account is not None
    grant = next(iter(emulator.state.grants.values()))
    assert grant.access_token not in account.access_token_ciphertext
    cipher = KmsTokenCipher(aws_stack.provisioned.attribute("TokenKey", "Ref"))
    assert cipher.decrypt(account.refresh_token_ciphertext, token_context("business", BUSINESS)) == grant.refresh_token
    assert 86_000_000 < account.access_expires_at_ms - account.connected_at_ms <= 86_400_000
    assert "message.list.send" in account.scopes


def test_state_is_single_use(aws_stack: IntegrationStack) -> None:
    redirect = consent(start(aws_stack, "advertiser"))
    assert callback(aws_stack, redirect)["statusCode"] == 200
    again = callback(aws_stack, redirect)
    assert again["statusCode"] == 400
    assert "already used" in again["body"]


@pytest.mark.parametrize("tamper", ["drop", "alter"])
def test_tampered_state_is_refused(aws_stack: IntegrationStack, tamper: str) -> None:
    redirect, browser = consent(start(aws_stack, "advertiser"))
    parts = urlsplit(redirect)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if tamper == "drop":
        query.pop("state")
    else:
        query["state"] = query["state"][:-2] + "xx"
    response = aws_stack.http(
        "OAuthFunction", "GET", parts.path + "?" + "&".join(f"{k}={v}" for k, v in query.items()), headers=browser
    )
    assert response["statusCode"] == 400
    assert "Start the connection again" in response["body"]


def test_expired_state_is_refused(aws_stack: IntegrationStack) -> None:
    store(aws_stack).put_state(OAuthState(state="old-state", kind="advertiser", workspace="acme", expires_at=1), 30, 600)
    response = aws_stack.http("OAuthFunction", "GET", "/oauth/tiktok/callback?auth_code=x&state=old-state")
    assert (response["statusCode"], "has expired" in response["body"]) == (400, True)


def test_denied_consent_says_what_to_do(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    requests.post(f"{emulator.base_url}/_emulator/consent", json={"deny": True}, timeout=5)
    page = connect(aws_stack, "business")
    assert page["statusCode"] == 400
    assert "choose Allow" in page["body"]


def test_reused_auth_code_is_40110(aws_stack: IntegrationStack) -> None:
    first = consent(start(aws_stack, "advertiser"))
    callback(aws_stack, first)
    code = parse_qs(urlsplit(first[0]).query)["auth_code"][0]
    fresh = start(aws_stack, "advertiser")
    fresh_state = parse_qs(urlsplit(fresh.authorize_url).query)["state"][0]
    page = aws_stack.http(
        "OAuthFunction", "GET", f"/oauth/tiktok/callback?auth_code={code}&state={fresh_state}", headers=fresh.browser
    )
    assert page["statusCode"] == 400
    assert "code 40110" in page["body"]


@pytest.mark.parametrize(
    ("code", "status", "words"), [(40113, 502, "app id and app secret"), (40001, 403, "approve every requested permission")]
)
def test_tiktok_refusals_are_readable(
    aws_stack: IntegrationStack, emulator: RunningEmulator, code: int, status: int, words: str
) -> None:
    requests.post(
        f"{emulator.base_url}/_emulator/faults", json={"code": code, "times": 1, "path": "/oauth2/access_token/"}, timeout=5
    )
    page = connect(aws_stack, "advertiser")
    assert page["statusCode"] == status
    assert words in page["body"]
    assert f"code {code}" in page["body"]


def test_unknown_kind_and_unsigned_starts(aws_stack: IntegrationStack) -> None:
    assert aws_stack.http("OAuthFunction", "GET", "/oauth/tiktok/pinterest/start?workspace=a")["statusCode"] == 404
    for path in ("/oauth/tiktok/advertiser/start", "/oauth/tiktok/advertiser/start?workspace=acme"):
        page = aws_stack.http("OAuthFunction", "GET", path)
        assert (page["statusCode"], page.get("cookies")) == (403, [])
        assert "Connections start from a link made by the app you connect from" in page["body"]


def test_connect_link_refusals(aws_stack: IntegrationStack) -> None:
    for body in (b"", b"[]", b'{"kind": "pinterest", "workspace": "a"}', b'{"kind": "business", "workspace": "a b"}'):
        answer = aws_stack.http("AdminFunction", "POST", "/admin/connect-links", body, {"content-type": "application/json"})
        assert answer["statusCode"] == 400, body
        assert json.loads(answer["body"])["message"]
    too_long = json.dumps({"kind": "business", "workspace": "a", "expires_in_seconds": 10**6}).encode()
    answer = aws_stack.http("AdminFunction", "POST", "/admin/connect-links", too_long, {"content-type": "application/json"})
    assert (answer["statusCode"], "expires_in_seconds" in answer["body"]) == (400, True)


def test_a_callback_without_the_starting_browsers_cookie_connects_nothing(aws_stack: IntegrationStack) -> None:
    redirect, _ = consent(start(aws_stack, "business"))
    page = callback(aws_stack, (redirect, {}))
    assert (page["statusCode"], "started in another browser" in page["body"]) == (403, True)
    assert store(aws_stack).get_business(BUSINESS) is None


def test_an_account_in_another_workspace_is_not_taken(aws_stack: IntegrationStack) -> None:
    assert connect(aws_stack, "business", "owner")["statusCode"] == 200
    page = connect(aws_stack, "business", "taker")
    assert (page["statusCode"], "already connected to another workspace" in page["body"]) == (409, True)
    account = store(aws_stack).get_business(BUSINESS)
    assert account is not None
    assert account.workspace == "owner"
    assert connect(aws_stack, "business", "owner")["statusCode"] == 200  # reconnecting in its own workspace is fine


def test_oversized_link_parameters_are_a_page_not_a_crash(aws_stack: IntegrationStack) -> None:
    """DynamoDB refuses a state over its 2,048-byte key limit (a 500; moto does not check); a huge workspace bloats the item."""
    page = aws_stack.http("OAuthFunction", "GET", f"/oauth/tiktok/callback?state={'s' * 3_000}&auth_code=x")
    assert page["statusCode"] == 400
    assert "Start the connection again" in page["body"]
    assert "state must be at most 128 characters (it has 3,000)." in page["body"]
    assert "sss" * 100 not in page["body"]  # the link is not repeated back
    start = aws_stack.http("OAuthFunction", "GET", f"/oauth/tiktok/business/start?workspace={'w' * 500_000}")
    assert (start["statusCode"], "workspace must be at most 128 characters" in start["body"]) == (400, True)


def test_tokens_never_reach_the_logs(
    aws_stack: IntegrationStack, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handler_support.observability import logger

    captured = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", captured)
    connect(aws_stack, "advertiser")
    connect(aws_stack, "business")
    hour_later = datetime.fromtimestamp(datetime.now(UTC).timestamp() + 23 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    aws_stack.runtime.invoke("TokenRefreshFunction", {**scheduled_event(None, "hourly"), "time": hour_later})
    output = captured.getvalue()
    assert "Accounts connected" in output and "Token refresh finished" in output  # noqa: PT018 - the logs were captured
    secrets = ["local-advertiser-token", "local-tiktok-app-secret"]
    secrets += [token for grant in emulator.state.grants.values() for token in (grant.access_token, grant.refresh_token)]
    for secret in secrets:
        assert secret not in output


# ---------------------------------------------------------------- links (admin API)
def admin(stack: IntegrationStack, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = stack.http(
        "AdminFunction", method, path, json.dumps(body).encode() if body else b"", {"content-type": "application/json"}
    )
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def test_links(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "advertiser")
    status, listed = admin(aws_stack, "GET", "/admin/advertisers")
    assert status == 200
    assert {a["advertiser_id"]: a["status"] for a in listed["advertisers"]} == {ADVERTISER_1: "ACTIVE", ADVERTISER_2: "ACTIVE"}
    assert "token_ciphertext" not in listed["advertisers"][0]

    path = f"/admin/advertisers/{ADVERTISER_1}/links/whatsapp/106540352242922"
    assert admin(aws_stack, "PUT", path, {"display_name": "+1 555 078 3881"})[0] == 200
    assert admin(aws_stack, "PUT", path, {"display_name": "+1 555 078 3881"})[0] == 200  # again, same advertiser: fine
    status, refused = admin(aws_stack, "PUT", f"/admin/advertisers/{ADVERTISER_2}/links/whatsapp/106540352242922")
    assert status == 409
    assert ADVERTISER_1 in refused["message"]
    assert store(aws_stack).route(Channel.WHATSAPP, "106540352242922").advertiser_id == ADVERTISER_1  # type: ignore[union-attr]
    route = store(aws_stack).route("whatsapp", "106540352242922")  # type: ignore[arg-type]
    assert route is not None
    assert (route.advertiser_id, route.timezone) == (ADVERTISER_1, "Europe/Lisbon")  # the ad account's, from /advertiser/info/

    status, detail = admin(aws_stack, "GET", f"/admin/advertisers/{ADVERTISER_1}")
    assert [(link["channel"], link["account_id"], link["display_name"]) for link in detail["links"]] == [
        ("whatsapp", "106540352242922", "+1 555 078 3881")
    ]
    assert admin(aws_stack, "DELETE", path)[0] == 204
    assert admin(aws_stack, "DELETE", path)[0] == 404
    assert store(aws_stack).route(Channel.WHATSAPP, "106540352242922") is None
    assert admin(aws_stack, "PUT", f"/admin/advertisers/{ADVERTISER_2}/links/whatsapp/106540352242922")[0] == 200  # now free


def test_link_refusals(aws_stack: IntegrationStack) -> None:
    status, answer = admin(aws_stack, "PUT", "/admin/advertisers/999/links/whatsapp/1")
    assert status == 404
    assert "Connect it first" in answer["message"]
    assert admin(aws_stack, "PUT", "/admin/advertisers/999/links/telegram/1")[0] == 400
    assert admin(aws_stack, "GET", "/admin/advertisers/999")[0] == 404


# ---------------------------------------------------------------- token refresh
def fire_refresh(stack: IntegrationStack, hours_ahead: float) -> dict[str, Any]:
    at = datetime.fromtimestamp(datetime.now(UTC).timestamp() + hours_ahead * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dict(
        stack.runtime.invoke("TokenRefreshFunction", {**scheduled_event(None, "TokenRefreshFunction-Hourly"), "time": at})
    )


def test_refresher_rotates_tokens_only_when_due(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    connect(aws_stack, "business")
    before = store(aws_stack).get_business(BUSINESS)
    assert fire_refresh(aws_stack, 1)["due"] == 0  # 23 h left: not due
    result = fire_refresh(aws_stack, 22.5)
    assert (result["due"], result["refreshed"]) == (1, [BUSINESS])
    after = store(aws_stack).get_business(BUSINESS)
    assert after is not None and before is not None  # noqa: PT018
    assert after.version == before.version + 1
    assert after.refresh_token_ciphertext != before.refresh_token_ciphertext
    cipher = KmsTokenCipher(aws_stack.provisioned.attribute("TokenKey", "Ref"))
    newest = cipher.decrypt(after.refresh_token_ciphertext, token_context("business", BUSINESS))
    previous = cipher.decrypt(before.refresh_token_ciphertext, token_context("business", BUSINESS))
    assert newest in emulator.state.grants  # TikTok rotated: only the newest refresh token works
    assert previous not in emulator.state.grants


def test_a_slower_concurrent_refresher_cannot_overwrite_the_newest_token(aws_stack: IntegrationStack) -> None:
    connect(aws_stack, "business")
    accounts = store(aws_stack)
    stale = accounts.get_business(BUSINESS)
    assert stale is not None
    fire_refresh(aws_stack, 22.5)
    assert not accounts.rotate_business_tokens(
        stale.model_copy(update={"version": stale.version + 1}), expected_version=stale.version
    )
    assert accounts.get_business(BUSINESS).version == stale.version + 1  # type: ignore[union-attr]


@pytest.mark.parametrize("code", [40103, 40107])
def test_expired_refresh_token_needs_reauth(aws_stack: IntegrationStack, emulator: RunningEmulator, code: int) -> None:
    connect(aws_stack, "business")
    events = bus_events(aws_stack)
    requests.post(
        f"{emulator.base_url}/_emulator/faults",
        json={"code": code, "times": 1, "path": "/tt_user/oauth2/refresh_token/"},
        timeout=5,
    )
    assert fire_refresh(aws_stack, 22.5)["needs_reauth"] == [BUSINESS]
    account = store(aws_stack).get_business(BUSINESS)
    assert account is not None
    assert account.status == "NEEDS_REAUTH"
    assert f"code {code}" in str(account.reauth_reason)
    assert fire_refresh(aws_stack, 22.5)["due"] == 0  # out of the sparse index: not retried every hour
    [event] = [e for e in events() if e["detail-type"] == "AccountNeedsReauth"]  # type: ignore[attr-defined]
    assert (event["detail"]["account_id"], event["detail"]["code"]) == (BUSINESS, code)


def test_throttled_refresh_is_retried(
    aws_stack: IntegrationStack, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from messaging_partner.adapters.tiktok_api import client as tiktok_client

    monkeypatch.setattr(tiktok_client.time, "sleep", lambda _: None)
    connect(aws_stack, "business")
    requests.post(
        f"{emulator.base_url}/_emulator/faults",
        json={"code": 40100, "times": 2, "path": "/tt_user/oauth2/refresh_token/"},
        timeout=5,
    )
    assert fire_refresh(aws_stack, 22.5)["refreshed"] == [BUSINESS]


REFRESH_PATH = "/tt_user/oauth2/refresh_token/"
SHORT_TIMEOUT_SECONDS = 6  # a refresher with 3 s for TikTok calls (less the 3 s margin): a hang costs 3 s, not 10


def fire_short_refresh(stack: IntegrationStack, hours_ahead: float) -> dict[str, Any]:
    """fire_refresh in a function given SHORT_TIMEOUT_SECONDS, so a hanging TikTok ends the call by its deadline."""
    at = datetime.fromtimestamp(datetime.now(UTC).timestamp() + hours_ahead * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {**scheduled_event(None, "TokenRefreshFunction-Hourly"), "time": at}
    handler = stack.runtime.handler("TokenRefreshFunction")
    return dict(handler(event, LambdaContext("TokenRefreshFunction", timeout_seconds=SHORT_TIMEOUT_SECONDS)))


def refresh_calls(emulator: RunningEmulator) -> list[dict[str, Any]]:
    with emulator.state.lock:
        return [dict(call) for call in emulator.state.calls if call["path"] == REFRESH_PATH]


def test_a_hanging_refresh_leaves_the_account_active_and_the_next_run_refreshes_it(
    aws_stack: IntegrationStack, emulator: RunningEmulator
) -> None:
    connect(aws_stack, "business")
    before = store(aws_stack).get_business(BUSINESS)
    assert before is not None
    # TikTok holds the refresh for 8 s and then fails it without acting: the refresher gives up at its deadline.
    hang = {"delay_ms": 8000, "code": 50000, "times": 1, "path": REFRESH_PATH}
    requests.post(f"{emulator.base_url}/_emulator/faults", json=hang, timeout=5).raise_for_status()
    calls_before = len(refresh_calls(emulator))
    started = time.monotonic()
    first = fire_short_refresh(aws_stack, 22.5)
    assert time.monotonic() - started < SHORT_TIMEOUT_SECONDS
    assert (first["refreshed"], first["needs_reauth"], list(first["unresolved"])) == ([], [], [BUSINESS])
    assert first["counts"]["unresolved"] == 1
    assert len(refresh_calls(emulator)) == calls_before + 1  # presented once: never again with a token TikTok may have rotated
    held = store(aws_stack).get_business(BUSINESS)
    assert held is not None
    assert (held.status, held.version, held.refresh_claimed_until_ms) == ("ACTIVE", before.version, None)
    assert held.refresh_unconfirmed_since_ms is not None
    assert "unconfirmed" in str(held.refresh_issue)

    second = fire_refresh(aws_stack, 23.5)  # the next hourly run presents the stored token once
    assert (second["refreshed"], second["resolved"], second["unresolved"]) == ([BUSINESS], [BUSINESS], {})
    after = store(aws_stack).get_business(BUSINESS)
    assert after is not None
    assert (after.status, after.version, after.refresh_unconfirmed_since_ms, after.refresh_issue) == (
        "ACTIVE",
        before.version + 1,
        None,
        None,
    )
    cipher = KmsTokenCipher(aws_stack.provisioned.attribute("TokenKey", "Ref"))
    assert cipher.decrypt(after.refresh_token_ciphertext, token_context("business", BUSINESS)) in emulator.state.grants


def test_a_refresh_tiktok_acted_on_but_whose_answer_was_lost_is_settled_by_tiktok_next_run(
    aws_stack: IntegrationStack, emulator: RunningEmulator
) -> None:
    connect(aws_stack, "business")
    events = bus_events(aws_stack)
    # TikTok answers after 4 s, rotating the token: the refresher stopped listening at 3 s.
    slow = {"delay_ms": 4000, "times": 1, "path": REFRESH_PATH}
    requests.post(f"{emulator.base_url}/_emulator/faults", json=slow, timeout=5).raise_for_status()
    assert list(fire_short_refresh(aws_stack, 22.5)["unresolved"]) == [BUSINESS]
    assert store(aws_stack).get_business(BUSINESS).status == "ACTIVE"  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while refresh_calls(emulator)[-1]["code"] is None and time.monotonic() < deadline:
        time.sleep(0.1)  # until TikTok has rotated
    assert refresh_calls(emulator)[-1]["code"] == 0

    second = fire_refresh(aws_stack, 23.5)
    assert (second["needs_reauth"], second["resolved"]) == ([BUSINESS], [BUSINESS])  # 40107: TikTok's own answer
    account = store(aws_stack).get_business(BUSINESS)
    assert account is not None
    assert account.status == "NEEDS_REAUTH"
    assert "code 40107" in str(account.reauth_reason)
    assert "was lost" in str(account.reauth_reason)
    [event] = [e for e in events() if e["detail-type"] == "AccountNeedsReauth"]  # type: ignore[attr-defined]
    assert event["detail"]["code"] == 40107


def test_overlapping_runs_present_a_refresh_token_once(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    """EventBridge Scheduler delivers at least once: two runs of the same hour may overlap."""
    connect(aws_stack, "business")
    slow = {"delay_ms": 1500, "times": 1, "path": REFRESH_PATH}  # slow enough for the second run to start meanwhile
    requests.post(f"{emulator.base_url}/_emulator/faults", json=slow, timeout=5).raise_for_status()
    calls_before = len(refresh_calls(emulator))
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(fire_refresh, aws_stack, 22.5)
        time.sleep(0.5)
        second = pool.submit(fire_refresh, aws_stack, 22.5)
        results = [first.result(), second.result()]
    assert sorted(len(r["refreshed"]) for r in results) == [0, 1]
    assert sorted(len(r["lost_race"]) for r in results) == [0, 1]
    assert len(refresh_calls(emulator)) == calls_before + 1
    assert store(aws_stack).get_business(BUSINESS).status == "ACTIVE"  # type: ignore[union-attr]


def test_an_undecryptable_token_is_flagged_counted_and_the_run_goes_on(
    aws_stack: IntegrationStack, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from handler_support.observability import logger

    logs = io.StringIO()  # the logger writes to the stream it was made with; metrics print to stdout
    monkeypatch.setattr(logger.registered_handler, "stream", logs)
    connect(aws_stack, "business")
    accounts = store(aws_stack)
    good = accounts.get_business(BUSINESS)
    assert good is not None
    # Another Business Account whose refresh token was stored under a third account's encryption context.
    cipher = KmsTokenCipher(aws_stack.provisioned.attribute("TokenKey", "Ref"))
    broken = good.model_copy(
        update={
            "business_id": "broken-business",
            "refresh_token_ciphertext": cipher.encrypt("tt-rft-x", token_context("business", "someone-else")),
            "access_expires_at_ms": good.access_expires_at_ms - 1000,  # due first: the run meets it before the good one
        }
    )
    accounts.save_business(broken)
    capsys.readouterr()
    result = fire_refresh(aws_stack, 22.5)
    assert result["refreshed"] == [BUSINESS]
    assert list(result["failed"]) == ["broken-business"]
    assert "does not decrypt (KMS InvalidCiphertextException" in result["failed"]["broken-business"]
    assert (result["counts"]["failed"], result["counts"]["unreadable"], result["counts"]["refreshed"]) == (1, 1, 1)
    flagged = accounts.get_business("broken-business")
    assert flagged is not None
    assert (flagged.status, flagged.refresh_issue) == ("ACTIVE", result["failed"]["broken-business"])
    output = capsys.readouterr().out
    [metrics] = [json.loads(line) for line in output.splitlines() if '"TokensUnreadable"' in line]
    assert (metrics["TokensUnreadable"], metrics["TokensRefreshFailed"], metrics["TokensRefreshed"]) == ([1.0], [1.0], [1.0])
    [warning] = [json.loads(line) for line in logs.getvalue().splitlines() if "Token not refreshed" in line]
    assert (warning["business_id"], warning["reason"]) == ("broken-business", result["failed"]["broken-business"])


def test_raw_item_shows_only_ciphertext(aws_stack: IntegrationStack, emulator: RunningEmulator) -> None:
    connect(aws_stack, "business")
    item = aws_stack.session.client("dynamodb").get_item(
        TableName=aws_stack.provisioned.attribute("AccountLinksTable", "Ref"),
        Key={"pk": {"S": f"BIZ#{BUSINESS}"}, "sk": {"S": "TOKEN"}},
    )["Item"]
    grant = next(iter(emulator.state.grants.values()))
    raw = json.dumps(item)
    assert grant.access_token not in raw and grant.refresh_token not in raw  # noqa: PT018 - neither token in clear
    base64.b64decode(item["access_token_ciphertext"]["S"])  # a KMS blob


def test_configured_redirect_url_wins(aws_stack: IntegrationStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from handler_support import settings

    monkeypatch.setenv("OAUTH_REDIRECT_URL", "https://connect.example.com/oauth/tiktok/callback/")
    settings.settings.cache_clear()
    query = parse_qs(urlsplit(start(aws_stack, "business").authorize_url).query)
    assert query["redirect_uri"] == ["https://connect.example.com/oauth/tiktok/callback/"]
    link = json.loads(
        aws_stack.http("AdminFunction", "POST", "/admin/connect-links", b'{"kind": "business", "workspace": "w"}')["body"]
    )
    assert link["url"].startswith("https://connect.example.com/oauth/tiktok/business/start?workspace=w&expires=")
    settings.settings.cache_clear()


def test_request_headers_never_become_the_redirect_uri(aws_stack: IntegrationStack) -> None:
    spoofed = {"host": "evil.example", "x-forwarded-proto": "https"}
    response = aws_stack.http("OAuthFunction", "GET", link_path(aws_stack, "business"), headers=spoofed)
    assert "evil.example" not in response["headers"]["Location"]


# ---------------------------------------------------------------- attribution with routing and lead counters
def test_lead_counters_match_the_conversations(aws_stack: IntegrationStack) -> None:
    from local.scenario import WhatsAppChange, WhatsAppMessage, hub_signature, whatsapp_body

    connect(aws_stack, "advertiser")
    admin(aws_stack, "PUT", f"/admin/advertisers/{ADVERTISER_1}/links/whatsapp/106540352242922")
    messages = (
        WhatsAppMessage(
            "351910000001", "wamid.T1", 1_763_848_800, "TikTok ID: 7412345678901234567. Hello! I came across your ad"
        ),
        WhatsAppMessage("351910000002", "wamid.O1", 1_763_848_801, "Hi, do you ship?"),
        WhatsAppMessage("351910000001", "wamid.T2", 1_763_848_802, "size 42 please"),
    )
    body = whatsapp_body(WhatsAppChange(messages))
    headers = {"content-type": "application/json", "x-hub-signature-256": hub_signature("local-meta-app-secret", body)}
    aws_stack.http("WebhookFunction", "POST", "/webhooks/whatsapp", body, headers)
    event = aws_stack.sqs_event(aws_stack.drain("InboundQueue"), "InboundQueue")
    aws_stack.runtime.invoke("AttributionFunction", event)
    aws_stack.runtime.invoke("AttributionFunction", event)  # redelivered: counted once

    reports = aws_stack.session.client("dynamodb").query(
        TableName=aws_stack.provisioned.attribute("ReportsTable", "Ref"),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"RPT#{ADVERTISER_1}#2025-11-22"}},  # 22:00 UTC is 22:00 in Lisbon
    )["Items"]
    assert {i["sk"]["S"]: int(i["leads"]["N"]) for i in reports} == {"AD#UNRESOLVED": 1, "ORGANIC": 1}
    tracked = json.loads(
        aws_stack.http("AdminFunction", "GET", "/admin/conversations/whatsapp%23106540352242922%23351910000001")["body"]
    )
    assert (tracked["source"], tracked["tracking_id"], tracked["advertiser_id"]) == (
        "tiktok_ad",
        "7412345678901234567",
        ADVERTISER_1,
    )


def test_a_stack_deployed_without_its_tiktok_app_id_says_what_to_set(
    aws_stack: IntegrationStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOK_APP_ID", "")
    settings.settings.cache_clear()
    for path in ("/oauth/tiktok/advertiser/start?workspace=acme", "/oauth/tiktok/callback?state=s&auth_code=c"):
        page = aws_stack.http("OAuthFunction", "GET", path)
        assert page["statusCode"] == 503
        assert "TikTokAppId=" in page["body"]
    settings.settings.cache_clear()
