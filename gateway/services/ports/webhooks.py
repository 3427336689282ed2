"""Webhook ports: the transactional outbox (leased like the delivery queue) and the HTTP sender."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gateway.model.message import JSONObject


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """Webhook outbox sizes for /metrics.

    Attributes:
        pending: neither delivered nor failed (waiting, retrying or leased).
        failed: given up.
    """

    pending: int
    failed: int


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """A webhook notification to POST, written to the outbox in the transaction of the change it reports.

    Attributes:
        id: the event id (UUID string); receivers use it to drop duplicates.
        target: the configured endpoint to POST it to, by reference (``default``: ``webhooks.url``); the
            URL, which may carry a token, stays in the configuration and is never stored with the event.
        payload: the JSON body (signed when sent, not here).
        created_at: when the event happened; it is first due then.
        document_id: the document the event is about, if any.
    """

    id: str
    target: str
    payload: JSONObject
    created_at: datetime
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookLease:
    """A webhook leased by one sender.

    Attributes:
        message: what to send.
        token: the lease token.
        leased_until: when the lease expires.
        attempts: attempts including this one.
    """

    message: WebhookMessage
    token: str
    leased_until: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """The delivery state of one webhook.

    Attributes:
        message: the webhook.
        due_at: next attempt time.
        attempts: attempts so far.
        delivered_at: set once the receiver answered 2xx.
        failed_at: set when the sender gave up.
        last_error: the last error recorded.
    """

    message: WebhookMessage
    due_at: datetime
    attempts: int
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str | None = None


class WebhookOutbox(Protocol):
    """Webhook notifications written with the change they report; sent later with leases and retries."""

    def add(self, message: WebhookMessage) -> None:
        """Queue a webhook, due at ``message.created_at``.

        Raises:
            DuplicateMessage: the event id exists.
        """
        ...

    def get(self, message_id: str) -> OutboxEntry | None:
        """The webhook and its delivery state, or None."""
        ...

    def lease(self, *, now: datetime, limit: int, lease_for: timedelta, token: str) -> list[WebhookLease]:
        """Lease up to ``limit`` due webhooks that are neither delivered nor failed, oldest first."""
        ...

    def mark_delivered(self, message_id: str, token: str, *, at: datetime) -> None:
        """Record success; the entry is never leased again. Raises LeaseLost."""
        ...

    def reschedule(self, message_id: str, token: str, *, due_at: datetime, error: str) -> None:
        """Release the lease and make the webhook due at ``due_at``. Raises LeaseLost."""
        ...

    def fail(self, message_id: str, token: str, *, at: datetime, error: str) -> None:
        """Give up; the entry is never leased again. Raises LeaseLost."""
        ...

    def counts(self, *, now: datetime) -> OutboxCounts:
        """Outbox sizes for metrics (``now`` for parity with ``DeliveryQueue.counts``)."""
        ...


class WebhookSender(Protocol):
    """The HTTP port: POST a body, return the status code (adapter: ``transport.HTTPWebhookSender``)."""

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` to ``url`` without following redirects and return the HTTP status code.

        Raises:
            TransportError: no HTTP answer (connection refused or reset, timeout, TLS failure);
                ``retryable=False`` when retrying cannot help (e.g. an unsupported URL scheme).
        """
        ...
