"""Ports the services depend on: the document store (a unit of work over repositories, a delivery queue
and a webhook outbox), the clock and the id factory. Adapters live in ``gateway.store``; services never
import them.

Store semantics every adapter must honour (checked by ``tests/contract/``):

* A unit of work is one database transaction. Nothing is written until ``commit()``; leaving the ``with``
  block without committing (or by an exception) rolls everything back - status change, timeline entry,
  queued job and outbox row together, or none of them.
* Times are timezone-aware UTC in and out; a naive datetime is refused.
* Lease protocol (delivery queue and webhook outbox alike): ``lease()`` takes up to ``limit`` entries whose
  ``due_at <= now`` and that are not under an unexpired lease (``leased_until > now``), oldest ``due_at``
  first, stamps them with the caller's ``token`` and ``leased_until = now + lease_for`` and counts one
  attempt. Every later call on an entry (renew, complete, reschedule, fail, mark_delivered) names the
  token and raises ``LeaseLost`` if the entry is gone or carries another token. A lease that expired but
  was not taken over may still be renewed or completed by its holder. An expired lease makes the entry due
  again (crash recovery): choose ``lease_for`` longer than one send attempt, or renew while working.
  On PostgreSQL concurrent ``lease()`` calls skip each other's locked rows (FOR UPDATE SKIP LOCKED) and
  return disjoint entries; on SQLite every writing unit of work holds the database write lock from its
  first statement (BEGIN IMMEDIATE), so workers are serialised and still correct, but one worker is the
  intended deployment.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from gateway.errors import InvalidCursor
from gateway.model.identifiers import ParticipantID
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    DocumentContent,
    InboundDocument,
    InboundStatus,
    JSONObject,
    OutboundDocument,
    TimelineEvent,
)

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


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


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Keyset position for newest-first listings: the (timestamp, id) of the last item shown.

    The next page holds items strictly older than the cursor, with the id breaking ties; a page therefore
    never repeats or skips an item when rows are added meanwhile.
    """

    at: datetime
    id: str

    def encode(self) -> str:
        """An opaque URL-safe string for the API."""
        raw = f"{self.at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> PageCursor:
        """Decode a string made by ``encode()``.

        Raises:
            InvalidCursor: the text is not such a cursor.
        """
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
            stamp, sep, ident = raw.partition("|")
            at = datetime.fromisoformat(stamp)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidCursor(f"cursor {text!r} is not valid") from exc
        if not sep or not ident or at.tzinfo is None:
            raise InvalidCursor(f"cursor {text!r} is not valid")
        return cls(at, ident)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a newest-first listing.

    Attributes:
        items: the items, newest first.
        next_cursor: where the next page starts; None on the last page.
    """

    items: tuple[T, ...]
    next_cursor: PageCursor | None


@dataclass(frozen=True, slots=True)
class OutboundQuery:
    """Filters for support staff; every filter given must match (AND). Newest first.

    Attributes:
        status: only this status.
        receiver: only this receiver (case-insensitive, per Peppol identifier policy).
        number: only this document number (exact).
        seller_id: only this seller reference.
        since: only documents created at or after this time.
        limit: page size, 1..MAX_PAGE_SIZE.
        after: continue after this cursor.
    """

    status: DeliveryStatus | None = None
    receiver: ParticipantID | None = None
    number: str | None = None
    seller_id: str | None = None
    since: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    after: PageCursor | None = None


@dataclass(frozen=True, slots=True)
class InboundQuery:
    """Filters for received documents (AND), newest ``received_at`` first.

    Attributes:
        status: only this status.
        sender: only this sender (case-insensitive).
        receiver: only this receiver (case-insensitive).
        since: only documents received at or after this time.
        limit: page size, 1..MAX_PAGE_SIZE.
        after: continue after this cursor.
    """

    status: InboundStatus | None = None
    sender: ParticipantID | None = None
    receiver: ParticipantID | None = None
    since: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    after: PageCursor | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What an Idempotency-Key stands for: the first request's fingerprint and the first response.

    Attributes:
        key: the client's Idempotency-Key (scope it per client before storing if keys may collide).
        fingerprint: a digest of the first request (e.g. SHA-256 hex of method, path and body).
        response_status: the HTTP status first answered (202, or 422 for a refused document).
        response_body: the JSON body first answered.
        created_at: when the key was first used.
        document_id: the document created by the first request, if any.
    """

    key: str
    fingerprint: str
    response_status: int
    response_body: JSONObject
    created_at: datetime
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """The queue entry that drives delivery of one outbound document (at most one per document).

    Attributes:
        document_id: the outbound document.
        due_at: when it may be leased.
        attempts: leases taken so far (each lease is one delivery attempt, even if the worker crashed).
        lease_token: the current or last holder's token, None if never leased or released.
        leased_until: when that lease expires.
        last_error: the error recorded by the last reschedule.
    """

    document_id: str
    due_at: datetime
    attempts: int
    lease_token: str | None = None
    leased_until: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryLease:
    """A delivery job leased by one worker.

    Attributes:
        document_id: the outbound document to deliver.
        token: the lease token to present on renew/complete/reschedule/fail.
        leased_until: when the lease expires unless renewed.
        attempts: attempts including this one (1 on the first lease).
    """

    document_id: str
    token: str
    leased_until: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Delivery queue sizes for /metrics at a given time.

    Attributes:
        due: entries that may be leased now (including expired leases).
        scheduled: entries waiting for a future ``due_at``.
        leased: entries under an unexpired lease.
    """

    due: int
    scheduled: int
    leased: int


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


class OutboundDocumentRepository(Protocol):
    """Outbound documents, their content and their status timeline."""

    def add(self, document: OutboundDocument, content: DocumentContent) -> TimelineEvent:
        """Store a new document in INITIAL_STATUS and record its SUBMITTED timeline entry at ``created_at``.

        Raises:
            InvalidTransition: ``document.status`` is not INITIAL_STATUS.
            DuplicateMessage: the id or the (seller_id, document_number) pair is already stored (also
                when a concurrent unit of work stored it first).
        """
        ...

    def get(self, document_id: str) -> OutboundDocument | None:
        """The document, or None."""
        ...

    def find_by_number(self, seller_id: str, document_number: str) -> OutboundDocument | None:
        """The document with this (seller, number) pair, or None (duplicate detection)."""
        ...

    def get_content(self, document_id: str) -> DocumentContent | None:
        """The stored UBL bytes and validation report, or None."""
        ...

    def transition(
        self,
        document_id: str,
        event: DeliveryEvent,
        *,
        at: datetime,
        reason: str | None = None,
        detail: JSONObject | None = None,
        next_attempt_at: datetime | None = None,
        as4_message_id: str | None = None,
    ) -> TimelineEvent:
        """Apply ``event`` per TRANSITIONS and append the timeline entry, in this unit of work.

        The row is locked for the rest of the transaction (PostgreSQL: SELECT ... FOR UPDATE), so two
        concurrent transitions of one document serialise. Effects: ``status`` becomes the target,
        ``status_reason`` and ``next_attempt_at`` are set to the given values (None clears them),
        ``as4_message_id`` is set when given (None keeps it), ``attempts`` grows by one on SEND_STARTED,
        ``updated_at`` becomes ``at``.

        Returns:
            The appended timeline entry (use it for the webhook payload).

        Raises:
            InvalidTransition: the event is not allowed in the current status; nothing changes.
            StoreError: no such document.
        """
        ...

    def timeline(self, document_id: str) -> list[TimelineEvent]:
        """The document's timeline, oldest first (empty if unknown)."""
        ...

    def search(self, query: OutboundQuery) -> Page[OutboundDocument]:
        """Documents matching the query, newest ``created_at`` first, one page."""
        ...

    def count_by_status(self) -> dict[DeliveryStatus, int]:
        """Number of documents per status; every status is present (0 when none)."""
        ...


