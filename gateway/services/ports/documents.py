"""Repositories of documents, AS4 messages and idempotency keys (one unit of work spans them all)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.model.identifiers import DocumentTypeID
from gateway.model.message import (
    AS4MessageRecord,
    AS4MessageSummary,
    AS4Signal,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    DocumentContent,
    InboundDocument,
    InboundStatus,
    JSONObject,
    OutboundDocument,
    SlicedBody,
    TimelineEvent,
)
from gateway.services.ports.paging import InboundQuery, OutboundQuery, Page


@dataclass(frozen=True, slots=True)
class InstanceMessage:
    """A stored message carrying a given SBDH InstanceIdentifier, without its bytes.

    Attributes:
        message_id: its AS4 MessageId.
        document_id: the document it carried, if any.
    """

    message_id: str
    document_id: str | None


@dataclass(frozen=True, slots=True)
class InstanceCheck:
    """What a received message is checked against: its SBDH instance's earliest stored message and whether
    the message's own MessageId is among the instance's messages (a sender resending it). Two rows at most,
    however many messages a sender sent under one InstanceIdentifier.

    Attributes:
        earliest: the earliest stored message of the instance (``find_by_instance_id``'s), None if none.
        resent: the MessageId asked about is one of the instance's stored messages.
    """

    earliest: InstanceMessage | None
    resent: bool


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What an Idempotency-Key stands for: the first request's fingerprint and the first response.

    Attributes:
        client: the API client that sent the key (its configured name): keys are scoped per client, so two
            clients using the same key never see each other's answers.
        key: the client's Idempotency-Key.
        fingerprint: a digest of the first request (e.g. SHA-256 hex of method, path and body).
        response_status: the outcome of the first request, as a code chosen by the use case (the outbound
            submitter records 202 accepted, 200 duplicate, 422 refused).
        response_body: the JSON body first answered.
        created_at: when the key was first used.
        document_id: the document created by the first request, if any.
    """

    client: str
    key: str
    fingerprint: str
    response_status: int
    response_body: JSONObject
    created_at: datetime
    document_id: str | None = None


class OutboundDocumentRepository(Protocol):
    """Outbound documents, their content and their status timeline."""

    def add(
        self,
        document: OutboundDocument,
        content: DocumentContent,
        *,
        body: SlicedBody | None = None,
        detail: JSONObject | None = None,
    ) -> TimelineEvent:
        """Store a new document in INITIAL_STATUS and record its SUBMITTED timeline entry at ``created_at``.

        ``body``: the UBL to store instead of ``content.body`` (then ``b""``), read a slice at a time: a large
        document the caller holds out of the process (BENCHMARKS.md, *Memory, eighteenth pass*).
        ``detail``: the SUBMITTED entry's detail (an Invoice Response: the received document it answers and
        the response it must not overtake, ``RESPONSE_ANSWERS``/``RESPONSE_AFTER``; the store keeps the
        first in a column of its own too, by which ``latest_unfinished_response`` and ``later_response``
        find the responses to a received document).

        Raises:
            InvalidTransition: ``document.status`` is not INITIAL_STATUS.
            DuplicateMessage: the id or the (seller_id, document type, document_number) triple is already
                stored (also when a concurrent unit of work stored it first).
            StoreError: the database failed, or ``body`` could not be read (its temporary file).
        """
        ...

    def get(self, document_id: str, *, for_update: bool = False) -> OutboundDocument | None:
        """The document, or None. ``for_update``: its row is locked for the rest of the transaction (as
        ``transition`` locks it; PostgreSQL: SELECT ... FOR UPDATE), so the document read stays current
        and can be handed to ``transition`` as ``locked``."""
        ...

    def get_for_attempt(self, document_id: str) -> tuple[OutboundDocument, DocumentContent | None] | None:
        """The document to deliver, with its content (UBL, validation report and buyer country) when no
        message was built for it yet (``as4_message_id`` None; else None: the stored message is resent and
        its bytes are not read); None when there is no such document. One read of its row."""
        ...

    def find_by_number(
        self, seller_id: str, document_number: str, document_types: Collection[DocumentTypeID]
    ) -> list[OutboundDocument]:
        """The documents of this seller with this number and one of ``document_types``, oldest first.

        A number is unique per seller and per document type (``gateway.model.number_series``): one
        document per type at most, e.g. an invoice and a credit note numbered alike (duplicate detection
        asks one type; an answer that does not say which type it answers asks both).
        """
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
        locked: OutboundDocument | None = None,
    ) -> TimelineEvent:
        """Apply ``event`` per TRANSITIONS and append the timeline entry, in this unit of work.

        ``locked``: the document as read by ``get(document_id, for_update=True)`` earlier in this unit of
        work (its status and attempts are then taken from it instead of being read again).

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

    def transition_if(
        self,
        document: OutboundDocument,
        event: DeliveryEvent,
        *,
        at: datetime,
        reason: str | None = None,
        detail: JSONObject | None = None,
        next_attempt_at: datetime | None = None,
        as4_message_id: str | None = None,
    ) -> TimelineEvent | None:
        """``transition`` of ``document`` as read earlier (in another unit of work), applied only if its row
        still has ``document``'s status, attempts and ``as4_message_id``: checked by the write itself, which
        locks the row as ``transition`` does, without reading it first.

        Returns:
            The appended timeline entry; None when the row changed since (or is gone): nothing is written,
            and the caller reads it (``get(for_update=True)``) to decide.

        Raises:
            InvalidTransition: the event is not allowed in ``document.status``; nothing changes.
        """
        ...

    def timeline(self, document_id: str) -> list[TimelineEvent]:
        """The document's timeline, oldest first (empty if unknown)."""
        ...

    def latest_unfinished_response(self, inbound_document_id: str) -> str | None:
        """The Invoice Response to ``inbound_document_id`` queued last that is not final yet (accepted,
        sending or retrying); None if there is none. The responses to a received document are those
        ``add`` stored with ``RESPONSE_ANSWERS`` naming it (kept in a column of their own, indexed: a few
        rows whatever the supplier's history); queued last is the highest SUBMITTED entry, never a date."""
        ...

    def later_response(self, document_id: str) -> str | None:
        """The Invoice Response queued right after the response ``document_id`` to the same received
        document (the next SUBMITTED entry among the responses to it, whatever their dates and status);
        None when there is none or ``document_id`` answers none. One query on the index of the responses
        to that received document."""
        ...

    def earlier_response(self, document_id: str) -> tuple[str, DeliveryStatus] | None:
        """The response that ``document_id`` must not overtake (its SUBMITTED entry's ``RESPONSE_AFTER``)
        and that response's status; None when it names none. One query (the document's first timeline
        entry on the ``(document_id, id)`` index, the other document by its primary key)."""
        ...

    def first_event_at(
        self,
        document_id: str,
        event: DeliveryEvent,
        *,
        flag: str | None = None,
        since: datetime | None = None,
    ) -> datetime | None:
        """When the document's timeline first recorded ``event`` - with ``detail[flag]`` true when ``flag``
        is given, at or after ``since`` when that is given; None if it never did. One query over that
        document's entries (few: the timeline of one document)."""
        ...

    def search(self, query: OutboundQuery) -> Page[OutboundDocument]:
        """Documents matching the query, newest ``created_at`` first, one page."""
        ...

    def count_by_status(self) -> dict[DeliveryStatus, int]:
        """Number of documents per status; every status is present (0 when none)."""
        ...


