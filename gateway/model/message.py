"""Message states and records: the outbound delivery state machine (one TRANSITIONS table, h11 ``_state``
style), inbound document states, and the value objects the store hands to services (documents, the
status timeline, AS4 messages with the exact bytes exchanged)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Protocol, TypeAlias

from gateway.errors import InvalidTransition
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID, Receiver

JSONObject: TypeAlias = dict[str, Any]
"""A JSON object as stored (validation reports, timeline details, webhook payloads)."""

HTTPHeaders: TypeAlias = tuple[tuple[str, str], ...]
"""HTTP header fields in wire order; a tuple of pairs keeps repeated fields and their order."""


class DeliveryStatus(StrEnum):
    """Where an outbound document stands. Values are what the API and the database show."""

    ACCEPTED = "accepted"
    """Validated and stored; queued for its first delivery attempt."""
    SENDING = "sending"
    """A worker holds it and is (or was, before a crash) sending the AS4 message."""
    DELIVERED = "delivered"
    """A receipt that verified strictly was received and stored as evidence. Terminal."""
    RETRYING = "retrying"
    """A retryable attempt failed; another attempt is scheduled (``next_attempt_at``)."""
    FAILED = "failed"
    """Given up (non-retryable outcome or retries exhausted); the reason says why."""
    CONFIRMED = "confirmed"
    """Delivered, and the receiving access point's Message Level Status accepted it (MLS AP or AB). Final."""
    REJECTED = "rejected"
    """Delivered, but the receiving access point's Message Level Status rejected it (MLS RE, with the
    reasons in the status reason and the timeline). Final."""
    DELIVERED_BY_EMAIL = "delivered_by_email"
    """The buyer cannot receive it over Peppol (not registered, document type not supported) and the
    e-mail fallback handed it, PDF and UBL attached, to our SMTP relay (250 to DATA). Final."""

    @property
    def is_final(self) -> bool:
        """True when no delivery step will move the document any more (delivered, failed, MLS outcome)."""
        return self in _FINAL_STATUSES


class DeliveryEvent(StrEnum):
    """What happens to an outbound document; each event names a row family in TRANSITIONS."""

    SUBMITTED = "submitted"
    """The document was accepted and stored. Creates the document in INITIAL_STATUS (not a transition)."""
    SEND_STARTED = "send-started"
    """A worker leased the delivery job and starts an attempt (counts one attempt)."""
    RECEIPT_RECEIVED = "receipt-received"
    """The peer answered with a receipt that verified."""
    RETRYABLE_FAILURE = "retryable-failure"
    """Network error, timeout, HTTP 5xx or a retryable ebMS error; try again later."""
    PERMANENT_FAILURE = "permanent-failure"
    """Non-retryable outcome: receiver unknown, ebMS error of severity failure, bad receipt, ..."""
    RETRIES_EXHAUSTED = "retries-exhausted"
    """A retryable failure happened but the configured attempt limit is reached."""
    RETRY_REQUESTED = "retry-requested"
    """Support staff asked for a new attempt (POST /v1/outbound/{id}/retry)."""
    MLS_ACCEPTED = "mls-accepted"
    """A Message Level Status AP or AB about the message arrived (peppol-as4.md §12)."""
    MLS_REJECTED = "mls-rejected"
    """A Message Level Status RE about the message arrived."""
    RESPONSE_RECEIVED = "response-received"
    """The buyer's Invoice Response (T111) arrived; the delivery status stays, the reason tells it."""
    EMAIL_ACCEPTED = "email-accepted"
    """The SMTP relay accepted the fallback e-mail (its MIME is stored before it is sent)."""


INITIAL_STATUS: Final = DeliveryStatus.ACCEPTED
_FINAL_STATUSES: Final = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.CONFIRMED,
        DeliveryStatus.REJECTED,
        DeliveryStatus.DELIVERED_BY_EMAIL,
    }
)

_S = DeliveryStatus
_E = DeliveryEvent

