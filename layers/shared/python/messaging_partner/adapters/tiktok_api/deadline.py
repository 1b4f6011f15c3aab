"""How long TikTok calls may take in this invocation: the Lambda's remaining time less a margin, set by the handler.

Every call and its retries end by the deadline, so a hanging TikTok fails the records it
holds while the function can still answer (the queue then tries them again), never by the
function's timeout, which would take the whole batch with it. Kept per context (a thread in
the local stack, an invocation in Lambda).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ends_at: ContextVar[float | None] = ContextVar("tiktok_calls_end_at", default=None)


@contextmanager
def calls_end_within(seconds: float) -> Iterator[None]:
    token = _ends_at.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _ends_at.reset(token)


def seconds_left() -> float | None:
    """None outside an invocation that set a deadline (tests, scripts)."""
    ends_at = _ends_at.get()
    return None if ends_at is None else ends_at - time.monotonic()
