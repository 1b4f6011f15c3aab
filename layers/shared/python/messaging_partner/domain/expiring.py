"""A per-container memory whose entries expire: for reads that are cheap to repeat rarely and costly to repeat often.

Callers look first and remember what they read: the memory never calls back into them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

Value = TypeVar("Value")


@dataclass(frozen=True)
class Remembered(Generic[Value]):
    """A remembered value; wrapped because None (say, "no route") is worth remembering too."""

    value: Value


class ExpiringCache(Generic[Value]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Value]] = {}

    def recall(self, key: Hashable) -> Remembered[Value] | None:
        """What was remembered under key in the last ttl_seconds, else None."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return Remembered(entry[1])
        return None

    def remember(self, key: Hashable, value: Value) -> Value:
        self._entries[key] = (self._clock(), value)
        return value

    def pop(self, key: Hashable) -> Value | None:
        entry = self._entries.pop(key, None)
        return entry[1] if entry is not None else None
