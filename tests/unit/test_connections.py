"""Connection rules with fakes: state, outcomes, refresh paths (no network: TikTok is a scripted session)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from messaging_partner.adapters.tiktok_api.auth import TikTokAuthApi
from messaging_partner.adapters.tiktok_api.client import TikTokClient
from messaging_partner.domain.connections import (
    STATE_TTL_SECONDS,
    ConnectionFailed,
    failure_from_tiktok,
    finish_connection,
    start_connection,
)
from messaging_partner.domain.errors import TikTokApiError, TikTokTransportError
from messaging_partner.domain.models import BusinessGrant, ConnectionKind, TikTokApp
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


@pytest.mark.parametrize("kind", list(ConnectionKind))
def test_start_records_a_bound_state_and_builds_the_authorize_url(kind: ConnectionKind) -> None:
    store = FakeAccountStore()
    url = start_connection(kind, "acme", APP, store, NOW, token=lambda: "state-1")
    [state] = store.states.values()
    assert (state.state, state.kind, state.workspace, state.expires_at) == ("state-1", kind, "acme", NOW + STATE_TTL_SECONDS)
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


def test_states_are_random() -> None:
    store = FakeAccountStore()
    for _ in range(20):
        start_connection(ConnectionKind.ADVERTISER, "acme", APP, store, NOW)
    assert len(store.states) == 20
    assert all(len(s) >= 40 for s in store.states)


def test_start_needs_a_workspace() -> None:
    with pytest.raises(ConnectionFailed) as failure:
        start_connection(ConnectionKind.ADVERTISER, "", APP, FakeAccountStore(), NOW)
    assert failure.value.reason == "no_workspace"


def finish(query: dict[str, str], store: FakeAccountStore, client: TikTokAuthApi | None = None, now: float = NOW) -> Any:
    return finish_connection(query, APP, store, client or tiktok()[0], FakeCipher(), FakePublisher(), now)


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
    start_connection(ConnectionKind.ADVERTISER, "acme", APP, store, NOW, token=lambda: "state-1")
    with pytest.raises(ConnectionFailed) as failure:
        finish(query, store)
    assert failure.value.reason == reason
    assert failure.value.action


def test_expired_state_is_refused_even_if_the_ttl_has_not_deleted_it() -> None:
    store = FakeAccountStore()
    start_connection(ConnectionKind.ADVERTISER, "acme", APP, store, NOW, token=lambda: "state-1")
    with pytest.raises(ConnectionFailed) as failure:
        finish({"state": "state-1", "auth_code": "c"}, store, now=NOW + STATE_TTL_SECONDS + 1)
    assert failure.value.reason == "expired_state"


def test_a_state_is_consumed_by_its_first_callback_even_a_failed_one() -> None:
    store = FakeAccountStore()
    start_connection(ConnectionKind.ADVERTISER, "acme", APP, store, NOW, token=lambda: "state-1")
    with pytest.raises(ConnectionFailed):
        finish({"state": "state-1", "error": "access_denied"}, store)
    assert store.states == {}


def test_business_callback_stores_encrypted_tokens() -> None:
    store = FakeAccountStore()
    start_connection(ConnectionKind.BUSINESS, "acme", APP, store, NOW, token=lambda: "state-1")
    client, session = tiktok(envelope(0, grant()))
    connected = finish({"state": "state-1", "code": "c1"}, store, client)
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
        (TikTokTransportError("down"), "tiktok_unreachable", 502),
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
    start_connection(ConnectionKind.BUSINESS, "acme", APP, store, NOW, token=lambda: "state-2")
    finish({"state": "state-2", "code": "c2"}, store, tiktok(envelope(0, grant("act-9", "rft-9")))[0])
    assert store.businesses["biz-1"].version == 4
    assert not store.rotate_business_tokens(store.businesses["biz-1"], expected_version=3)  # a stale refresher loses
