"""Response models of the outbound and inbound document routes (separate from the domain model and tables)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    InboundDocument,
    OutboundDocument,
    RawHTTPMessage,
)
from gateway.services.outbound_queries import OutboundDetail, OutboundEvidence, timeline_to_json


def outbound_url(document_id: str) -> str:
    """The status URL of an outbound document."""
    return f"/v1/outbound/{document_id}"


def inbound_url(document_id: str) -> str:
    """The URL of a received document."""
    return f"/v1/inbound/{document_id}"


class SubmissionResponse(BaseModel):
    """Answer to a posted document (202 accepted, or 200 when the number was posted before)."""

    id: str = Field(description="The outbound document id")
    status: str = Field(description="Delivery status when answered (the first answer, on a replay)")
    status_url: str = Field(description="Where to follow the delivery: GET it")
    duplicate: bool = Field(description="True: this number was stored before; nothing new is sent")


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    from_status: str | None
    to_status: str
    detail: dict[str, Any] | None = None


class SignalSummary(BaseModel):
    """The ebMS signal that answered the AS4 message: a receipt (delivered) or an error."""

    kind: str = Field(description="receipt or error")
    at: datetime
    ebms_error_code: str | None = None
    receipt: dict[str, Any] | None = Field(
        default=None, description="RefToMessageId, timestamp, signer, digests of the signed receipt"
    )


class OutboundSummary(BaseModel):
    id: str
    kind: str
    document_number: str
    receiver: str = Field(
        description="The buyer's Peppol participant id (``0208:0123456789``), or ``EM:<address>`` for a "
        "buyer outside Peppol (a private person): e-mailed, never looked up in the SML/SMP"
    )
    status: str
    status_reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    as4_message_id: str | None
    created_at: datetime
    updated_at: datetime
    status_url: str


class OutboundDocumentResponse(OutboundSummary):
    seller_id: str
    sender: str
    document_type: str
    process: str
    retry_allowed: bool = Field(
        description="POST .../retry is possible for this caller: its key's role may retry (support, admin; "
        "false for a sender's key, which that route answers 403), the status allows a retry, and for a "
        "failed Invoice Response no later response to the same received document was queued (that retry "
        "is answered 409 later-response-queued: it would reach the supplier after the later one); for a "
        "Peppol report's document, its report was not remade since (that retry is answered 409: another "
        "document carries it)"
    )
    waiting_for_document_id: str | None = Field(
        description="An Invoice Response not sent yet because the response to the same received document "
        "queued before it is not final (delivered or failed) yet: that response's id, while it waits "
        "(one status per message, no going back: bis-billing §9); null otherwise"
    )
    next_job_due_at: datetime | None = Field(description="When the queued delivery job is due, if any")
    timeline: list[TimelineEntry]
    receipt: SignalSummary | None = Field(description="The signal answering the last AS4 message sent")
    ubl_url: str
    evidence_url: str


class OutboundPage(BaseModel):
    items: list[OutboundSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end")


class RawHTTPMessageOut(BaseModel):
    """HTTP header fields (wire order) and the exact body bytes, base64."""

    headers: list[tuple[str, str]]
    body_base64: str
    body_sha256: str
    body_bytes: int


class EvidenceSignal(SignalSummary):
    raw: RawHTTPMessageOut = Field(description="The signal exactly as received (signed receipt or error)")


class EvidenceMessage(BaseModel):
    message_id: str
    created_at: datetime
    request: RawHTTPMessageOut = Field(description="The AS4 request exactly as sent (every retry resends it)")
    signal: EvidenceSignal | None = Field(description="The latest signal received (the last of ``signals``)")
    signals: list[EvidenceSignal] = Field(
        default_factory=list,
        description="Every signal received for this message, oldest first: earlier answers (an invalid "
        "receipt, a retryable ebMS error) are kept as evidence too",
    )


class EvidenceResponse(BaseModel):
    document_id: str
    document_number: str
    status: str
    status_reason: str | None
    as4_message_id: str | None
    ubl_sha256: str
    timeline: list[TimelineEntry]
    messages: list[EvidenceMessage]


class InboundSummary(BaseModel):
    id: str
    as4_message_id: str
    sender: str
    receiver: str
    document_type: str
    process: str
    status: str
    status_reason: str | None
    sbdh_instance_id: str | None
    document_number: str | None = Field(
        description="The document's own number (BT-1, an Invoice Response's or MLS's ID), read when it was"
        " validated; null before that or when it was not parsed (malformed, too large, no rule set)"
    )
    received_at: datetime
    updated_at: datetime
    url: str


class InboundDocumentResponse(InboundSummary):
    report: dict[str, Any] | None = Field(description="The validation report of the received document")
    ubl_url: str


class InboundPage(BaseModel):
    items: list[InboundSummary]
    next_cursor: str | None


# -- builders -------------------------------------------------------------------------------------------


def raw_message_out(raw: RawHTTPMessage) -> RawHTTPMessageOut:
    """An HTTP message of the evidence, byte for byte (base64) with its SHA-256."""
    return RawHTTPMessageOut(
        headers=list(raw.headers),
        body_base64=base64.b64encode(raw.body).decode("ascii"),
        body_sha256=hashlib.sha256(raw.body).hexdigest(),
        body_bytes=len(raw.body),
    )


def _signal(signal: AS4Signal) -> SignalSummary:
    return SignalSummary(
        kind=signal.kind.value,
        at=signal.at,
        ebms_error_code=signal.ebms_error_code,
        receipt=signal.receipt_summary,
    )


def outbound_summary(document: OutboundDocument) -> OutboundSummary:
    """The listing form of an outbound document."""
    return OutboundSummary(
        id=document.id,
        kind=document.kind.value,
        document_number=document.document_number,
        receiver=str(document.receiver),
        status=document.status.value,
        status_reason=document.status_reason,
        attempts=document.attempts,
        next_attempt_at=document.next_attempt_at,
        as4_message_id=document.as4_message_id,
        created_at=document.created_at,
        updated_at=document.updated_at,
        status_url=outbound_url(document.id),
    )


def outbound_response(detail: OutboundDetail, *, may_retry: bool) -> OutboundDocumentResponse:
    """The full status view of one outbound document; ``may_retry``: the caller's role may POST its retry
    (``retry_allowed`` is then what the document allows, false otherwise)."""
    document = detail.document
    last = detail.last_message
    return OutboundDocumentResponse(
        **outbound_summary(document).model_dump(),
        seller_id=document.seller_id,
        sender=str(document.sender),
        document_type=document.document_type.uri,
        process=document.process.uri,
        retry_allowed=may_retry and detail.retry_allowed,
        waiting_for_document_id=detail.waiting_for,
        next_job_due_at=detail.job.due_at if detail.job is not None else None,
        timeline=[TimelineEntry.model_validate(entry) for entry in timeline_to_json(detail.timeline)],
        receipt=_signal(last.signal) if last is not None and last.signal is not None else None,
        ubl_url=f"{outbound_url(document.id)}/ubl",
        evidence_url=f"{outbound_url(document.id)}/evidence",
    )


def _evidence_signal(signal: AS4Signal) -> EvidenceSignal:
    return EvidenceSignal(**_signal(signal).model_dump(), raw=raw_message_out(signal.raw))


def _evidence_message(record: AS4MessageRecord, history: tuple[AS4Signal, ...]) -> EvidenceMessage:
    return EvidenceMessage(
        message_id=record.message_id,
        created_at=record.created_at,
        request=raw_message_out(record.request),
        signal=_evidence_signal(record.signal) if record.signal is not None else None,
        signals=[_evidence_signal(signal) for signal in history],
    )


def evidence_response(evidence: OutboundEvidence) -> EvidenceResponse:
    """The JSON form of the delivery evidence."""
    document = evidence.document
    return EvidenceResponse(
        document_id=document.id,
        document_number=document.document_number,
        status=document.status.value,
        status_reason=document.status_reason,
        as4_message_id=document.as4_message_id,
        ubl_sha256=hashlib.sha256(evidence.content.body).hexdigest(),
        timeline=[TimelineEntry.model_validate(entry) for entry in timeline_to_json(evidence.timeline)],
        messages=[_evidence_message(record, evidence.signals_of(record)) for record in evidence.messages],
    )


def inbound_summary(document: InboundDocument) -> InboundSummary:
    """The listing form of a received document."""
    return InboundSummary(
        id=document.id,
        as4_message_id=document.as4_message_id,
        sender=str(document.sender),
        receiver=str(document.receiver),
        document_type=document.document_type.uri,
        process=document.process.uri,
        status=document.status.value,
        status_reason=document.status_reason,
        sbdh_instance_id=document.sbdh_instance_id,
        document_number=document.document_number,
        received_at=document.received_at,
        updated_at=document.updated_at,
        url=inbound_url(document.id),
    )
