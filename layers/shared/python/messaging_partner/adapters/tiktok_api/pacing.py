"""Spacing one container's TikTok calls so that all containers together stay within the app's QPS tier.

Lambda runs one invocation per container at a time, and the event source's maximum
concurrency bounds the containers; so a container that waits `interval` seconds between
calls bounds the total. The schedule is kept per thread: the local stack runs several
"containers" as threads of one process, and each must pace itself as a container would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    def __init__(
        self, interval_seconds: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._interval = interval_seconds
        self._clock, self._sleep = clock, sleep
        self._next = threading.local()

    def wait(self) -> None:
        """Returns when this container may make its next call."""
        now = self._clock()
        due = max(getattr(self._next, "at", now), now)
        if due > now:
            self._sleep(due - now)
        self._next.at = due + self._interval