# The whole outbound life cycle. Anything not listed is refused with InvalidTransition, so a stale or
# duplicated worker step can never move a delivered document back.
TRANSITIONS: Final[Mapping[tuple[DeliveryStatus, DeliveryEvent], DeliveryStatus]] = {
    # First attempt, a scheduled retry, and - after a crash mid-send, once the lease expired - the
    # resumed attempt: a retry resends the same AS4 message (same id, same bytes), so SENDING -> SENDING
    # is safe; the receiver's duplicate detection (ebMS3 Core §6.6 / Peppol AS4 profile) absorbs it.
    (_S.ACCEPTED, _E.SEND_STARTED): _S.SENDING,
    (_S.RETRYING, _E.SEND_STARTED): _S.SENDING,
    (_S.SENDING, _E.SEND_STARTED): _S.SENDING,
    # Outcome of an attempt.
    (_S.SENDING, _E.RECEIPT_RECEIVED): _S.DELIVERED,
    # E-mail fallback: the MIME is stored with SEND_STARTED (like an AS4 message) and the relay's 250
    # ends it; a temporary SMTP error (4xx) is a retryable failure, a permanent one (5xx) a permanent one.
    (_S.SENDING, _E.EMAIL_ACCEPTED): _S.DELIVERED_BY_EMAIL,
    (_S.SENDING, _E.RETRYABLE_FAILURE): _S.RETRYING,
    (_S.SENDING, _E.PERMANENT_FAILURE): _S.FAILED,
    (_S.SENDING, _E.RETRIES_EXHAUSTED): _S.FAILED,
    # Failures found before anything was sent (e.g. receiver not in the directory, directory down).
    (_S.ACCEPTED, _E.RETRYABLE_FAILURE): _S.RETRYING,
    (_S.ACCEPTED, _E.PERMANENT_FAILURE): _S.FAILED,
    # A pre-send failure on the last allowed attempt of a document never sent (e.g. the directory was
    # down every time): the attempt limit ends it like any other.
    (_S.ACCEPTED, _E.RETRIES_EXHAUSTED): _S.FAILED,
    (_S.RETRYING, _E.RETRYABLE_FAILURE): _S.RETRYING,
    (_S.RETRYING, _E.PERMANENT_FAILURE): _S.FAILED,
    (_S.RETRYING, _E.RETRIES_EXHAUSTED): _S.FAILED,
    # Support staff: a failed document gets a fresh series of attempts; a retrying one is brought forward.
    (_S.FAILED, _E.RETRY_REQUESTED): _S.RETRYING,
    (_S.RETRYING, _E.RETRY_REQUESTED): _S.RETRYING,
    # Business-level outcome after delivery: the receiving AP's MLS (one per message, MLS spec) turns
    # delivered into confirmed or rejected; a second MLS is refused. The buyer's Invoice Responses (T111)
    # may come any number of times and leave the status as it is (the reason and timeline tell them).
    (_S.DELIVERED, _E.MLS_ACCEPTED): _S.CONFIRMED,
    (_S.DELIVERED, _E.MLS_REJECTED): _S.REJECTED,
    (_S.DELIVERED, _E.RESPONSE_RECEIVED): _S.DELIVERED,
    (_S.CONFIRMED, _E.RESPONSE_RECEIVED): _S.CONFIRMED,
    (_S.REJECTED, _E.RESPONSE_RECEIVED): _S.REJECTED,
}


def apply_event(status: DeliveryStatus, event: DeliveryEvent) -> DeliveryStatus:
    """Return the status reached when ``event`` happens in ``status``.

    Args:
        status: the current status.
        event: what happened.

    Returns:
        The next status, per TRANSITIONS.

    Raises:
        InvalidTransition: the pair is not in TRANSITIONS (e.g. any event on a delivered document).
    """
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(status, event) from None


def allowed_events(status: DeliveryStatus) -> frozenset[DeliveryEvent]:
    """The events TRANSITIONS accepts in ``status`` (e.g. to show whether a retry is possible)."""
    return frozenset(event for (source, event) in TRANSITIONS if source is status)


class InboundStatus(StrEnum):
    """Where a received business document stands (the expense workflow will extend this later)."""

    RECEIVED = "received"
    """Stored with its AS4 message; validation not (yet) recorded."""
    VALID = "valid"
    """Passed BIS Billing validation (warnings allowed)."""
    INVALID = "invalid"
    """Failed validation. The AS4 receipt was still sent: business validation is not a transport error."""


