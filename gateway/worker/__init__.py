"""The delivery worker: lease due jobs, deliver, schedule retries by outcome (backoff is pure)."""

from gateway.worker.backoff import (
    DEFAULT_BASE,
    DEFAULT_CAP,
    DEFAULT_FACTOR,
    DEFAULT_MAX_ATTEMPTS,
    BackoffPolicy,
    RandomSource,
    backoff_ceiling,
    backoff_delay,
    next_attempt_at,
)

__all__ = [
    "DEFAULT_BASE",
    "DEFAULT_CAP",
    "DEFAULT_FACTOR",
    "DEFAULT_MAX_ATTEMPTS",
    "BackoffPolicy",
    "RandomSource",
    "backoff_ceiling",
    "backoff_delay",
    "next_attempt_at",
]
