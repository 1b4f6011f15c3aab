from __future__ import annotations

import pytest

from messaging_partner.expiring import ExpiringCache


def test_remembers_until_the_ttl_then_loads_again() -> None:
    now, loads = [0.0], []
    cache: ExpiringCache[int] = ExpiringCache(60, clock=lambda: now[0])

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert cache.get("k", load) == 1
    now[0] = 59
    assert cache.get("k", load) == 1
    now[0] = 61
    assert cache.get("k", load) == 2
    assert cache.pop("k") == 2
    assert cache.pop("k") is None


def test_a_failed_load_is_not_remembered() -> None:
    cache: ExpiringCache[int] = ExpiringCache(60)

    def fail() -> int:
        raise LookupError("down")

    with pytest.raises(LookupError):
        cache.get("k", fail)
    assert cache.get("k", lambda: 7) == 7
