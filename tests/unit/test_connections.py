"""Connection rules with fakes: state, outcomes, refresh paths (no network: TikTok is a scripted session)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from messaging_partner.adapters.tiktok_api.auth import TikTokAuthApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.domain.connections import (
    LINK_TTL_SECONDS,
    PENDING_STARTS_PER_WORKSPACE,
    STATE_TTL_SECONDS,
    ConnectionFailed,
    browser_cookie_name,
    browser_hash,
    connect_link,
    connect_link_key,
    failure_from_tiktok,
    finish_connection,
    start_connection,
)
from messaging_partner.domain.errors import TikTokApiError, TikTokTransportError
from messaging_partner.domain.models import (
    AdvertiserGrant,
    AdvertiserProfile,
    AuthorizedAdvertiser,
    BusinessGrant,
    ConnectionKind,
    TikTokApp,
)
from messaging_partner.domain.tokens import business_account
from tests.fakes import FakeAccountStore, FakeCipher, FakePublisher
from tests.unit.test_tiktok_client import ScriptedSession, envelope

APP = TikTokApp(
    "app-1",
    "secret-1",
    "https://api.test/oauth/tiktok/callback",
    "https://tt.test/portal/auth",
    "https://tt.test/v2/auth/authorize",
)
NOW = 1_763_800_000.0


def tiktok(*answers: Any) -> tuple[TikTokAuthApi, ScriptedSession]:
    session = ScriptedSession(list(answers))
    client = TikTokClient("https://tt.test/open_api/v1.3/", session=session, sleep=lambda _: None)  # type: ignore[arg-type]
    return TikTokAuthApi(client), session


def grant(access: str = "act-1", refresh: str = "rft-1") -> dict[str, Any]:
    return {
        "access_token": access,
        "expires_in": 86400,
        "refresh_token": refresh,
        "refresh_token_expires_in": 31536000,
        "open_id": "biz-1",
        "scope": "a,b",
    }


def link_query(kind: ConnectionKind, workspace: str = "acme", now: float = NOW) -> dict[str, str]:
    """The query of a connect link the admin API made."""
    link = connect_link(kind, workspace, "https://api.test/oauth/tiktok/start", connect_link_key(APP.secret), now)
    return {k: v[0] for k, v in parse_qs(urlsplit(link.url).query).items()}


def begin(kind: ConnectionKind, store: FakeAccountStore, state: str = "state-1", workspace: str = "acme") -> dict[str, str]:
    """Opens a connect link in a browser; returns that browser's cookies."""
    tokens = iter([f"browser-of-{state}", state])
    started = start_connection(kind, link_query(kind, workspace), APP, store, NOW, token=lambda: next(tokens))
    return {started.cookie_name: started.browser_secret}


@pytest.mark.parametrize("kind", list(ConnectionKind))
def test_start_records_a_bound_state_and_builds_the_authorize_url(kind: ConnectionKind) -> None:
    store = FakeAccountStore()
    tokens = iter(["browser-1", "state-1"])
    started = start_connection(kind, link_query(kind), APP, store, NOW, token=lambda: next(tokens))
    [state] = store.states.values()
    assert (state.state, state.kind, state.workspace, state.expires_at) == ("state-1", kind, "acme", NOW + STATE_TTL_SECONDS)
    assert state.browser_hash == browser_hash("browser-1") != "browser-1"  # only the hash is stored
    assert (started.cookie_name, started.browser_secret) == (browser_cookie_name("state-1"), "browser-1")
    url = started.authorize_url
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["state"] == "state-1"
    assert query["redirect_uri"] == APP.redirect_uri
    if kind is ConnectionKind.ADVERTISER:
        assert url.startswith(APP.advertiser_authorize_url + "?")
        assert query["app_id"] == "app-1"
    else:
        assert url.startswith(APP.business_authorize_url + "?")
        assert (query["client_key"], query["response_type"], query["disable_auto_auth"]) == ("app-1", "code", "1")
        assert "message.list.send" in query["scope"]


