"""Connecting TikTok accounts: the two OAuth flows, from the start link to encrypted tokens and AccountConnected.

A connection starts from a link the operator's app asks the admin API for (signed, short
lived, naming the workspace), never from an anonymous URL. Opening it binds the OAuth state
to that browser with a cookie, so a TikTok consent link passed to someone else cannot
finish there. An account already in another workspace stays there: only an operator moves
it. What happens to tokens afterwards (refresh, NEEDS_REAUTH) is tokens.py. Every refusal a
person can meet carries what to do next (ConnectionFailed.action).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .domain_events import AccountConnected, stable_event_id
from .errors import (
    PERMISSION_MISSING,
    ConnectedElsewhere,
    TikTokApiError,
    TikTokTransportError,
    TooManyConnectionStarts,
)
from .models import AdvertiserAccount, AdvertiserProfile, ConnectionKind, OAuthState, TikTokApp
from .ports import AccountStore, EventPublisher, TikTokAuth, TokenCipher
from .tokens import business_account, token_context

STATE_TTL_SECONDS = 600
BUSINESS_SCOPES = "user.info.basic,message.list.read,message.list.send,message.list.manage"
LINK_TTL_SECONDS = 900  # the operator's app asks for a link when the person clicks Connect
MAX_LINK_TTL_SECONDS = 86_400  # a link sent by e-mail may wait a day, no longer
PENDING_STARTS_PER_WORKSPACE = 30  # per STATE_TTL_SECONDS: states a workspace may create before they expire
WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
SIGNATURE = re.compile(r"[0-9a-f]{64}")
EPOCH_SECONDS = re.compile(r"[0-9]{1,12}")


class ConnectionFailed(Exception):
    """A connection that did not complete, as a person should read it."""

    def __init__(self, reason: str, title: str, action: str, status: int = 400) -> None:
        super().__init__(f"{title} {action}")
        self.reason, self.title, self.action, self.status = reason, title, action, status


START_AGAIN = "Start the connection again from the app."


def failure_from_tiktok(error: TikTokApiError | TikTokTransportError) -> ConnectionFailed:
    if isinstance(error, TikTokTransportError) and error.answer_lost:
        # The callback's TikTok calls end by its deadline (handler_support/deadline.py): this page comes instead of a
        # timeout. The state is spent and TikTok may have used the code, so only a new start can finish the connection.
        return ConnectionFailed(
            "tiktok_no_answer",
            "TikTok did not answer in time, so the connection did not finish.",
            "Start the connection again from the app in a few minutes.",
            504,
        )
    if isinstance(error, TikTokTransportError):
        return ConnectionFailed(
            "tiktok_unreachable",
            "TikTok could not be reached, so the connection did not finish.",
            "Start the connection again from the app in a few minutes.",
            502,
        )
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


def connect_link_key(app_secret: str) -> bytes:
    """The key that signs connect links, derived from the TikTok app secret so no other secret is needed."""
    return hmac.new(app_secret.encode(), b"messaging-partner connect link v1", hashlib.sha256).digest()


def _link_signature(key: bytes, kind: ConnectionKind, workspace: str, expires_at: int) -> str:
    return hmac.new(key, f"{kind.value}\n{workspace}\n{expires_at}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ConnectLink:
    url: str
    expires_at: int  # unix seconds


def connect_link(
    kind: ConnectionKind, workspace: str, start_url: str, key: bytes, now: float, ttl_seconds: int = LINK_TTL_SECONDS
) -> ConnectLink:
    """The link an operator's app hands to a person: it starts one kind of connection into one workspace, until it expires.

    start_url is this API's /oauth/tiktok/<kind>/start. Raises ValueError with a sentence for a bad workspace or lifetime.
    """
    if not WORKSPACE.fullmatch(workspace):
        raise ValueError("workspace must be 1 to 128 characters: letters, digits and . _ : @ -, starting with a letter or digit.")
    if not 60 <= ttl_seconds <= MAX_LINK_TTL_SECONDS:
        raise ValueError(f"expires_in_seconds must be between 60 and {MAX_LINK_TTL_SECONDS}.")
    expires_at = int(now) + ttl_seconds
    query = {"workspace": workspace, "expires": expires_at, "signature": _link_signature(key, kind, workspace, expires_at)}
    return ConnectLink(f"{start_url}?{urlencode(query)}", expires_at)


LINK_REFUSED = "Ask the app you connect from for a new connection link."


def _workspace_of_link(kind: ConnectionKind, query: Mapping[str, str], key: bytes, now: float) -> str:
    """The workspace a signed, unexpired link names; ConnectionFailed for an anonymous, altered or old link."""
    workspace, expires, signature = (query.get(name, "") for name in ("workspace", "expires", "signature"))
    if not (expires or signature):  # the old anonymous ?workspace= form, or nothing
        raise ConnectionFailed(
            "unsigned_link", "Connections start from a link made by the app you connect from.", LINK_REFUSED, 403
        )
    if not (WORKSPACE.fullmatch(workspace) and EPOCH_SECONDS.fullmatch(expires) and SIGNATURE.fullmatch(signature)):
        raise ConnectionFailed("altered_link", "This connection link is incomplete or was altered.", LINK_REFUSED, 403)
    expected = _link_signature(key, kind, workspace, int(expires))
    if not hmac.compare_digest(expected, signature):
        raise ConnectionFailed("altered_link", "This connection link is incomplete or was altered.", LINK_REFUSED, 403)
    if int(expires) < now:
        raise ConnectionFailed("expired_link", "This connection link has expired.", LINK_REFUSED, 403)
    return workspace


def browser_hash(browser_secret: str) -> str:
    return hashlib.sha256(browser_secret.encode()).hexdigest()


def browser_cookie_name(state: str) -> str:
    """One cookie per state, so two connections started side by side in one browser both finish."""
    return "tiktok_connect_" + hashlib.sha256(state.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StartedConnection:
    authorize_url: str  # TikTok's consent page
    cookie_name: str
    browser_secret: str  # set as an HttpOnly cookie on the starting browser; only its hash is stored


def start_connection(
    kind: ConnectionKind,
    query: Mapping[str, str],
    app: TikTokApp,
    store: AccountStore,
    now: float,
    token: Callable[[], str] | None = None,
) -> StartedConnection:
    """Checks the signed link, records a fresh state bound to the workspace and this browser, returns TikTok's URL."""
    workspace = _workspace_of_link(kind, query, connect_link_key(app.secret), now)
    new_token = token or (lambda: secrets.token_urlsafe(32))
    browser_secret = new_token()
    state = OAuthState(
        state=new_token(),
        kind=kind,
        workspace=workspace,
        expires_at=int(now) + STATE_TTL_SECONDS,
        browser_hash=browser_hash(browser_secret),
    )
    try:
        store.put_state(state, PENDING_STARTS_PER_WORKSPACE, STATE_TTL_SECONDS)
    except TooManyConnectionStarts as refused:
        raise ConnectionFailed(
            "too_many_starts",
            "This workspace started too many connections in the last few minutes.",
            "Wait ten minutes, then open the link again.",
            429,
        ) from refused
    if kind is ConnectionKind.ADVERTISER:
        query_out = {"app_id": app.app_id, "state": state.state, "redirect_uri": app.redirect_uri}
        return StartedConnection(
            f"{app.advertiser_authorize_url}?{urlencode(query_out)}", browser_cookie_name(state.state), browser_secret
        )
    query_out = {
        "client_key": app.app_id,
        "response_type": "code",
        "scope": BUSINESS_SCOPES,
        "redirect_uri": app.redirect_uri,
        "state": state.state,
        "disable_auto_auth": "1",  # without it a returning user comes back with no code
    }
    return StartedConnection(
        f"{app.business_authorize_url}?{urlencode(query_out)}", browser_cookie_name(state.state), browser_secret
    )