class InboundDocumentRepository(Protocol):
    """Business documents received over AS4."""

    def add(self, document: InboundDocument, content: DocumentContent) -> None:
        """Store a received document.

        Raises:
            DuplicateMessage: the id or the AS4 message id is already stored.
        """
        ...

    def get(self, document_id: str) -> InboundDocument | None:
        """The document, or None."""
        ...

    def get_by_message_id(self, as4_message_id: str) -> InboundDocument | None:
        """The document carried by this AS4 message, or None."""
        ...

    def get_content(self, document_id: str) -> DocumentContent | None:
        """The stored business document bytes and validation report, or None."""
        ...

    def search(self, query: InboundQuery) -> Page[InboundDocument]:
        """Documents matching the query, newest ``received_at`` first, one page."""
        ...

    def record_validation(
        self,
        document_id: str,
        *,
        status: InboundStatus,
        report: JSONObject | None,
        reason: str | None,
        at: datetime,
    ) -> None:
        """Record a document's validation: its status, report and status reason; ``updated_at`` = ``at``.

        Raises:
            StoreError: no such document.
        """
        ...

    def pending_validation(self, *, limit: int) -> list[InboundDocument]:
        """Up to ``limit`` documents still awaiting validation (status RECEIVED with status reason
        ``VALIDATION_PENDING``), oldest ``received_at`` first."""
        ...

    def count_by_status(self) -> dict[InboundStatus, int]:
        """Number of documents per status; every status is present (0 when none)."""
        ...