def test_states_and_browser_secrets_are_random() -> None:
    store = FakeAccountStore()
    secrets = {
        start_connection(ConnectionKind.ADVERTISER, link_query(ConnectionKind.ADVERTISER), APP, store, NOW).browser_secret
        for _ in range(20)
    }
    assert len(store.states) == len(secrets) == 20
    assert all(len(s) >= 40 for s in [*store.states, *secrets])


def tampered(query: dict[str, str], **changes: str) -> dict[str, str]:
    return {**query, **changes}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({}, "unsigned_link"),
        ({"workspace": "acme"}, "unsigned_link"),
        ({"workspace": "acme", "signature": "0" * 64}, "altered_link"),
        (tampered(link_query(ConnectionKind.ADVERTISER), workspace="attacker"), "altered_link"),
        (tampered(link_query(ConnectionKind.ADVERTISER), expires=str(int(NOW) + 10**6)), "altered_link"),
        (tampered(link_query(ConnectionKind.ADVERTISER), signature="０" * 64), "altered_link"),  # full-width digits
        (tampered(link_query(ConnectionKind.ADVERTISER), expires="¹" * 3), "altered_link"),
        (tampered(link_query(ConnectionKind.ADVERTISER), expires="9" * 4000), "altered_link"),
        (link_query(ConnectionKind.BUSINESS), "altered_link"),  # a business link does not start an ad account connection
        (link_query(ConnectionKind.ADVERTISER, now=NOW - LINK_TTL_SECONDS - 1), "expired_link"),
    ],
)
def test_only_a_signed_unexpired_link_starts_a_connection(query: dict[str, str], reason: str) -> None:
    store = FakeAccountStore()
    with pytest.raises(ConnectionFailed) as failure:
        start_connection(ConnectionKind.ADVERTISER, query, APP, store, NOW)
    assert (failure.value.reason, failure.value.status) == (reason, 403)
    assert store.states == {}


def test_a_link_signed_with_another_app_secret_is_refused() -> None:
    other = connect_link(ConnectionKind.ADVERTISER, "acme", "https://x/start", connect_link_key("other-secret"), NOW)
    query = {k: v[0] for k, v in parse_qs(urlsplit(other.url).query).items()}
    with pytest.raises(ConnectionFailed, match="altered"):
        start_connection(ConnectionKind.ADVERTISER, query, APP, FakeAccountStore(), NOW)


@pytest.mark.parametrize(("workspace", "ttl"), [("", 900), ("a b", 900), ("x" * 129, 900), ("acme", 59), ("acme", 86_401)])
def test_links_refuse_odd_workspaces_and_lifetimes(workspace: str, ttl: int) -> None:
    with pytest.raises(ValueError, match=r"workspace|expires_in_seconds"):
        connect_link(ConnectionKind.ADVERTISER, workspace, "https://x/start", b"k", NOW, ttl)


def test_starts_per_workspace_are_capped() -> None:
    store = FakeAccountStore()
    for n in range(PENDING_STARTS_PER_WORKSPACE):
        begin(ConnectionKind.BUSINESS, store, state=f"s{n}")
    with pytest.raises(ConnectionFailed) as failure:
        begin(ConnectionKind.BUSINESS, store, state="one-more")
    assert (failure.value.reason, failure.value.status) == ("too_many_starts", 429)
    begin(ConnectionKind.BUSINESS, store, state="elsewhere", workspace="other")


