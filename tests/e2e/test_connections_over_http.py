"""Connecting accounts the way a person does, through the local stack: follow the redirects, link, refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local.control import connect_in_browser, connect_link
from local.stack import local_aws_client
from messaging_partner.domain.connections import PENDING_STARTS_PER_WORKSPACE
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
ADVERTISER = "7100000000000000001"
BUSINESS = "-000Wz6R0bYgtq7a1pD3hFx2mV2sYcQ2kF8Jx"


def follow(stack: RunningStack, kind: str) -> requests.Response:
    """The browser: connect link -> TikTok consent (the emulator) -> our callback, every hop over HTTP."""
    return connect_in_browser(stack.api, kind, "e2e")


def fire_refresher(stack: RunningStack, ahead: timedelta) -> dict[str, Any]:
    at = (datetime.now(UTC) + ahead).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = requests.post(f"{stack.api}/_local/schedules/TokenRefreshFunction/Hourly", params={"time": at}, timeout=60)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["result"])


def test_connect_link_and_keep_tokens_alive(stack: RunningStack) -> None:
    advertiser_page = follow(stack, "advertiser")
    assert advertiser_page.status_code == 200
    assert [r.status_code for r in advertiser_page.history] == [302, 302]
    assert "Demo Sneakers" in advertiser_page.text
    business_page = follow(stack, "business")
    assert (business_page.status_code, "TikTok Business Account" in business_page.text) == (200, True)

    for channel, account in (("whatsapp", "106540352242922"), ("tiktok", BUSINESS)):
        answer = requests.put(f"{stack.api}/admin/advertisers/{ADVERTISER}/links/{channel}/{account}", json={}, timeout=10)
        assert answer.status_code == 200, answer.text
    detail = requests.get(f"{stack.api}/admin/advertisers/{ADVERTISER}", timeout=10).json()
    assert {(link["channel"], link["account_id"]) for link in detail["links"]} >= {
        ("whatsapp", "106540352242922"),
        ("tiktok", BUSINESS),
    }

    assert fire_refresher(stack, timedelta(hours=1))["refreshed"] == []
    assert fire_refresher(stack, timedelta(hours=23))["refreshed"] == [BUSINESS]


def test_refresh_token_past_its_year_ends_in_needs_reauth(stack: RunningStack) -> None:
    follow(stack, "business")
    requests.post(f"{stack.tiktok}/_emulator/clock", json={"offset_seconds": 367 * 86400}, timeout=5)
    try:
        result = fire_refresher(stack, timedelta(days=367))
    finally:
        requests.post(f"{stack.tiktok}/_emulator/clock", json={"offset_seconds": 0}, timeout=5)
    assert result["needs_reauth"] == [BUSINESS]
    reconnected = follow(stack, "business")  # the way out: connect again
    assert reconnected.status_code == 200
    assert fire_refresher(stack, timedelta(hours=23))["refreshed"] == [BUSINESS]


def started(stack: RunningStack, kind: str, workspace: str, **headers: str) -> requests.Response:
    return requests.get(connect_link(stack.api, kind, workspace), allow_redirects=False, headers=headers, timeout=10)


def cookie_of(start: requests.Response) -> dict[str, str]:
    return {"Cookie": start.headers["set-cookie"].split(";", 1)[0]}


def state_items(stack: RunningStack) -> int:
    table = stack.status()["resources"]["AccountLinksTable"]
    items = local_aws_client("dynamodb", stack.ports.aws).scan(TableName=table, ProjectionExpression="pk")["Items"]
    return sum(item["pk"]["S"].startswith("STATE#") for item in items)


def test_state_reuse_over_http(stack: RunningStack) -> None:
    start = started(stack, "advertiser", "e2e")
    consent = requests.get(start.headers["location"], allow_redirects=False, timeout=10)
    callback = consent.headers["location"]
    assert requests.get(callback, headers=cookie_of(start), timeout=30).status_code == 200
    reused = requests.get(callback, headers=cookie_of(start), timeout=30)
    assert reused.status_code == 400
    assert "already used" in reused.text


def test_a_consent_page_passed_to_another_browser_connects_nothing(stack: RunningStack) -> None:
    """The workspace takeover: someone starts a connection into their own workspace and sends TikTok's consent page
    to the owner of an ad account. The owner consents; their browser has no cookie of that start, so nothing moves."""
    assert follow(stack, "advertiser").status_code == 200  # the owner's ad account, in workspace e2e
    attacker = started(stack, "advertiser", "attacker")
    assert attacker.status_code == 302
    assert {"HttpOnly", "Secure", "SameSite=Lax"} <= {part.strip() for part in attacker.headers["set-cookie"].split(";")}
    consent = requests.get(attacker.headers["location"], allow_redirects=False, timeout=10)  # the owner consents
    owner_lands = requests.get(consent.headers["location"], timeout=30)  # in the owner's browser: no such cookie
    assert owner_lands.status_code == 403
    assert "started in another browser" in owner_lands.text
    assert requests.get(f"{stack.api}/admin/advertisers/{ADVERTISER}", timeout=10).json()["workspace"] == "e2e"


def test_an_ad_account_stays_in_its_workspace_until_an_operator_moves_it(stack: RunningStack) -> None:
    assert follow(stack, "advertiser").status_code == 200
    elsewhere = connect_in_browser(stack.api, "advertiser", "other")
    assert elsewhere.status_code == 409
    assert "already connected to another workspace" in elsewhere.text
    assert "PUT /admin/advertisers/&lt;id&gt;/workspace" in elsewhere.text
    assert requests.get(f"{stack.api}/admin/advertisers/{ADVERTISER}", timeout=10).json()["workspace"] == "e2e"

    for advertiser in (ADVERTISER, "7100000000000000002"):
        moved = requests.put(f"{stack.api}/admin/advertisers/{advertiser}/workspace", json={"workspace": "other"}, timeout=10)
        assert moved.status_code == 200, moved.text
    try:
        assert connect_in_browser(stack.api, "advertiser", "other").status_code == 200
    finally:
        for advertiser in (ADVERTISER, "7100000000000000002"):
            requests.put(f"{stack.api}/admin/advertisers/{advertiser}/workspace", json={"workspace": "e2e"}, timeout=10)
    missing = requests.put(f"{stack.api}/admin/advertisers/7199999999999999999/workspace", json={"workspace": "x"}, timeout=10)
    assert missing.status_code == 404


def test_anonymous_and_altered_links_start_nothing(stack: RunningStack) -> None:
    before = state_items(stack)
    link = connect_link(stack.api, "advertiser", "e2e")
    altered = link.replace("workspace=e2e", "workspace=attacker")
    extended = link.replace("expires=", "expires=1")  # a later expiry breaks the signature as well
    anonymous = f"{stack.api}/oauth/tiktok/advertiser/start?workspace=attacker"
    for url, says in ((anonymous, "made by the app you connect from"), (altered, "altered"), (extended, "altered")):
        page = requests.get(url, allow_redirects=False, timeout=10)
        assert (page.status_code, "set-cookie" in page.headers) == (403, False), url
        assert says in page.text
    assert state_items(stack) == before


def test_the_redirect_uri_comes_from_configuration_not_from_headers(stack: RunningStack) -> None:
    start = started(stack, "business", "e2e", Host="evil.example", **{"X-Forwarded-Proto": "https"})
    assert start.status_code == 302
    assert f"redirect_uri={stack.api}/oauth/tiktok/callback".replace(":", "%3A").replace("/", "%2F") in start.headers["location"]
    assert "evil.example" not in start.headers["location"]


def test_connection_starts_are_capped_per_workspace(stack: RunningStack) -> None:
    link = connect_link(stack.api, "business", "capped")
    answers = [requests.get(link, allow_redirects=False, timeout=10).status_code for _ in range(PENDING_STARTS_PER_WORKSPACE)]
    assert answers == [302] * PENDING_STARTS_PER_WORKSPACE
    refused = requests.get(link, allow_redirects=False, timeout=10)
    assert refused.status_code == 429
    assert "too many connections" in refused.text
    other_workspace = started(stack, "business", "not-capped")
    assert other_workspace.status_code == 302


def test_one_undecryptable_token_does_not_stop_the_run(stack: RunningStack) -> None:
    assert follow(stack, "business").status_code == 200
    table = stack.status()["resources"]["AccountLinksTable"]
    dynamodb = stack.aws("dynamodb")
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"BIZ#{BUSINESS}"}, "sk": {"S": "TOKEN"}})["Item"]
    # The same item under another id (a restore gone wrong): its ciphertexts only open for BUSINESS, so KMS
    # answers InvalidCiphertextException. Due a second earlier, so the run meets it first.
    broken = "e2e-undecryptable-business"
    due_at = str(int(item["refresh_due_at"]["N"]) - 1000)
    copy = {**item, "pk": {"S": f"BIZ#{broken}"}, "business_id": {"S": broken}}
    copy.update(refresh_due_at={"N": due_at}, access_expires_at_ms={"N": due_at})
    dynamodb.put_item(TableName=table, Item=copy)
    try:
        result = fire_refresher(stack, timedelta(hours=23))
        flagged = requests.get(f"{stack.api}/admin/businesses/{broken}", timeout=10).json()
    finally:
        dynamodb.delete_item(TableName=table, Key={"pk": {"S": f"BIZ#{broken}"}, "sk": {"S": "TOKEN"}})
    assert result["refreshed"] == [BUSINESS]
    assert list(result["failed"]) == [broken]
    assert "does not decrypt (KMS InvalidCiphertextException" in result["failed"][broken]
    assert (result["counts"]["failed"], result["counts"]["unreadable"]) == (1, 1)
    assert (flagged["status"], flagged["refresh_issue"]) == ("ACTIVE", result["failed"][broken])