class AS4MessageRepository(Protocol):
    """AS4 user messages with the exact bytes exchanged and every answering signal (evidence)."""

    def add(self, record: AS4MessageRecord) -> None:
        """Store a message. For inbound messages commit this before answering (durable before receipt).

        Raises:
            DuplicateMessage: (message_id, direction) is already stored - for inbound, a duplicate
                message: answer with the stored signal and do not process it again.
        """
        ...

    def get(self, message_id: str, direction: Direction) -> AS4MessageRecord | None:
        """The message with its raw bytes and signal, or None."""
        ...

    def find_by_instance_id(self, sbdh_instance_id: str, direction: Direction) -> AS4MessageRecord | None:
        """The earliest message carrying this SBDH InstanceIdentifier, or None."""
        ...

    def for_document(self, document_id: str) -> list[AS4MessageRecord]:
        """Messages linked to a document, oldest first."""
        ...

    def record_signal(self, message_id: str, direction: Direction, signal: AS4Signal) -> None:
        """Attach the receipt or error signal: it becomes the message's latest ``signal`` (replacing an
        earlier one, e.g. a retryable error) and is appended to its signal history (``signals``), in the
        caller's transaction. ``add`` of a record with a signal appends that signal to the history too.

        Raises:
            StoreError: no such message.
        """
        ...

    def signals(self, message_id: str, direction: Direction) -> list[AS4Signal]:
        """Every signal recorded for the message, oldest first (by ``at``, then recording order); the
        latest recorded one is ``get(...).signal``. Empty for an unknown message or one never answered."""
        ...


class IdempotencyRepository(Protocol):
    """Idempotency keys with the first request's fingerprint and the first response."""

    def get(self, key: str) -> IdempotencyRecord | None:
        """The record stored under ``key``, or None."""
        ...

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Store ``record`` unless its key is taken; return the record that holds the key.

        If the returned record is ``record`` the caller owns the key and goes on (in the same unit of work)
        to create what the response describes; otherwise it answers with the returned first response.
        A concurrent claim of the same key waits for the other transaction and then sees its record.

        Raises:
            IdempotencyConflict: the key is held by a record with another fingerprint.
        """
        ...


class DeliveryQueue(Protocol):
    """The delivery job queue (one job per outbound document); see the module docstring for leases."""

    def enqueue(self, document_id: str, *, due_at: datetime) -> None:
        """Queue delivery of a stored document. If a job exists already: an unleased job becomes due at
        the earlier of both times; a leased job is left alone (its worker is on it) unless its lease
        expired by ``due_at`` - then it is released and due at ``due_at`` (the old token gets LeaseLost).

        Raises:
            StoreError: no such outbound document.
        """
        ...

    def get(self, document_id: str) -> DeliveryJob | None:
        """The job of a document, or None when none is queued."""
        ...

    def lease(self, *, now: datetime, limit: int, lease_for: timedelta, token: str) -> list[DeliveryLease]:
        """Lease up to ``limit`` due jobs, oldest ``due_at`` first."""
        ...

    def renew(self, document_id: str, token: str, *, now: datetime, lease_for: timedelta) -> datetime:
        """Extend a lease to ``now + lease_for`` and return that time. Raises LeaseLost."""
        ...

    def complete(self, document_id: str, token: str) -> None:
        """Remove the job: the document reached a final status. Raises LeaseLost."""
        ...

    def reschedule(self, document_id: str, token: str, *, due_at: datetime, error: str | None = None) -> None:
        """Release the lease and make the job due at ``due_at`` (next retry). Raises LeaseLost."""
        ...

    def fail(self, document_id: str, token: str, *, error: str) -> None:
        """Remove the job after a final failure (the reason lives in the document). Raises LeaseLost."""
        ...

    def counts(self, *, now: datetime) -> QueueCounts:
        """Queue sizes for metrics."""
        ...


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


class UnitOfWork(Protocol):
    """One transaction over all repositories. Use as ``with store.unit_of_work() as uow: ...; uow.commit()``.

    Leaving the block without ``commit()`` rolls back. After commit or rollback the unit of work is spent.
    """

    @property
    def outbound(self) -> OutboundDocumentRepository: ...

    @property
    def inbound(self) -> InboundDocumentRepository: ...

    @property
    def messages(self) -> AS4MessageRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def jobs(self) -> DeliveryQueue: ...

    @property
    def outbox(self) -> WebhookOutbox: ...

    def commit(self) -> None:
        """Make every change of this unit of work durable, atomically."""
        ...

    def rollback(self) -> None:
        """Discard every change of this unit of work."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class DocumentStore(Protocol):
    """Factory of units of work; one per process, shared by threads (each unit of work is single-threaded)."""

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """Open a transaction.

        Args:
            read_only: a reading transaction. On SQLite it does not take the write lock (readers run
                beside the single writer in WAL mode); on PostgreSQL writes in it fail.
        """
        ...

    def close(self) -> None:
        """Release connections (end of process)."""
        ...
