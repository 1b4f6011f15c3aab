from __future__ import annotations

from messaging_partner.domain.expiring import ExpiringCache, Remembered


def test_remembers_until_the_ttl_then_forgets() -> None:
    now = [0.0]
    cache: ExpiringCache[int] = ExpiringCache(60, clock=lambda: now[0])
    assert cache.recall("k") is None
    assert cache.remember("k", 1) == 1
    now[0] = 59
    assert cache.recall("k") == Remembered(1)
    now[0] = 61
    assert cache.recall("k") is None
    cache.remember("k", 2)
    assert cache.pop("k") == 2
    assert cache.pop("k") is None


def test_none_is_remembered_as_a_value() -> None:
    cache: ExpiringCache[int | None] = ExpiringCache(60)
    cache.remember("no route", None)
    assert cache.recall("no route") == Remembered(None)
