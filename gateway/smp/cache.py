"""A bounded lookup cache with a TTL, a shorter TTL for negative answers, and the time passed in.

peppol-commons caches SMP lookups for 15 minutes by default (peppol-as4.md §9.3); "not registered" and
"not supported" answers are cached for less, so a participant that just registered is found soon.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_TTL: Final = timedelta(minutes=15)
DEFAULT_NEGATIVE_TTL: Final = timedelta(minutes=2)
DEFAULT_MAX_ENTRIES: Final = 10_000


@dataclass(frozen=True, slots=True)
class CacheEntry(Generic[V]):
    """A cached value and the moment it stops being served."""

    value: V
    expires_at: datetime


class LookupCache(Generic[K, V]):
    """Least-recently-stored entries are dropped first beyond ``max_entries``; nothing here reads a clock.

    Args:
        ttl: how long a positive answer is served.
        negative_ttl: how long a permanent negative answer is served (shorter).
        max_entries: bound on memory.
    """

    def __init__(
        self,
        *,
        ttl: timedelta = DEFAULT_TTL,
        negative_ttl: timedelta = DEFAULT_NEGATIVE_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if ttl < timedelta(0) or negative_ttl < timedelta(0) or max_entries < 1:
            raise ValueError("cache TTLs must be >= 0 and max_entries >= 1")
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self._max = max_entries
        self._entries: OrderedDict[K, CacheEntry[V]] = OrderedDict()

    def get(self, key: K, *, now: datetime) -> V | None:
        """The cached value, or None when absent or expired at ``now`` (an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry.expires_at:
            del self._entries[key]
            return None
        return entry.value

    def put(
        self, key: K, value: V, *, now: datetime, negative: bool = False, not_after: datetime | None = None
    ) -> None:
        """Store ``value`` for the positive or negative TTL, but never past ``not_after`` (e.g. the
        endpoint's expiration date or its certificate's end of validity)."""
        expires = now + (self.negative_ttl if negative else self.ttl)
        if not_after is not None:
            expires = min(expires, not_after)
        if expires <= now:
            self._entries.pop(key, None)
            return
        self._entries.pop(key, None)
        self._entries[key] = CacheEntry(value, expires)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, key: K) -> None:
        """Forget one entry (the next lookup of ``key`` asks the network)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (e.g. after a configuration change)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