def finish(
    query: dict[str, str],
    store: FakeAccountStore,
    client: TikTokAuthApi | None = None,
    now: float = NOW,
    cookies: dict[str, str] | None = None,
) -> Any:
    return finish_connection(query, APP, store, client or tiktok()[0], FakeCipher(), FakePublisher(), now, cookies or {})


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({}, "expired_state"),
        ({"state": "unknown", "auth_code": "c"}, "expired_state"),
        ({"state": "state-1", "error": "access_denied"}, "denied"),
        ({"state": "state-1"}, "no_auth_code"),
    ],
)
def test_callback_refusals(query: dict[str, str], reason: str) -> None:
    store = FakeAccountStore()
    cookies = begin(ConnectionKind.ADVERTISER, store)
    with pytest.raises(ConnectionFailed) as failure:
        finish(query, store, cookies=cookies)
    assert failure.value.reason == reason
    assert failure.value.action


def test_expired_state_is_refused_even_if_the_ttl_has_not_deleted_it() -> None:
    store = FakeAccountStore()
    cookies = begin(ConnectionKind.ADVERTISER, store)
    with pytest.raises(ConnectionFailed) as failure:
        finish({"state": "state-1", "auth_code": "c"}, store, now=NOW + STATE_TTL_SECONDS + 1, cookies=cookies)
    assert failure.value.reason == "expired_state"


def test_a_state_is_consumed_by_its_first_callback_even_a_failed_one() -> None:
    store = FakeAccountStore()
    cookies = begin(ConnectionKind.ADVERTISER, store)
    with pytest.raises(ConnectionFailed):
        finish({"state": "state-1", "error": "access_denied"}, store, cookies=cookies)
    assert store.states == {}


@pytest.mark.parametrize("cookies", [{}, {"tiktok_connect_x": "browser-of-state-1"}, "wrong secret"])
def test_a_callback_in_another_browser_connects_nothing(cookies: dict[str, str] | str) -> None:
    """The consent page passed to someone else: their browser lacks the starting browser's cookie."""
    store = FakeAccountStore()
    right = begin(ConnectionKind.ADVERTISER, store)
    presented = dict.fromkeys(right, "browser-of-someone-else") if isinstance(cookies, str) else cookies
    client, session = tiktok()
    with pytest.raises(ConnectionFailed) as failure:
        finish({"state": "state-1", "auth_code": "c"}, store, client, cookies=presented)
    assert (failure.value.reason, failure.value.status) == ("other_browser", 403)
    assert session.calls == []  # TikTok is not even asked for the token
    assert store.advertisers == {}


def test_business_callback_stores_encrypted_tokens() -> None:
    store = FakeAccountStore()
    cookies = begin(ConnectionKind.BUSINESS, store)
    client, session = tiktok(envelope(0, grant()))
    connected = finish({"state": "state-1", "code": "c1"}, store, client, cookies=cookies)
    assert connected.accounts == {"biz-1": None}
    account = store.businesses["biz-1"]
    assert "act-1" not in account.access_token_ciphertext
    assert account.access_expires_at_ms == int(NOW * 1000) + 86_400_000
    assert session.calls[0]["json"]["redirect_uri"] == APP.redirect_uri  # must equal the one used at authorize time


@pytest.mark.parametrize(
    ("error", "reason", "status"),
    [
        (TikTokApiError(40110, "used"), "invalid_auth_code", 400),
        (TikTokApiError(40113, "blocked"), "app_credentials", 502),
        (TikTokApiError(40001, "no permission"), "no_permission", 403),
        (TikTokApiError(50000, "system"), "tiktok_error", 502),
        (TikTokTransportError("refused", answer_lost=False), "tiktok_unreachable", 502),
        (TikTokTransportError("read timed out"), "tiktok_no_answer", 504),
    ],
)
def test_tiktok_failures_are_explained(error: Exception, reason: str, status: int) -> None:
    failure = failure_from_tiktok(error)  # type: ignore[arg-type]
    assert (failure.reason, failure.status) == (reason, status)
    assert failure.action.endswith(".")


def stored_business(store: FakeAccountStore, expires_in_hours: float = 1) -> None:
    account = business_account("biz-1", "acme", BusinessGrant.model_validate(grant()), FakeCipher(), NOW, version=3)
    store.save_business(account.model_copy(update={"access_expires_at_ms": int((NOW + expires_in_hours * 3600) * 1000)}))