class InboundDocumentRepository(Protocol):
    """Business documents received over AS4."""

    def add(self, document: InboundDocument, content: DocumentContent, *, wake_workers: bool = False) -> None:
        """Store a received document; ``wake_workers``: it is left pending for the workers that finish
        received documents (``GATEWAY_AS4__AFTER_RECEIPT=worker``), woken when the unit of work commits.

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
        only_pending: bool = False,
        number: str | None = None,
    ) -> bool:
        """Record a document's validation: its status, report and status reason; ``updated_at`` = ``at``.

        Args:
            number: the document's own number read by its validation (``stored_number``), stored with
                its search key; None leaves the stored one.
            only_pending: record it only if the document still awaits its validation (RECEIVED,
                ``VALIDATION_PENDING``): of two concurrent validations of one document exactly one
                records its verdict (and hands the document on).

        Returns:
            True if recorded; False (``only_pending`` only) when the document no longer awaits its
            validation or is gone.

        Raises:
            StoreError: no such document (without ``only_pending``).
        """
        ...

    def pending_validation(self, *, limit: int) -> list[InboundDocument]:
        """Up to ``limit`` documents still awaiting validation (status RECEIVED with status reason
        ``VALIDATION_PENDING``), oldest ``received_at`` first."""
        ...

    def claim_pending(
        self, *, now: datetime, claimed_before: datetime, received_before: datetime | None = None
    ) -> InboundDocument | None:
        """Claim the oldest document awaiting validation (received no later than ``received_before`` when
        given) that is not claimed, or whose claim was taken
        before ``claimed_before`` (its claimer died or gave up): its ``updated_at`` becomes the claim's time
        (``now``, at least a microsecond after its receipt), so that no concurrent call, in any process,
        claims it again before the claim runs out. The document returned (with that ``updated_at``) is
        claimed once the unit of work commits; None when none is claimable (or a concurrent transaction
        took the one found). The claim is no verdict: the document stays pending (``pending_validation``,
        the sweep) until its verdict is recorded."""
        ...

    def count_by_status(self) -> dict[InboundStatus, int]:
        """Number of documents per status; every status is present (0 when none)."""
        ...

    def without_number(self, *, after: str, limit: int) -> list[InboundDocument]:
        """Up to ``limit`` documents with no number stored whose id is greater than ``after``, in id order
        (for the backfill of the documents received before numbers were stored: ``number_backfill``)."""
        ...

    def fill_number(self, document_id: str, number: str) -> bool:
        """Store ``number`` (``stored_number``) and its search key for a document that has none; False when
        it has one already (recorded meanwhile with its verdict) or is gone."""
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

    def earliest_of_instance(self, sbdh_instance_id: str, direction: Direction) -> InstanceMessage | None:
        """The earliest message carrying this SBDH InstanceIdentifier (as ``find_by_instance_id``), without
        its bytes; None if there is none."""
        ...

    def instance_check(self, sbdh_instance_id: str, message_id: str, direction: Direction) -> InstanceCheck:
        """The earliest message carrying this SBDH InstanceIdentifier (as ``find_by_instance_id``, without
        its bytes) and whether ``message_id`` is one of the instance's messages: bounded reads (an index
        probe for a first delivery), not every message of an instance a sender reuses. Call it in the unit of
        work that stores the message: a concurrent check of the same instance waits until that one ends, so
        two overlapping deliveries of one instance never both find it new."""
        ...

    def for_document(self, document_id: str) -> list[AS4MessageRecord]:
        """Messages linked to a document, oldest first."""
        ...

    def summaries_for_document(self, document_id: str, direction: Direction) -> list[AS4MessageSummary]:
        """The document's messages in ``direction`` without their bytes, oldest first (as
        ``for_document``): for views that are polled."""
        ...

    def receipt_summaries(
        self, document_id: str, sbdh_instance_id: str, direction: Direction
    ) -> list[dict[str, Any]]:
        """The non-empty receipt summaries (``AS4Signal.receipt_summary``) of the document's messages in
        ``direction`` that carry this SBDH InstanceIdentifier and were answered by a receipt, without
        their bytes."""
        ...

    def signal_summary(self, message_id: str, direction: Direction) -> dict[str, Any] | None:
        """The receipt summary of the message's latest signal (None: no message, no signal or no summary),
        without its bytes."""
        ...

    def record_signal(
        self, message_id: str, direction: Direction, signal: AS4Signal, *, attempt: int | None = None
    ) -> None:
        """Attach the receipt or error signal: it becomes the message's latest ``signal`` (replacing an
        earlier one, e.g. a retryable error) and is appended to its signal history (``signals``), in the
        caller's transaction. ``add`` of a record with a signal appends that signal to the history too.
        ``attempt``: the delivery attempt the signal answers (an outbound message's document's attempt
        counter, as the caller read it in this transaction); None: read from the message's document.

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

    def get(self, client: str, key: str) -> IdempotencyRecord | None:
        """The record ``client`` stored under ``key``, or None."""
        ...

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Store ``record`` unless its client's key is taken; return the record that holds the key.

        If the returned record is ``record`` the caller owns the key and goes on (in the same unit of work)
        to create what the response describes; otherwise it answers with the returned first response.
        A concurrent claim of the same key waits for the other transaction and then sees its record.

        Raises:
            IdempotencyConflict: the key is held by a record with another fingerprint.
        """
        ...
