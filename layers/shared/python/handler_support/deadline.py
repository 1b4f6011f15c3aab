"""Every TikTok call a handler makes ends by its Lambda's remaining time less a margin (adapters/tiktok_api/deadline.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from messaging_partner.adapters.tiktok_api.deadline import calls_end_within, seconds_left

__all__ = ["MARGIN_SECONDS", "seconds_left", "tiktok_calls_bounded"]

# Time kept back to record outcomes, report the batch's failures and answer.
MARGIN_SECONDS = 3.0

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tiktok_calls_bounded(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def bounded(event: Any, context: Any) -> Any:
        with calls_end_within(context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS):
            return handler(event, context)

    return bounded  # type: ignore[return-value]