def test_reconnecting_continues_the_token_version() -> None:
    store = FakeAccountStore()
    stored_business(store)  # version 3
    cookies = begin(ConnectionKind.BUSINESS, store, state="state-2")
    finish({"state": "state-2", "code": "c2"}, store, tiktok(envelope(0, grant("act-9", "rft-9")))[0], cookies=cookies)
    assert store.businesses["biz-1"].version == 4
    assert not store.rotate_business_tokens(store.businesses["biz-1"], expected_version=3)  # a stale refresher loses


class AdvertiserConsent:
    """TikTok's side of an advertiser callback: the ad accounts the person granted."""

    def __init__(self, *advertiser_ids: str) -> None:
        self.advertiser_ids = list(advertiser_ids)

    def exchange_advertiser_code(self, app_id: str, secret: str, code: str) -> AdvertiserGrant:
        return AdvertiserGrant(access_token="act-adv", advertiser_ids=self.advertiser_ids)

    def authorized_advertisers(self, app_id: str, secret: str, access_token: str) -> list[AuthorizedAdvertiser]:
        return [AuthorizedAdvertiser(advertiser_id=a, advertiser_name=f"Ads {a}") for a in self.advertiser_ids]

    def advertiser_profiles(self, advertiser_ids: list[str], access_token: str) -> dict[str, AdvertiserProfile]:
        return {}

    def message_event_set_ids(self, advertiser_id: str, access_token: str) -> list[str]:
        return []


def connect_advertisers(store: FakeAccountStore, workspace: str, *advertiser_ids: str) -> Any:
    cookies = begin(ConnectionKind.ADVERTISER, store, state=f"state-{workspace}", workspace=workspace)
    query = {"state": f"state-{workspace}", "auth_code": "c"}
    publisher = FakePublisher()
    consent = AdvertiserConsent(*advertiser_ids)
    connected = finish_connection(query, APP, store, consent, FakeCipher(), publisher, NOW, cookies)  # type: ignore[arg-type]
    return connected, publisher


def test_ad_accounts_of_another_workspace_stay_there_and_the_rest_connect() -> None:
    store = FakeAccountStore()
    connect_advertisers(store, "owner", "adv-1")
    connected, publisher = connect_advertisers(store, "taker", "adv-1", "adv-2")
    assert (connected.accounts, connected.elsewhere) == ({"adv-2": "Ads adv-2"}, ["adv-1"])
    assert any("adv-1 is connected to another workspace and stayed there" in note for note in connected.notes)
    assert (store.advertisers["adv-1"].workspace, store.advertisers["adv-2"].workspace) == ("owner", "taker")
    [announced] = publisher.published
    assert announced.account_ids == ["adv-2"]


def test_a_connection_of_only_other_workspaces_accounts_is_refused() -> None:
    store = FakeAccountStore()
    connect_advertisers(store, "owner", "adv-1", "adv-2")
    with pytest.raises(ConnectionFailed) as failure:
        connect_advertisers(store, "taker", "adv-1", "adv-2")
    assert (failure.value.reason, failure.value.status) == ("other_workspace", 409)
    assert "adv-1, adv-2 are already connected to another workspace" in failure.value.title
    assert "PUT /admin/advertisers/<id>/workspace" in failure.value.action
    assert {a.workspace for a in store.advertisers.values()} == {"owner"}


def test_after_an_operators_move_the_new_workspace_connects_it() -> None:
    store = FakeAccountStore()
    connect_advertisers(store, "owner", "adv-1")
    assert store.move_to_workspace(ConnectionKind.ADVERTISER, "adv-1", "taker")
    connected, _ = connect_advertisers(store, "taker", "adv-1")
    assert connected.accounts == {"adv-1": "Ads adv-1"}