VALIDATION_PENDING: Final = "validation pending"
"""``status_reason`` of an inbound document stored RECEIVED with its AS4 message and not validated yet.
A document keeps it only between the receipt's commit and the validation's; one still carrying it later
(crash in between) is validated by the receiver's recovery pass. Every recorded validation replaces it."""


class DocumentKind(StrEnum):
    """How an outbound document was submitted."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit-note"
    UBL = "ubl"
    INVOICE_RESPONSE = "invoice-response"
    """A Peppol Invoice Response (T111) we send to a supplier about a received invoice."""
    MLS = "mls"
    """A Message Level Status we send to the access point that sent us a business document."""
    PEPPOL_REPORT = "peppol-report"
    """A monthly Peppol TSR or EUSR we send to OpenPeppol's reporting participant (peppol-as4.md §11)."""


#: SUBMITTED timeline detail of an Invoice Response: the id of the received document it answers.
RESPONSE_ANSWERS: Final = "answers_inbound_document_id"
#: SUBMITTED timeline detail of an Invoice Response: the response to the same received document queued
#: just before it and not final then. It is not sent while that one is undelivered (bis-billing.md §9: no
#: going back in AB -> IP -> UQ -> CA -> RE -> AP -> PD); each waits for its own predecessor, a chain.
RESPONSE_AFTER: Final = "after_response_document_id"


class Direction(StrEnum):
    """Direction of an AS4 message as seen from this gateway."""

    OUT = "out"
    IN = "in"


