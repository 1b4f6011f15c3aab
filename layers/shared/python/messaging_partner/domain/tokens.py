"""Token lifecycle, after a connection: keeping Business Account tokens alive, using advertiser tokens, NEEDS_REAUTH.

The token refresh retry policy, whole:
- within one call, REFRESH_RETRY: throttling, TikTok system errors and unreachable answers
  are tried again twice, 1 s then 2 s apart (a refresh is a POST TikTok lets us repeat);
- within one run, refresh_due_tokens: a dead refresh token (40103/40107) marks the account
  NEEDS_REAUTH and announces AccountNeedsReauth; any other failure is left for the next run,
  and one account's failure never stops the others;
- across runs: the hourly schedule (TokenRefreshFunction in template.yaml) refreshes tokens
  that expire within REFRESH_WINDOW_MS, so each 24 h access token gets two runs before it
  expires.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .domain_events import AccountNeedsReauth, stable_event_id
from .errors import (
    ADVERTISER_TOKEN_REVOKED,
    REFRESH_TOKEN_INVALID,
    AdvertiserUnavailable,
    RetryPolicy,
    TikTokApiError,
    TikTokTransportError,
)
from .expiring import ExpiringCache
from .models import AccountLinkStatus, AdvertiserAccount, BusinessAccount, BusinessGrant, ConnectionKind, TikTokApp
from .ports import AccountStore, EventPublisher, TikTokAuth, TokenCipher

REFRESH_WINDOW_MS = 2 * 3600 * 1000  # refresh Business Account tokens expiring within two hours
REFRESH_RETRY = RetryPolicy(retries=2, first_backoff_seconds=1.0, system_errors=True, unreachable=True)


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


def mark_needs_reauth(
    store: AccountStore,
    publisher: EventPublisher,
    account: AdvertiserAccount | BusinessAccount,
    code: int | None,
    reason: str,
    status: AccountLinkStatus = AccountLinkStatus.NEEDS_REAUTH,
) -> bool:
    """The account cannot be used until its owner connects it again: mark it, then announce it on the bus.

    Only the generation that failed is marked: a token refused after the account was connected
    again (or refreshed by another run) says nothing about the new one. False when nothing was marked.
    """
    if isinstance(account, AdvertiserAccount):
        kind, account_id, generation = ConnectionKind.ADVERTISER, account.advertiser_id, account.connected_at_ms
    else:
        kind, account_id, generation = ConnectionKind.BUSINESS, account.business_id, account.version
    if not store.mark_needs_reauth(kind.value, account_id, generation, reason, status):
        return False
    # A disconnection and a dead token of the same generation are two facts: two event ids.
    flavour = () if status is AccountLinkStatus.NEEDS_REAUTH else (status.value,)
    publisher.publish(
        [
            AccountNeedsReauth(
                event_id=stable_event_id("AccountNeedsReauth", account_id, str(generation), *flavour),
                kind=kind,
                account_id=account_id,
                workspace=account.workspace,
                code=code,
                reason=reason,
            )
        ]
    )
    return True


@dataclass
class RefreshReport:
    due: int = 0
    refreshed: list[str] = field(default_factory=list)
    lost_race: list[str] = field(default_factory=list)  # another refresher rotated first: nothing lost
    needs_reauth: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # left for the next run


def refresh_due_tokens(
    app: TikTokApp, store: AccountStore, tiktok: TikTokAuth, cipher: TokenCipher, publisher: EventPublisher, now: float
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
            grant = tiktok.refresh_business_token(
                app.app_id, app.secret, cipher.decrypt(account.refresh_token_ciphertext, context), REFRESH_RETRY
            )
        except TikTokApiError as error:
            if error.code in REFRESH_TOKEN_INVALID:
                reason = f"TikTok refused the refresh token (code {error.code}): the account owner must connect it again."
                if mark_needs_reauth(store, publisher, account, error.code, reason):
                    report.needs_reauth.append(business_id)
                else:
                    report.lost_race.append(business_id)  # rotated or connected again meanwhile: that token lives
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


def business_deauthorized(store: AccountStore, publisher: EventPublisher, business_id: str, why: str, removed_at_ms: int) -> bool:
    """TikTok's authorization.removed: the owner disconnected this app, so its tokens are revoked.

    The account is marked DISCONNECTED (it leaves the refresh schedule; conversations stay) and
    AccountNeedsReauth is announced. False when the account is unknown, already disconnected, or
    connected again after the removal (a late or redelivered notice must not undo a reconnection).
    """
    account = store.get_business(business_id)
    if account is None or account.status is AccountLinkStatus.DISCONNECTED or account.connected_at_ms > removed_at_ms:
        return False
    reason = f"The account owner removed this app's access on TikTok ({why}): connect the Business Account again."
    return mark_needs_reauth(store, publisher, account, None, reason, AccountLinkStatus.DISCONNECTED)


def advertiser_token_failed(
    error: TikTokApiError, account: AdvertiserAccount, store: AccountStore, publisher: EventPublisher
) -> bool:
    """On 40105/40106 while using an advertiser token, mark it NEEDS_REAUTH and announce it. True if so."""
    if error.code not in ADVERTISER_TOKEN_REVOKED:
        return False
    reason = f"TikTok no longer accepts this advertiser's token (code {error.code}): connect the ad account again."
    return mark_needs_reauth(store, publisher, account, error.code, reason)


class AdvertiserTokenSource:
    """Advertiser tokens for ad lookups and signals (the AdvertiserTokens port): read and decrypted once per
    container per few minutes."""

    def __init__(
        self,
        store: AccountStore,
        cipher: TokenCipher,
        publisher: EventPublisher,
        ttl_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._cipher, self._publisher = store, cipher, publisher
        self._tokens: ExpiringCache[tuple[AdvertiserAccount, str]] = ExpiringCache(ttl_seconds, clock)

    def token(self, advertiser_id: str) -> str:
        return self._known(advertiser_id)[1]

    def event_set_id(self, advertiser_id: str) -> str | None:
        """The first message event set found at connect time (signals go there)."""
        event_sets = self._known(advertiser_id)[0].message_event_set_ids
        return event_sets[0] if event_sets else None

    def _known(self, advertiser_id: str) -> tuple[AdvertiserAccount, str]:
        remembered = self._tokens.recall(advertiser_id)
        return remembered.value if remembered else self._tokens.remember(advertiser_id, self._load(advertiser_id))

    def rejected(self, advertiser_id: str, error: TikTokApiError) -> bool:
        known = self._tokens.pop(advertiser_id)
        return known is not None and advertiser_token_failed(error, known[0], self._store, self._publisher)

    def _load(self, advertiser_id: str) -> tuple[AdvertiserAccount, str]:
        found = self._store.get_advertiser(advertiser_id)
        if found is None:
            raise AdvertiserUnavailable(f"Ad account {advertiser_id} is not connected; connect it to use it.")
        account = found[0]
        if account.status is not AccountLinkStatus.ACTIVE:
            raise AdvertiserUnavailable(f"Ad account {advertiser_id} needs re-authorization; connect it again.")
        return account, self._cipher.decrypt(account.token_ciphertext, token_context("advertiser", advertiser_id))
