"""Connecting TikTok accounts: the two OAuth flows, from the start link to encrypted tokens and AccountConnected.

What happens to tokens afterwards (refresh, NEEDS_REAUTH) is tokens.py. Every refusal a
person can meet carries what to do next (ConnectionFailed.action).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .domain_events import AccountConnected, stable_event_id
from .errors import PERMISSION_MISSING, TikTokApiError, TikTokTransportError
from .models import AdvertiserAccount, AdvertiserProfile, ConnectionKind, OAuthState, TikTokApp
from .ports import AccountStore, EventPublisher, TikTokAuth, TokenCipher
from .tokens import business_account, token_context

STATE_TTL_SECONDS = 600
BUSINESS_SCOPES = "user.info.basic,message.list.read,message.list.send,message.list.manage"


class ConnectionFailed(Exception):
    """A connection that did not complete, as a person should read it."""

    def __init__(self, reason: str, title: str, action: str, status: int = 400) -> None:
        super().__init__(f"{title} {action}")
        self.reason, self.title, self.action, self.status = reason, title, action, status


START_AGAIN = "Start the connection again from the app."


def failure_from_tiktok(error: TikTokApiError | TikTokTransportError) -> ConnectionFailed:
    if isinstance(error, TikTokTransportError):
        return ConnectionFailed("tiktok_unreachable", "TikTok could not be reached.", "Try again in a few minutes.", 502)
    if error.code == 40110:
        return ConnectionFailed(
            "invalid_auth_code", "The TikTok authorization code was already used or expired (code 40110).", START_AGAIN
        )
    if error.code == 40113:
        return ConnectionFailed(
            "app_credentials",
            "TikTok refused this app's credentials (code 40113).",
            "An administrator must check the TikTok app id and app secret configured in this backend.",
            502,
        )
    if error.code in PERMISSION_MISSING:
        return ConnectionFailed(
            "no_permission",
            f"TikTok says this account did not grant the permissions the app needs (code {error.code}).",
            "Ask the account owner to approve every requested permission, then start the connection again.",
            403,
        )
    return ConnectionFailed(
        "tiktok_error", f"TikTok answered code {error.code}: {error.message}", "Try again in a few minutes.", 502
    )


def start_connection(
    kind: ConnectionKind, workspace: str, app: TikTokApp, store: AccountStore, now: float, token: Callable[[], str] | None = None
) -> str:
    """Records a fresh state bound to the workspace and returns the TikTok authorization URL."""
    if not workspace:
        raise ConnectionFailed("no_workspace", "The connection link names no workspace.", "Open it from the app, which adds it.")
    state = OAuthState(
        state=(token or (lambda: secrets.token_urlsafe(32)))(),
        kind=kind,
        workspace=workspace,
        expires_at=int(now) + STATE_TTL_SECONDS,
    )
    store.put_state(state)
    if kind is ConnectionKind.ADVERTISER:
        query = {"app_id": app.app_id, "state": state.state, "redirect_uri": app.redirect_uri}
        return f"{app.advertiser_authorize_url}?{urlencode(query)}"
    query = {
        "client_key": app.app_id,
        "response_type": "code",
        "scope": BUSINESS_SCOPES,
        "redirect_uri": app.redirect_uri,
        "state": state.state,
        "disable_auto_auth": "1",  # without it a returning user comes back with no code
    }
    return f"{app.business_authorize_url}?{urlencode(query)}"


@dataclass(frozen=True)
class Connected:
    kind: ConnectionKind
    workspace: str
    accounts: dict[str, str | None]  # account id -> name, where TikTok gives one
    notes: list[str] = field(default_factory=list)


def finish_connection(
    query: Mapping[str, str],
    app: TikTokApp,
    store: AccountStore,
    tiktok: TikTokAuth,
    cipher: TokenCipher,
    publisher: EventPublisher,
    now: float,
) -> Connected:
    """The callback: consume the state (once), exchange the code, store encrypted tokens, announce."""
    state = store.take_state(query.get("state", "")) if query.get("state") else None
    if state is None or state.expires_at < now:
        raise ConnectionFailed(
            "expired_state", "This connection link was already used, has expired (10 minutes) or was altered.", START_AGAIN
        )
    if query.get("error"):
        raise ConnectionFailed(
            "denied", "The connection was not allowed on TikTok.", "Start again and choose Allow on TikTok's consent page."
        )
    code = query.get("auth_code") or query.get("code")
    if not code:
        raise ConnectionFailed("no_auth_code", "TikTok sent no authorization code.", START_AGAIN)
    try:
        if state.kind is ConnectionKind.ADVERTISER:
            connected = _connect_advertisers(state, code, app, store, tiktok, cipher, now)
        else:
            connected = _connect_business(state, code, app, store, tiktok, cipher, now)
    except (TikTokApiError, TikTokTransportError) as error:
        raise failure_from_tiktok(error) from error
    publisher.publish(
        [
            AccountConnected(
                event_id=stable_event_id("AccountConnected", state.state),
                kind=connected.kind,
                workspace=connected.workspace,
                account_ids=list(connected.accounts),
                names={k: v for k, v in connected.accounts.items() if v},
            )
        ]
    )
    return connected


def _connect_advertisers(
    state: OAuthState, code: str, app: TikTokApp, store: AccountStore, tiktok: TikTokAuth, cipher: TokenCipher, now: float
) -> Connected:
    grant = tiktok.exchange_advertiser_code(app.app_id, app.secret, code)
    names = {
        a.advertiser_id: a.advertiser_name for a in tiktok.authorized_advertisers(app.app_id, app.secret, grant.access_token)
    }
    accounts: dict[str, str | None] = {
        advertiser_id: names.get(advertiser_id) for advertiser_id in grant.advertiser_ids or list(names)
    }
    profiles = tiktok.advertiser_profiles(list(accounts), grant.access_token)
    notes = []
    for advertiser_id, name in accounts.items():
        try:
            event_sets = tiktok.message_event_set_ids(advertiser_id, grant.access_token)
        except TikTokApiError as error:
            if error.code not in PERMISSION_MISSING:
                raise
            event_sets = []  # CTX Events Management not granted: signals need it later, the connection does not
            notes.append(f"{name or advertiser_id}: no message event set access (grant CTX Events Management for signals).")
        store.save_advertiser(
            AdvertiserAccount(
                advertiser_id=advertiser_id,
                name=name,
                workspace=state.workspace,
                token_ciphertext=cipher.encrypt(grant.access_token, token_context("advertiser", advertiser_id)),
                timezone=profiles.get(advertiser_id, AdvertiserProfile()).timezone,
                currency=profiles.get(advertiser_id, AdvertiserProfile()).currency,
                message_event_set_ids=event_sets,
                connected_at_ms=int(now * 1000),
            )
        )
    return Connected(ConnectionKind.ADVERTISER, state.workspace, accounts, notes)


def _connect_business(
    state: OAuthState, code: str, app: TikTokApp, store: AccountStore, tiktok: TikTokAuth, cipher: TokenCipher, now: float
) -> Connected:
    grant = tiktok.exchange_business_code(app.app_id, app.secret, code, app.redirect_uri)
    # A reconnect continues the version, so a refresher holding the old item cannot overwrite the new tokens.
    previous = store.get_business(grant.open_id)
    version = previous.version + 1 if previous else 1
    store.save_business(business_account(grant.open_id, state.workspace, grant, cipher, now, version=version))
    return Connected(ConnectionKind.BUSINESS, state.workspace, {grant.open_id: None})