class SignalKind(StrEnum):
    """The ebMS signal answering a user message (ebMS3 Core §5.2.3)."""

    RECEIPT = "receipt"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One entry of an outbound document's status timeline.

    Attributes:
        document_id: the outbound document.
        at: when it happened (aware UTC).
        from_status: the status before; None for the SUBMITTED entry that creates the document.
        to_status: the status after.
        event: what happened.
        detail: free JSON for support staff (error text, HTTP status, ebMS code, attempt number).
    """

    document_id: str
    at: datetime
    from_status: DeliveryStatus | None
    to_status: DeliveryStatus
    event: DeliveryEvent
    detail: JSONObject | None = None


@dataclass(frozen=True, slots=True)
class OutboundDocument:
    """An outbound document's metadata and delivery state (the UBL bytes are fetched separately).

    Attributes:
        id: UUID string.
        kind: how it was submitted.
        seller_id: the seller reference used for duplicate detection with ``document_number``.
        document_number: the invoice/credit note number (BT-1).
        sender: our participant id (SBDH sender).
        receiver: the buyer's participant id, or its e-mail address (``EM:…``) for a buyer outside Peppol.
        document_type: Peppol document type id.
        process: Peppol process id.
        status: current delivery status.
        status_reason: why it is in this status (failure reason, last retryable error); None if n/a.
        attempts: number of delivery attempts started (SEND_STARTED events).
        next_attempt_at: when the next attempt is due (RETRYING), else None.
        as4_message_id: the AS4 message id once the message was built; retries reuse it.
        created_at: submission time (aware UTC).
        updated_at: last change (aware UTC).
    """

    id: str
    kind: DocumentKind
    seller_id: str
    document_number: str
    sender: ParticipantID
    receiver: Receiver
    document_type: DocumentTypeID
    process: ProcessID
    status: DeliveryStatus
    created_at: datetime
    updated_at: datetime
    status_reason: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    as4_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundDocument:
    """A business document received over AS4 (its bytes are fetched separately).

    Attributes:
        id: UUID string.
        as4_message_id: the AS4 message that carried it (one document per message).
        sender: SBDH sender participant id.
        receiver: SBDH receiver participant id (one we serve).
        document_type: Peppol document type id from the SBDH.
        process: Peppol process id from the SBDH.
        status: validation state.
        received_at: when the AS4 message was received (aware UTC).
        updated_at: last change (aware UTC).
        sbdh_instance_id: the SBDH InstanceIdentifier, if any.
        status_reason: short reason for INVALID (e.g. the first fatal rule id).
        document_number: the document's own number (``cbc:ID``: BT-1 of an invoice or credit note, the id of
            an Invoice Response or MLS), read when it was validated; None before that, when it was not
            parsed (malformed, too large, a type without a rule set) or has none
            (``gateway.model.document_number``).
    """

    id: str
    as4_message_id: str
    sender: ParticipantID
    receiver: ParticipantID
    document_type: DocumentTypeID
    process: ProcessID
    status: InboundStatus
    received_at: datetime
    updated_at: datetime
    sbdh_instance_id: str | None = None
    status_reason: str | None = None
    document_number: str | None = None


class SlicedBody(Protocol):
    """A document's bytes that the store can write a slice at a time, without the caller holding them whole
    (``gateway.xmlcore.held.HeldDocument`` while it is spilled to a temporary file)."""

    def __len__(self) -> int: ...

    def slices(self, size: int = ...) -> Iterator[bytes | memoryview]:
        """The bytes in order, ``size`` at a time."""
        ...

    def data(self) -> bytes:
        """The bytes whole (for a store that cannot write them in slices)."""
        ...


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """The heavy part of a document, loaded only when needed.

    Attributes:
        body: the UBL business document, byte for byte as stored.
        validation_report: the validation report as JSON, if one was recorded.
        buyer_country: BT-55 of an outbound invoice or credit note (``ZZ``: none), read at submit from the
            parsed document and stored with it (the reporting record of its delivery needs it); None: not
            known, read from ``body`` when needed. Written by ``add``; not loaded by ``get_content``.
    """

    body: bytes
    validation_report: JSONObject | None = None
    buyer_country: str | None = None


@dataclass(frozen=True, slots=True)
class RawHTTPMessage:
    """HTTP headers and body exactly as sent or received; kept as evidence and for byte-identical resends.

    Attributes:
        headers: header fields in wire order.
        body: the body bytes (the MIME multipart for AS4).
    """

    headers: HTTPHeaders
    body: bytes


@dataclass(frozen=True, slots=True)
class AS4Signal:
    """The ebMS signal that answered a user message: received (outbound) or sent by us (inbound).

    Attributes:
        kind: receipt or error.
        raw: the signal exactly as on the wire.
        at: when it was received or sent (aware UTC).
        ebms_error_code: e.g. ``EBMS:0004`` for an error signal.
        receipt_summary: a JSON summary for display (RefToMessageId, timestamp, signer, digests).
    """

    kind: SignalKind
    raw: RawHTTPMessage
    at: datetime
    ebms_error_code: str | None = None
    receipt_summary: JSONObject | None = None


@dataclass(frozen=True, slots=True)
class AS4MessageRecord:
    """An AS4 user message we sent or received, with the exact bytes and the answering signal.

    Identity is (message_id, direction): when the gateway sends to itself (the demonstration) the same
    message id exists once in each direction.

    Attributes:
        message_id: eb:MessageId.
        direction: OUT for messages we send, IN for messages we received.
        request: the user message exactly as sent or received.
        created_at: when it was built (OUT) or received (IN) (aware UTC).
        document_id: the outbound or inbound document it carries, if known.
        sbdh_instance_id: the SBDH InstanceIdentifier (Peppol duplicate detection key).
        signal: the receipt or error that answered it, once known.
    """

    message_id: str
    direction: Direction
    request: RawHTTPMessage
    created_at: datetime
    document_id: str | None = None
    sbdh_instance_id: str | None = None
    signal: AS4Signal | None = field(default=None)


@dataclass(frozen=True, slots=True)
class AS4MessageSummary:
    """An AS4 user message without its bytes: what the status views list (the bytes are evidence, read
    with ``AS4MessageRecord``).

    Attributes:
        message_id: eb:MessageId.
        direction: OUT for messages we send, IN for messages we received.
        created_at: when it was built (OUT) or received (IN) (aware UTC).
        signal: the receipt or error that answered it, once known.
    """

    message_id: str
    direction: Direction
    created_at: datetime
    signal: AS4Signal | None = None
