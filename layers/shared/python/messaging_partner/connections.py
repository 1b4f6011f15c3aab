"""Connecting TikTok accounts: the two OAuth flows, and keeping Business Account tokens alive.

Every refusal a person can meet carries what to do next (ConnectionFailed.action).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .events import AccountConnected, AccountNeedsReauth, stable_event_id
from .models import AccountLinkStatus, AdvertiserAccount, BusinessAccount, ConnectionKind, OAuthState
from .ports import AccountStore, EventPublisher, TokenCipher
from .tiktok.client import REFRESH_TOKEN_INVALID, TikTokApiError, TikTokClient, TikTokTransportError
from .tiktok.oauth import (
    BusinessGrant,
    advertiser_timezones,
    authorized_advertisers,
    exchange_advertiser_code,
    exchange_business_code,
    message_event_set_ids,
    refresh_business_token,
)

STATE_TTL_SECONDS = 600
REFRESH_WINDOW_MS = 2 * 3600 * 1000  # refresh Business Account tokens expiring within two hours
BUSINESS_SCOPES = "user.info.basic,message.list.read,message.list.send,message.list.manage"


@dataclass(frozen=True)
class TikTokApp:
    app_id: str
    secret: str
    redirect_uri: str
    advertiser_authorize_url: str
    business_authorize_url: str


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
    if error.code in (40001, 40125, 40118):
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
    tiktok: TikTokClient,
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
    state: OAuthState, code: str, app: TikTokApp, store: AccountStore, tiktok: TikTokClient, cipher: TokenCipher, now: float
) -> Connected:
    grant = exchange_advertiser_code(tiktok, app.app_id, app.secret, code)
    names = {
        a.advertiser_id: a.advertiser_name for a in authorized_advertisers(tiktok, app.app_id, app.secret, grant.access_token)
    }
    accounts: dict[str, str | None] = {
        advertiser_id: names.get(advertiser_id) for advertiser_id in grant.advertiser_ids or list(names)
    }
    timezones = advertiser_timezones(tiktok, list(accounts), grant.access_token)
    notes = []
    for advertiser_id, name in accounts.items():
        try:
            event_sets = message_event_set_ids(tiktok, advertiser_id, grant.access_token)
        except TikTokApiError as error:
            if error.code not in (40001, 40125, 40118):
                raise
            event_sets = []  # CTX Events Management not granted: signals need it later, the connection does not
            notes.append(f"{name or advertiser_id}: no message event set access (grant CTX Events Management for signals).")
        store.save_advertiser(
            AdvertiserAccount(
                advertiser_id=advertiser_id,
                name=name,
                workspace=state.workspace,
                token_ciphertext=cipher.encrypt(grant.access_token, token_context("advertiser", advertiser_id)),
                timezone=timezones.get(advertiser_id, "UTC"),
                message_event_set_ids=event_sets,
                connected_at_ms=int(now * 1000),
            )
        )
    return Connected(ConnectionKind.ADVERTISER, state.workspace, accounts, notes)


def _connect_business(
    state: OAuthState, code: str, app: TikTokApp, store: AccountStore, tiktok: TikTokClient, cipher: TokenCipher, now: float
) -> Connected:
    grant = exchange_business_code(tiktok, app.app_id, app.secret, code, app.redirect_uri)
    # A reconnect continues the version, so a refresher holding the old item cannot overwrite the new tokens.
    previous = store.get_business(grant.open_id)
    version = previous.version + 1 if previous else 1
    store.save_business(business_account(grant.open_id, state.workspace, grant, cipher, now, version=version))
    return Connected(ConnectionKind.BUSINESS, state.workspace, {grant.open_id: None})


def token_context(kind: str, account_id: str) -> dict[str, str]:
    """KMS encryption context: a ciphertext only decrypts for the account it was stored for."""
    return {"purpose": "tiktok-token", "kind": kind, "account": account_id}


def business_account(
    business_id: str,
    workspace: str,
    grant: BusinessGrant,
    cipher: TokenCipher,
    now: float,
    version: int,
    connected_at_ms: int | None = None,
) -> BusinessAccount:
    """The stored form of a tt_user grant: both tokens encrypted, expiry times absolute."""
    now_ms = int(now * 1000)
    context = token_context("business", business_id)
    return BusinessAccount(
        business_id=business_id,
        workspace=workspace,
        access_token_ciphertext=cipher.encrypt(grant.access_token, context),
        refresh_token_ciphertext=cipher.encrypt(grant.refresh_token, context),
        access_expires_at_ms=now_ms + grant.expires_in * 1000,
        refresh_expires_at_ms=now_ms + grant.refresh_token_expires_in * 1000,
        scopes=[scope for scope in grant.scope.split(",") if scope],
        version=version,
        connected_at_ms=connected_at_ms or now_ms,
        refreshed_at_ms=now_ms if connected_at_ms else None,
    )


@dataclass
class RefreshReport:
    due: int = 0
    refreshed: list[str] = field(default_factory=list)
    lost_race: list[str] = field(default_factory=list)  # another refresher rotated first: nothing lost
    needs_reauth: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # left for the next run


def refresh_due_tokens(
    app: TikTokApp, store: AccountStore, tiktok: TikTokClient, cipher: TokenCipher, publisher: EventPublisher, now: float
) -> RefreshReport:
    """Refreshes every Business Account token expiring within REFRESH_WINDOW_MS, found through the sparse index."""
    report = RefreshReport()
    due = store.businesses_due_for_refresh(int(now * 1000) + REFRESH_WINDOW_MS)
    report.due = len(due)
    for business_id in due:
        account = store.get_business(business_id)
        if account is None or account.status is not AccountLinkStatus.ACTIVE:
            continue
        context = token_context("business", business_id)
        try:
            grant = refresh_business_token(
                tiktok, app.app_id, app.secret, cipher.decrypt(account.refresh_token_ciphertext, context)
            )
        except TikTokApiError as error:
            if error.code in REFRESH_TOKEN_INVALID:
                reason = f"TikTok refused the refresh token (code {error.code}): the account owner must connect it again."
                store.mark_needs_reauth("business", business_id, reason)
                publisher.publish(
                    [
                        AccountNeedsReauth(
                            event_id=stable_event_id("AccountNeedsReauth", business_id, str(account.version)),
                            kind=ConnectionKind.BUSINESS,
                            account_id=business_id,
                            workspace=account.workspace,
                            code=error.code,
                            reason=reason,
                        )
                    ]
                )
                report.needs_reauth.append(business_id)
            else:
                report.failed[business_id] = f"code {error.code}"
            continue
        except TikTokTransportError as error:
            report.failed[business_id] = str(error)
            continue
        rotated = business_account(
            business_id, account.workspace, grant, cipher, now, account.version + 1, connected_at_ms=account.connected_at_ms
        )
        if store.rotate_business_tokens(rotated, expected_version=account.version):
            report.refreshed.append(business_id)
        else:
            report.lost_race.append(business_id)
    return report


def advertiser_token_failed(
    error: TikTokApiError, account: AdvertiserAccount, store: AccountStore, publisher: EventPublisher
) -> bool:
    """On 40105/40106 while using an advertiser token, mark it NEEDS_REAUTH and announce it. True if so."""
    if error.code not in (40105, 40106):
        return False
    reason = f"TikTok no longer accepts this advertiser's token (code {error.code}): connect the ad account again."
    store.mark_needs_reauth("advertiser", account.advertiser_id, reason)
    publisher.publish(
        [
            AccountNeedsReauth(
                event_id=stable_event_id("AccountNeedsReauth", account.advertiser_id, str(account.connected_at_ms)),
                kind=ConnectionKind.ADVERTISER,
                account_id=account.advertiser_id,
                workspace=account.workspace,
                code=error.code,
                reason=reason,
            )
        ]
    )
    return True