@dataclass(frozen=True)
class Connected:
    kind: ConnectionKind
    workspace: str
    accounts: dict[str, str | None]  # account id -> name, where TikTok gives one
    notes: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # refused: connected to another workspace


def finish_connection(
    query: Mapping[str, str],
    app: TikTokApp,
    store: AccountStore,
    tiktok: TikTokAuth,
    cipher: TokenCipher,
    publisher: EventPublisher,
    now: float,
    cookies: Mapping[str, str],
) -> Connected:
    """The callback: consume the state (once) in the browser that made it, exchange the code, store tokens, announce."""
    state = store.take_state(query.get("state", "")) if query.get("state") else None
    if state is None or state.expires_at < now:
        raise ConnectionFailed(
            "expired_state", "This connection link was already used, has expired (10 minutes) or was altered.", START_AGAIN
        )
    browser_secret = cookies.get(browser_cookie_name(state.state), "")
    if not (browser_secret and hmac.compare_digest(browser_hash(browser_secret), state.browser_hash)):
        raise ConnectionFailed(
            "other_browser",
            "This connection was started in another browser, so it was not completed here.",
            "Open the connection link from your app in this browser, then sign in to TikTok from there.",
            403,
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
    if not connected.accounts:
        raise ConnectionFailed(
            "other_workspace",
            f"{_listed(connected.elsewhere)} already connected to another workspace, so nothing was connected here.",
            MOVE_ACTION,
            409,
        )
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


MOVE_ACTION = (
    "An account stays in the workspace that connected it first. "
    "To move it, an operator of this backend calls PUT /admin/advertisers/<id>/workspace "
    "(or /admin/businesses/<id>/workspace)."
)


def _listed(account_ids: list[str]) -> str:
    return (
        ("The TikTok account " if len(account_ids) == 1 else "The TikTok accounts ")
        + ", ".join(account_ids)
        + (" is" if len(account_ids) == 1 else " are")
    )


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
    notes, elsewhere = [], []
    for advertiser_id, name in accounts.items():
        try:
            event_sets = tiktok.message_event_set_ids(advertiser_id, grant.access_token)
        except TikTokApiError as error:
            if error.code not in PERMISSION_MISSING:
                raise
            event_sets = []  # CTX Events Management not granted: signals need it later, the connection does not
            notes.append(f"{name or advertiser_id}: no message event set access (grant CTX Events Management for signals).")
        try:
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
        except ConnectedElsewhere:
            elsewhere.append(advertiser_id)
    if elsewhere and len(elsewhere) < len(accounts):
        notes.append(f"{_listed(elsewhere)} connected to another workspace and stayed there. {MOVE_ACTION}")
    connected = {advertiser_id: name for advertiser_id, name in accounts.items() if advertiser_id not in elsewhere}
    return Connected(ConnectionKind.ADVERTISER, state.workspace, connected, notes, elsewhere)


def _connect_business(
    state: OAuthState, code: str, app: TikTokApp, store: AccountStore, tiktok: TikTokAuth, cipher: TokenCipher, now: float
) -> Connected:
    grant = tiktok.exchange_business_code(app.app_id, app.secret, code, app.redirect_uri)
    # A reconnect continues the version, so a refresher holding the old item cannot overwrite the new tokens.
    previous = store.get_business(grant.open_id)
    version = previous.version + 1 if previous else 1
    try:
        store.save_business(business_account(grant.open_id, state.workspace, grant, cipher, now, version=version))
    except ConnectedElsewhere:
        return Connected(ConnectionKind.BUSINESS, state.workspace, {}, elsewhere=[grant.open_id])
    return Connected(ConnectionKind.BUSINESS, state.workspace, {grant.open_id: None})
