"""A per-container memory whose entries expire: for reads that are cheap to repeat rarely and costly to repeat often."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class ExpiringCache(Generic[Value]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Value]] = {}

    def get(self, key: Hashable, load: Callable[[], Value]) -> Value:
        """The remembered value, or load()'s, remembered for ttl_seconds. A load that raises is not remembered."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        value = load()
        self._entries[key] = (self._clock(), value)
        return value

    def pop(self, key: Hashable) -> Value | None:
        entry = self._entries.pop(key, None)
        return entry[1] if entry is not None else None
