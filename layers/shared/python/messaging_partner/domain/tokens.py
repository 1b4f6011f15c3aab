"""Token lifecycle, after a connection: keeping Business Account tokens alive, using advertiser tokens, NEEDS_REAUTH.

TikTok rotates the refresh token at every refresh and the old one stops working
(reference/tiktok.md 1b), and a refresh has no idempotency key. So a refresh token is
presented to TikTok at most once where TikTok may have acted on it, and only TikTok's
explicit refusal of the token we hold marks an account NEEDS_REAUTH.

The token refresh retry policy, whole:
- within one call, REFRESH_RETRY: only what TikTok cannot have acted on is tried again, twice,
  1 s then 2 s apart: throttling (40100/40016/40133) and requests that never left (a refused
  connection, a connect timeout). A lost answer (read timeout, dropped connection, HTTP error,
  unreadable body) or a TikTok system error may come after TikTok rotated: not repeated.
- within one run, refresh_due_tokens, account by account, each under a claim on its item
  (one refresher at a time presents a given refresh token, REFRESH_CLAIM_MS):
  - new tokens: stored if the item is still the version read (else another refresher won);
  - 40103/40107: the account is marked NEEDS_REAUTH and AccountNeedsReauth announced, if the
    item is still the version whose token was refused;
  - a lost answer: the account stays ACTIVE, its item records since when the refresh is
    unconfirmed (refresh_unconfirmed_since_ms), and the run reports it unresolved;
  - anything else (TikTok refusing for another reason, a token that does not decrypt, an AWS
    failure): the account is left as it was with the reason on its item, reported failed;
  one account's failure never stops the others; accounts the run has no time left for are
  deferred, still due.
- across runs: the hourly schedule (TokenRefreshFunction in template.yaml) refreshes tokens
  that expire within REFRESH_WINDOW_MS, so each 24 h access token gets two runs before it
  expires. The next run settles an unconfirmed refresh by presenting the stored token once:
  new tokens mean TikTok had not rotated (refreshed, resolved); 40107 means it had (or the
  token was revoked): either way the only token we hold is dead, TikTok says so, and the
  account needs its owner (NEEDS_REAUTH, the reason naming the lost answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .domain_events import AccountNeedsReauth, stable_event_id
from .errors import (
    ADVERTISER_TOKEN_REVOKED,
    REFRESH_TOKEN_INVALID,
    AdvertiserUnavailable,
    RetryPolicy,
    TikTokApiError,
    TikTokTransportError,
    TokenUnreadable,
)
from .expiring import ExpiringCache
from .models import AccountLinkStatus, AdvertiserAccount, BusinessAccount, BusinessGrant, ConnectionKind, TikTokApp
from .ports import AccountStore, EventPublisher, TikTokAuth, TokenCipher

REFRESH_WINDOW_MS = 2 * 3600 * 1000  # refresh Business Account tokens expiring within two hours
REFRESH_RETRY = RetryPolicy(retries=2, first_backoff_seconds=1.0, system_errors=False, unreachable=True, answer_lost=False)
REFRESH_CLAIM_MS = 15 * 60 * 1000  # Lambda's longest run: a claim outlives the run that took it, however it ends
MIN_RUN_SECONDS_PER_ACCOUNT = 1.0  # less time than this left for TikTok calls: the remaining accounts wait for the next run


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
    lost_race: list[str] = field(default_factory=list)  # another refresher holds or rotated it: nothing lost
    needs_reauth: list[str] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)  # answer lost: the next run settles whether TikTok rotated
    failed: dict[str, str] = field(default_factory=dict)  # left as they were, with the reason, for the next run
    resolved: list[str] = field(default_factory=list)  # an earlier lost answer settled this run (refreshed or NEEDS_REAUTH)
    deferred: list[str] = field(default_factory=list)  # no time left in this run: still due, for the next one
    unreadable: list[str] = field(default_factory=list)  # among failed: a stored token that does not decrypt

    def counts(self) -> dict[str, int]:
        return {
            "due": self.due,
            "refreshed": len(self.refreshed),
            "needs_reauth": len(self.needs_reauth),
            "unresolved": len(self.unresolved),
            "failed": len(self.failed),
            "resolved": len(self.resolved),
            "lost_race": len(self.lost_race),
            "deferred": len(self.deferred),
            "unreadable": len(self.unreadable),
        }


def refresh_due_tokens(
    app: TikTokApp,
    store: AccountStore,
    tiktok: TikTokAuth,
    cipher: TokenCipher,
    publisher: EventPublisher,
    now: float,
    seconds_left: Callable[[], float | None] = lambda: None,
) -> RefreshReport:
    """Refreshes every Business Account token expiring within REFRESH_WINDOW_MS, found through the sparse index.

    seconds_left: the time left for TikTok calls in this invocation (None: unbounded).
    """
    report = RefreshReport()
    due = store.businesses_due_for_refresh(int(now * 1000) + REFRESH_WINDOW_MS)
    report.due = len(due)
    for index, business_id in enumerate(due):
        left = seconds_left()
        if left is not None and left < MIN_RUN_SECONDS_PER_ACCOUNT:
            report.deferred.extend(due[index:])
            break
        try:
            _refresh_one(app, store, tiktok, cipher, publisher, business_id, now, report)
        except Exception as error:  # one account's failure never stops the others
            # Type and message only: adapters keep tokens out of their errors (adapters/tiktok_api/auth.py).
            report.failed[business_id] = f"{type(error).__name__}: {error}"
    return report


def _refresh_one(
    app: TikTokApp,
    store: AccountStore,
    tiktok: TikTokAuth,
    cipher: TokenCipher,
    publisher: EventPublisher,
    business_id: str,
    now: float,
    report: RefreshReport,
) -> None:
    account = store.get_business(business_id)
    if account is None or account.status is not AccountLinkStatus.ACTIVE:
        return
    now_ms = int(now * 1000)
    try:
        refresh_token = cipher.decrypt(account.refresh_token_ciphertext, token_context("business", business_id))
    except TokenUnreadable as error:
        issue = (
            f"The stored refresh token does not decrypt ({error}). Restore the item from a backup, "
            "or have the account owner connect the Business Account again."
        )
        store.release_business_refresh(business_id, account.version, issue)
        report.failed[business_id] = issue
        report.unreadable.append(business_id)
        return
    if not store.claim_business_refresh(business_id, account.version, now_ms, now_ms + REFRESH_CLAIM_MS):
        report.lost_race.append(business_id)
        return
    unconfirmed_since = unconfirmed_refresh_since(account, now_ms)
    try:
        grant = tiktok.refresh_business_token(app.app_id, app.secret, refresh_token, REFRESH_RETRY)
    except (TikTokApiError, TikTokTransportError) as error:
        _refresh_refused(store, publisher, account, error, now_ms, unconfirmed_since, report)
        return
    try:
        rotated = business_account(
            business_id, account.workspace, grant, cipher, now, account.version + 1, connected_at_ms=account.connected_at_ms
        )
        stored = store.rotate_business_tokens(rotated, expected_version=account.version)
    except Exception as error:  # the claim stays: once it runs out, the next run treats this as a lost answer
        report.failed[business_id] = (
            f"TikTok issued new tokens that could not be stored ({type(error).__name__}: {error}): TikTok rotated, so the "
            "stored refresh token is most likely dead; the next run after the claim runs out settles it."
        )
        return
    if stored:
        report.refreshed.append(business_id)
        if unconfirmed_since is not None:
            report.resolved.append(business_id)  # TikTok had not rotated: the stored token still worked
    else:
        report.lost_race.append(business_id)  # connected again meanwhile: the new connection's tokens stay


def unconfirmed_refresh_since(account: BusinessAccount, now_ms: int) -> int | None:
    """Since when TikTok may have rotated the stored refresh token without us knowing: a lost answer recorded by an
    earlier run, or a claim that ran out without its run recording anything (a run stopped mid-call)."""
    if account.refresh_unconfirmed_since_ms is not None:
        return account.refresh_unconfirmed_since_ms
    claimed = account.refresh_claimed_until_ms
    return claimed - REFRESH_CLAIM_MS if claimed is not None and claimed <= now_ms else None


def _refresh_refused(
    store: AccountStore,
    publisher: EventPublisher,
    account: BusinessAccount,
    error: TikTokApiError | TikTokTransportError,
    now_ms: int,
    unconfirmed_since: int | None,
    report: RefreshReport,
) -> None:
    """No new tokens: TikTok refused the token (NEEDS_REAUTH), may have acted (unresolved), or did not act (failed)."""
    business_id = account.business_id
    if isinstance(error, TikTokApiError) and error.code in REFRESH_TOKEN_INVALID:
        reason = f"TikTok refused the refresh token (code {error.code}): the account owner must connect it again."
        if unconfirmed_since is not None:
            reason = (
                f"TikTok refused the refresh token (code {error.code}). The answer to an earlier refresh (since "
                f"{_iso(unconfirmed_since)}) was lost: TikTok most likely rotated the token then and the new one never "
                "arrived. The account owner must connect it again."
            )
        if mark_needs_reauth(store, publisher, account, error.code, reason):
            report.needs_reauth.append(business_id)
            if unconfirmed_since is not None:
                report.resolved.append(business_id)
        else:
            report.lost_race.append(business_id)  # rotated or connected again meanwhile: that token lives
        return
    if _may_have_acted(error):
        issue = (
            f"Refresh unconfirmed: {error}. TikTok may have rotated the refresh token; the next run presents the "
            "stored one once to find out (the account stays ACTIVE meanwhile)."
        )
        store.release_business_refresh(business_id, account.version, issue, unconfirmed_since or now_ms)
        report.unresolved[business_id] = issue
        return
    # TikTok answered without acting (a code other than a dead token, throttling past the retries) or was never
    # reached: the stored token is as good as before.
    issue = f"Not refreshed: {error if isinstance(error, TikTokTransportError) else f'code {error.code}: {error.message}'}"
    store.release_business_refresh(business_id, account.version, issue, unconfirmed_since)
    report.failed[business_id] = issue


def _may_have_acted(error: TikTokApiError | TikTokTransportError) -> bool:
    """A lost answer, or a TikTok system error (which TikTok does not say came before the rotation)."""
    return error.answer_lost if isinstance(error, TikTokTransportError) else error.is_system_error


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
