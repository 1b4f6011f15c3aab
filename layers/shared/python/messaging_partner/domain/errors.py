"""The failures the rules meet, whichever adapter raised them, and how a failed TikTok call is tried again.

Adapters raise these; rules catch them. Each message says what a person should do.
"""

from __future__ import annotations

from dataclasses import dataclass

# TikTok answers HTTP 200 with a code in its envelope (reference/tiktok.md section 2).
THROTTLED = frozenset({40100, 40016, 40133})
SYSTEM_ERRORS = frozenset({50000, 50002, 51065, 60001})
REFRESH_TOKEN_INVALID = frozenset({40103, 40107})
ADVERTISER_TOKEN_REVOKED = frozenset({40105, 40106})  # refused on use: the ad account must be connected again
PERMISSION_MISSING = frozenset({40001, 40125, 40118})


class DeliveryFailed(Exception):
    """A queue or bus did not take everything it was given; the caller must not acknowledge."""


class UnparseablePayload(Exception):
    """A verified body we cannot read; it is parked with this reason, never dropped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HandshakeNotSupported(Exception):
    """The platform verifies its endpoint another way (TikTok: no GET handshake)."""


class AlreadyLinked(Exception):
    def __init__(self, channel: str, account_id: str, advertiser_id: str) -> None:
        super().__init__(
            f"The {channel} account {account_id} is already linked to advertiser {advertiser_id}. "
            "Unlink it there first; a chat account routes to one advertiser at a time."
        )
        self.advertiser_id = advertiser_id


class UnknownAdvertiser(Exception):
    def __init__(self, advertiser_id: str) -> None:
        super().__init__(f"No connected advertiser {advertiser_id}. Connect it first with a link from POST /admin/connect-links.")


class ConnectedElsewhere(Exception):
    """The TikTok account belongs to another workspace; a connection never moves it, an operator does."""

    def __init__(self, account_id: str, workspace: str) -> None:
        super().__init__(f"The TikTok account {account_id} is connected to another workspace.")
        self.account_id, self.workspace = account_id, workspace


class TooManyConnectionStarts(Exception):
    """A workspace started more connections than it may have pending at once."""


class InvalidCursor(Exception):
    """A `next` cursor that is not one this listing gave (altered, cut short, or from another query)."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"The next cursor {why}. Pass next exactly as the previous page gave it, or leave it out to start again."
        )


class OutcomeLimitReached(Exception):
    """A conversation already holds as many outcomes as it may."""


class AdvertiserUnavailable(Exception):
    """No usable token for the advertiser (not connected, or NEEDS_REAUTH); the message says which."""


class TokenUnreadable(Exception):
    """A stored token that does not decrypt for its account (KMS InvalidCiphertextException): the ciphertext was
    altered, or stored for another account or key. The message names the cause, never the ciphertext."""


class TikTokApiError(Exception):
    """TikTok answered with an error code in its envelope."""

    def __init__(self, code: int, message: str, request_id: str | None = None, path: str = "") -> None:
        super().__init__(f"TikTok API {path} answered code {code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.path = path

    @property
    def is_throttled(self) -> bool:
        return self.code in THROTTLED

    @property
    def is_system_error(self) -> bool:
        return self.code in SYSTEM_ERRORS


class TikTokTransportError(Exception):
    """No envelope came back: a network fault, an HTTP error status, or a body that is not JSON.

    answer_lost says whether TikTok may have acted on the request: True once the request may
    have reached it (a read timeout, a dropped connection, an error status, an unreadable
    body), False when it was never sent (connection refused, connect timeout, no time left).
    A call that is not safe to repeat must not be repeated after a lost answer.
    """

    def __init__(self, message: str, answer_lost: bool = True) -> None:
        super().__init__(message)
        self.answer_lost = answer_lost


@dataclass(frozen=True)
class RetryPolicy:
    """How a TikTok call is tried again within one call: on what, how often, how long apart.

    Throttling is always retried. System errors, unreachable TikTok and lost answers only where
    the call is safe to repeat: TikTok has no idempotency keys, so a repeated POST can act twice.
    """

    retries: int = 2
    first_backoff_seconds: float = 1.0  # doubled at each retry
    system_errors: bool = True
    unreachable: bool = True  # the request was never sent (TikTokTransportError.answer_lost False)
    answer_lost: bool = True  # the request may have reached TikTok and no answer was read

    def backoff(self, error: TikTokApiError | TikTokTransportError, retries_done: int) -> float | None:
        """Seconds to wait before trying again, or None to give up and raise."""
        if retries_done >= self.retries:
            return None
        if isinstance(error, TikTokTransportError):
            retryable = self.answer_lost if error.answer_lost else self.unreachable
        else:
            retryable = error.is_throttled or (self.system_errors and error.is_system_error)
        return self.first_backoff_seconds * 2**retries_done if retryable else None


SAFE_TO_REPEAT = RetryPolicy()  # reads, and writes that are safe to repeat
THROTTLING_ONLY = RetryPolicy(system_errors=False, unreachable=False, answer_lost=False)  # writes that could act twice
