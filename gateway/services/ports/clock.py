"""Time and identity ports: the clock, the id factory and the jitter source (adapters in bootstrap)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

RandomSource = Callable[[], float]
"""Returns a float in [0, 1) for backoff jitter (``random.SystemRandom().random``; seeded in tests)."""


class Clock(Protocol):
    """The source of the current time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


class IDFactory(Protocol):
    """The source of new identifiers (documents, lease tokens, webhook events)."""

    def new_id(self) -> str:
        """Return a new unique id: a UUID string in canonical form (36 characters)."""
        ...
