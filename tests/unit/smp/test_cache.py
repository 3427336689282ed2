"""The lookup cache: TTL, shorter negative TTL, not_after clamp, bound; time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.smp import LookupCache

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_positive_entries_expire_after_ttl() -> None:
    cache: LookupCache[str, str] = LookupCache(ttl=timedelta(minutes=15), negative_ttl=timedelta(minutes=2))
    cache.put("k", "v", now=T0)
    assert cache.get("k", now=T0 + timedelta(minutes=14)) == "v"
    assert cache.get("k", now=T0 + timedelta(minutes=15)) is None
    assert len(cache) == 0


def test_negative_entries_expire_sooner() -> None:
    cache: LookupCache[str, str] = LookupCache(ttl=timedelta(minutes=15), negative_ttl=timedelta(minutes=2))
    cache.put("k", "no", now=T0, negative=True)
    assert cache.get("k", now=T0 + timedelta(minutes=1)) == "no"
    assert cache.get("k", now=T0 + timedelta(minutes=2)) is None


def test_not_after_clamps_and_past_not_after_is_not_stored() -> None:
    cache: LookupCache[str, str] = LookupCache()
    cache.put("k", "v", now=T0, not_after=T0 + timedelta(seconds=30))
    assert cache.get("k", now=T0 + timedelta(seconds=29)) == "v"
    assert cache.get("k", now=T0 + timedelta(seconds=30)) is None
    cache.put("old", "v", now=T0, not_after=T0)
    assert cache.get("old", now=T0) is None


def test_bounded_size_drops_oldest_and_clear() -> None:
    cache: LookupCache[int, int] = LookupCache(max_entries=2)
    for i in range(3):
        cache.put(i, i, now=T0)
    assert cache.get(0, now=T0) is None
    assert cache.get(2, now=T0) == 2
    cache.clear()
    assert len(cache) == 0


def test_bad_configuration_refused() -> None:
    with pytest.raises(ValueError, match="TTL"):
        LookupCache(ttl=timedelta(seconds=-1))
