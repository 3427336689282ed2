"""Retry ports: attempt limits and retry times (``gateway.worker.BackoffPolicy`` satisfies both)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from gateway.services.ports.clock import RandomSource


class RetryPolicy(Protocol):
    """Attempt limit and retry times (``gateway.worker.BackoffPolicy`` satisfies it)."""

    @property
    def max_attempts(self) -> int:
        """Attempts after which a retryable failure becomes final."""
        ...

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` attempts were made and no further one is allowed."""
        ...

    @property
    def horizon(self) -> timedelta:
        """The longest the attempt limit's attempts take with their delays at the schedule's ceilings."""
        ...

    def next_attempt_at(self, attempt: int, now: datetime, jitter: RandomSource) -> datetime:
        """When to try again after failed attempt number ``attempt``."""
        ...


class RetrySchedule(Protocol):
    """When to try again and when to stop; ``gateway.worker.BackoffPolicy`` satisfies it."""

    def exhausted(self, attempts: int) -> bool:
        """True when no attempt may follow ``attempts`` attempts."""
        ...

    def next_attempt_at(self, attempt: int, now: datetime, jitter: RandomSource) -> datetime:
        """The time of the next attempt after failed attempt ``attempt``."""
        ...
