"""Retry scheduling for deliveries and webhooks: capped exponential backoff with full jitter above a floor.
Pure: the time and the random source are parameters, so tests need no patching."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.services.ports.clock import RandomSource as RandomSource

DEFAULT_BASE: Final = timedelta(seconds=30)
DEFAULT_FACTOR: Final = 2.0
DEFAULT_CAP: Final = timedelta(hours=1)
DEFAULT_MAX_ATTEMPTS: Final = 12


def backoff_ceiling(attempt: int, *, base: timedelta, factor: float, cap: timedelta) -> timedelta:
    """The un-jittered delay after failed attempt ``attempt``: ``min(cap, base * factor**(attempt-1))``.

    Args:
        attempt: the attempt that just failed, 1 for the first.
        base: the delay after the first failure (> 0).
        factor: growth per attempt (>= 1).
        cap: the largest delay (>= base).

    Raises:
        ValueError: an argument is out of range.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, not {attempt}")
    if base <= timedelta(0) or cap < base:
        raise ValueError("need 0 < base <= cap")
    if not (math.isfinite(factor) and factor >= 1.0):
        raise ValueError(f"factor must be a finite number >= 1, not {factor}")
    try:
        raw = base.total_seconds() * factor ** (attempt - 1)
    except OverflowError:  # huge attempt numbers: the cap applies anyway
        raw = math.inf
    return cap if raw >= cap.total_seconds() else timedelta(seconds=raw)


def retry_horizon(max_attempts: int, *, base: timedelta, factor: float, cap: timedelta) -> timedelta:
    """The longest ``max_attempts`` attempts can take: the delays after attempts 1 to ``max_attempts - 1``
    at their ceilings (``backoff_ceiling``), summed; the jittered schedule ends within it.

    Raises:
        ValueError: an argument is out of range.
    """
    total = timedelta(0)
    for attempt in range(1, max_attempts):
        ceiling = backoff_ceiling(attempt, base=base, factor=factor, cap=cap)
        if ceiling == cap or factor == 1.0:  # every later attempt waits as long: counted at once
            return total + ceiling * (max_attempts - attempt)
        total += ceiling
    return total


def backoff_delay(
    attempt: int, *, base: timedelta, factor: float, cap: timedelta, fraction: float
) -> timedelta:
    """The jittered delay: uniform between ``base`` and the ceiling, placed by ``fraction`` in [0, 1].

    Full jitter spreads retries of many documents to one receiver that failed together (a receiver back
    from an outage is not hit by all of them at once); the ``base`` floor keeps a retry from following
    the failure immediately. For a fixed fraction the delay never decreases with the attempt number and
    never exceeds ``cap``.

    Raises:
        ValueError: an argument is out of range.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"jitter fraction must be within [0, 1], not {fraction}")
    ceiling = backoff_ceiling(attempt, base=base, factor=factor, cap=cap)
    return min(cap, base + (ceiling - base) * fraction)


def next_attempt_at(
    attempt: int,
    now: datetime,
    *,
    base: timedelta = DEFAULT_BASE,
    factor: float = DEFAULT_FACTOR,
    cap: timedelta = DEFAULT_CAP,
    jitter: RandomSource,
) -> datetime:
    """When to try again after failed attempt number ``attempt`` (1 for the first).

    Args:
        attempt: the attempt that just failed.
        now: the current time, timezone-aware.
        base: the delay floor and the first ceiling.
        factor: growth of the ceiling per attempt.
        cap: the largest delay.
        jitter: the random source, called once.

    Returns:
        ``now + delay`` with ``base <= delay <= min(cap, base * factor**(attempt-1))``.

    Raises:
        ValueError: naive ``now`` or an argument out of range.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    fraction = jitter()
    return now + backoff_delay(attempt, base=base, factor=factor, cap=cap, fraction=fraction)


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """The retry policy of one queue: delays and the attempt limit.

    Attributes:
        base: delay floor and first ceiling (default 30 s).
        factor: ceiling growth per attempt (default 2).
        cap: largest delay (default 1 h).
        max_attempts: attempts after which a retryable failure becomes final (default 12: about 6 hours).
    """

    base: timedelta = DEFAULT_BASE
    factor: float = DEFAULT_FACTOR
    cap: timedelta = DEFAULT_CAP
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        backoff_ceiling(1, base=self.base, factor=self.factor, cap=self.cap)  # validates the values
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` attempts were made and no further one is allowed."""
        return attempts >= self.max_attempts

    @property
    def horizon(self) -> timedelta:
        """How long the attempts of one series take at most (``retry_horizon``: 5 h 3 min 30 s by default):
        a document that waited longer behind an open circuit is given up (``services.delivery_deferral``)."""
        return retry_horizon(self.max_attempts, base=self.base, factor=self.factor, cap=self.cap)

    def next_attempt_at(self, attempt: int, now: datetime, jitter: RandomSource) -> datetime:
        """``next_attempt_at()`` with this policy's values."""
        return next_attempt_at(attempt, now, base=self.base, factor=self.factor, cap=self.cap, jitter=jitter)
