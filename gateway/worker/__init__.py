"""The delivery worker: lease due jobs, deliver, schedule retries by outcome (backoff is pure)."""

from gateway.services.backoff import (
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
from gateway.worker.loop import DeliveryWorker, build_delivery_worker
from gateway.worker.stats import WorkerStats
from gateway.worker.webhooks import WebhookWorker

__all__ = [
    "DEFAULT_BASE",
    "DEFAULT_CAP",
    "DEFAULT_FACTOR",
    "DEFAULT_MAX_ATTEMPTS",
    "BackoffPolicy",
    "DeliveryWorker",
    "RandomSource",
    "WebhookWorker",
    "WorkerStats",
    "backoff_ceiling",
    "backoff_delay",
    "build_delivery_worker",
    "next_attempt_at",
]
