"""Webhook recipes: build the status-change notification written to the outbox with the change, and
dispatch due outbox entries (lease, sign, POST, then mark delivered, reschedule with backoff, or fail).

Delivery is at least once: a crash between the receiver's 2xx and ``mark_delivered`` sends the event again
after the lease expires, with the same ``X-Gateway-Event-Id``; receivers drop duplicates by that id. A
store failure while recording a result is retried with a short bounded backoff (``RECORD_RETRY_DELAYS``),
so a database hiccup neither resends the event nor holds the entry until its lease expires.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

import anyio
import anyio.to_thread

from gateway import __version__
from gateway.errors import LeaseLost, StoreError, TransportError
from gateway.model.message import JSONObject, OutboundDocument, TimelineEvent
from gateway.observability import log_context
from gateway.services.ports import (
    Clock,
    DocumentStore,
    IDFactory,
    RetrySchedule,
    WebhookLease,
    WebhookMessage,
    WebhookSender,
)
from gateway.services.webhook_signature import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign_webhook,
)

log = logging.getLogger("gateway.webhooks")

STATUS_CHANGED: Final = "outbound.status_changed"
"""The ``type`` of the payload sent for every status change of an outbound document."""
DEFAULT_BATCH_SIZE: Final = 10
DEFAULT_LEASE: Final = timedelta(seconds=60)
_MAX_ERROR = 500  # stored error text is for humans; keep rows small
DEFAULT_WEBHOOK_TARGET: Final = "default"
"""The outbox target of status changes: the endpoint configured as ``webhooks.url``."""
RECORD_RETRY_DELAYS: Final = (0.25, 0.5, 1.0, 2.0, 4.0, 4.0)
"""Seconds between attempts to store a webhook result while the store fails (about 12 s in all, well
within the lease): then the entry is left to its lease and sent again."""


class WebhookOutcome(StrEnum):
    """What happened to an outbox entry after one attempt."""

    DELIVERED = "delivered"
    """The receiver answered 2xx; the entry is never sent again."""
    RETRY = "retry"
    """Rescheduled with backoff."""
    FAILED = "failed"
    """Given up: 410 Gone, a non-retryable transport error, or the attempt limit reached."""


def classify_status(status_code: int) -> WebhookOutcome:
    """The outcome an HTTP status calls for, before the attempt limit is considered.

    2xx is delivery. 410 Gone says the endpoint was removed on purpose: retrying is pointless. Every
    other answer (3xx - redirects are not followed, since the signed body must not travel elsewhere -,
    4xx such as 401 from a receiver with the wrong secret, 429, 5xx) may be fixed on the receiver's side,
    so it is retried with backoff until the attempt limit.
    """
    if 200 <= status_code < 300:
        return WebhookOutcome.DELIVERED
    if status_code == 410:
        return WebhookOutcome.FAILED
    return WebhookOutcome.RETRY


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """The result of one attempt on one outbox entry.

    Attributes:
        message_id: the webhook event id.
        attempt: the attempt number (1 for the first).
        outcome: what was recorded.
        status_code: the HTTP status, None when no answer came.
        error: why it was not delivered, None when it was.
        next_attempt_at: the rescheduled time (RETRY only).
        recorded: False when the lease was taken over before the result could be stored (another
            dispatcher will send the entry again).
    """

    message_id: str
    attempt: int
    outcome: WebhookOutcome
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    recorded: bool = True


def encode_payload(payload: JSONObject) -> bytes:
    """The request body: compact UTF-8 JSON with sorted keys (stable bytes for the same payload)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def build_webhook_request(
    message: WebhookMessage, *, attempt: int, secrets: bytes | tuple[bytes, ...], timestamp: int
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt (signed at ``timestamp``, see ``webhook_signature``)."""
    body = encode_payload(message.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"peppol-gateway-webhooks/{__version__}",
        EVENT_ID_HEADER: message.id,
        ATTEMPT_HEADER: str(attempt),
        SIGNATURE_HEADER: sign_webhook(body, secrets=secrets, timestamp=timestamp),
    }
    return body, headers


def status_change_webhook(
    *,
    event_id: str,
    document: OutboundDocument,
    change: TimelineEvent,
    reason: str | None = None,
    as4_message_id: str | None = None,
    target: str = DEFAULT_WEBHOOK_TARGET,
) -> WebhookMessage:
    """The outbox entry announcing ``change``; add it in the unit of work that made the change.

    Args:
        event_id: a new id (``IDFactory.new_id()``); receivers deduplicate by it.
        target: the configured endpoint, by reference (the URL is resolved when sending).
        document: the document (any version: only its identifying fields are used).
        change: the timeline entry returned by ``OutboundDocumentRepository.transition`` (or ``add``).
        reason: the status reason (failures), if any.
        as4_message_id: the AS4 message id, once known.

    Returns:
        The message; its payload is the JSON body receivers get.
    """
    data: JSONObject = {
        "document_id": document.id,
        "document_number": document.document_number,
        "seller_id": document.seller_id,
        "kind": document.kind.value,
        "receiver": str(document.receiver),
        "status": change.to_status.value,
        "previous_status": change.from_status.value if change.from_status is not None else None,
        "event": change.event.value,
        "reason": reason,
        "as4_message_id": as4_message_id or document.as4_message_id,
    }
    payload: JSONObject = {
        "id": event_id,
        "type": STATUS_CHANGED,
        "created_at": change.at.isoformat(),
        "data": data,
    }
    return WebhookMessage(
        id=event_id, target=target, payload=payload, created_at=change.at, document_id=document.id
    )


class WebhookDispatcher:
    """Sends due outbox entries; one ``dispatch_due()`` call handles one leased batch.

    Args:
        store: the document store (its outbox).
        sender: the HTTP adapter.
        clock: the time source.
        ids: makes the lease token of each batch.
        secrets: the signing secret, or (current, previous) during a rotation.
        retry: backoff and attempt limit.
        jitter: random source in [0, 1) for the backoff.
        batch_size: entries leased per call; they are sent concurrently.
        lease_for: lease length; must exceed the sender's timeout (an expired lease is sent again).
        targets: target reference -> URL (from the configuration); an entry whose target is not listed
            (its endpoint was removed from the configuration) fails without being sent.
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        sender: WebhookSender,
        clock: Clock,
        ids: IDFactory,
        secrets: bytes | tuple[bytes, ...],
        retry: RetrySchedule,
        jitter: Callable[[], float],
        batch_size: int = DEFAULT_BATCH_SIZE,
        lease_for: timedelta = DEFAULT_LEASE,
        targets: Mapping[str, str],
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not secrets:
            raise ValueError("a webhook secret is required")
        self._store = store
        self._sender = sender
        self._clock = clock
        self._ids = ids
        self._secrets = secrets
        self._retry = retry
        self._jitter = jitter
        self.batch_size = batch_size
        self._lease_for = lease_for
        self._targets = dict(targets)

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookDispatcher(batch_size={self.batch_size}, lease_for={self._lease_for})"

    async def dispatch_due(self) -> list[WebhookAttempt]:
        """Lease up to ``batch_size`` due entries, POST them concurrently and record each result.

        Returns:
            One WebhookAttempt per leased entry (empty when nothing was due).

        Raises:
            StoreError: leasing failed (the caller's loop logs it and tries again later).
        """
        leases = await anyio.to_thread.run_sync(self._lease)
        results: list[WebhookAttempt] = []
        if not leases:
            return results

        async def run(lease: WebhookLease) -> None:
            results.append(await self._attempt(lease))

        async with anyio.create_task_group() as group:
            for lease in leases:
                group.start_soon(run, lease)
        return results

    def _lease(self) -> list[WebhookLease]:
        with self._store.unit_of_work() as uow:
            leases = uow.outbox.lease(
                now=self._clock.now(),
                limit=self.batch_size,
                lease_for=self._lease_for,
                token=self._ids.new_id(),
            )
            uow.commit()
        return leases

    async def _attempt(self, lease: WebhookLease) -> WebhookAttempt:
        message = lease.message
        with log_context(webhook_id=message.id, document_id=message.document_id):
            status_code: int | None = None
            error: str | None
            try:
                body, headers = build_webhook_request(
                    message,
                    attempt=lease.attempts,
                    secrets=self._secrets,
                    timestamp=int(self._clock.now().timestamp()),
                )
                url = self._targets.get(message.target)
                if url is None:
                    outcome = WebhookOutcome.FAILED
                    error = f"no webhook target {message.target!r} is configured"
                else:
                    status_code = await self._sender.post(url, body=body, headers=headers)
                    outcome = classify_status(status_code)
                    error = None if outcome is WebhookOutcome.DELIVERED else f"HTTP {status_code}"
            except TransportError as exc:
                outcome = WebhookOutcome.RETRY if exc.retryable else WebhookOutcome.FAILED
                error = str(exc)
            except Exception as exc:  # a bug here must not stop the rest of the batch
                log.exception("webhook attempt failed unexpectedly")
                outcome, error = WebhookOutcome.RETRY, f"internal error: {type(exc).__name__}"
            if outcome is WebhookOutcome.RETRY and self._retry.exhausted(lease.attempts):
                outcome = WebhookOutcome.FAILED
                error = f"{error}; gave up after {lease.attempts} attempts"
            result = WebhookAttempt(message.id, lease.attempts, outcome, status_code, error)
            return await self._record_retrying(lease, result)

    async def _record_retrying(self, lease: WebhookLease, result: WebhookAttempt) -> WebhookAttempt:
        """``_record``, retried after RECORD_RETRY_DELAYS while the store fails; never raises StoreError
        (the batch goes on; an entry whose result could not be stored is sent again after its lease)."""
        delays = iter(RECORD_RETRY_DELAYS)
        while True:
            try:
                return await anyio.to_thread.run_sync(self._record, lease, result)
            except StoreError as exc:
                delay = next(delays, None)
                if delay is None:
                    log.error("webhook result not stored (%s); it will be sent again after its lease", exc)
                    return replace(result, recorded=False)
                log.warning("storing the webhook result failed (%s); retrying in %g s", exc, delay)
                await anyio.sleep(delay)

    def _record(self, lease: WebhookLease, result: WebhookAttempt) -> WebhookAttempt:
        now = self._clock.now()
        message_id, token = lease.message.id, lease.token
        error = (result.error or "")[:_MAX_ERROR]
        next_at: datetime | None = None
        try:
            with self._store.unit_of_work() as uow:
                if result.outcome is WebhookOutcome.DELIVERED:
                    uow.outbox.mark_delivered(message_id, token, at=now)
                elif result.outcome is WebhookOutcome.FAILED:
                    uow.outbox.fail(message_id, token, at=now, error=error)
                else:
                    next_at = self._retry.next_attempt_at(result.attempt, now, self._jitter)
                    uow.outbox.reschedule(message_id, token, due_at=next_at, error=error)
                uow.commit()
        except LeaseLost:
            log.warning("webhook lease lost before its result was stored; it will be sent again")
            return replace(result, recorded=False)
        level = logging.INFO if result.outcome is WebhookOutcome.DELIVERED else logging.WARNING
        log.log(
            level,
            "webhook %s (attempt %d)%s",
            result.outcome.value,
            result.attempt,
            f": {error}" if error else "",
            extra={"next_attempt_at": next_at.isoformat() if next_at else None},
        )
        return replace(result, next_attempt_at=next_at)
