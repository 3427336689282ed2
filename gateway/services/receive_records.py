"""The stored shapes of a received message: its pending inbound document, receipt summary and envelope
facts, and the look-ups over stored messages (same SBDH instance, sending AP, pending validation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.as4 import IncomingUserMessage
from gateway.model.message import (
    VALIDATION_PENDING,
    AS4MessageRecord,
    HTTPHeaders,
    InboundDocument,
    InboundStatus,
    JSONObject,
)
from gateway.services.message_status import ReceivedEnvelope
from gateway.services.ports import InstanceMessage, UnitOfWork


def first_headers(headers: HTTPHeaders) -> dict[str, str]:
    """The first value of each header field, by lower-case name (what the AS4 parser reads)."""
    out: dict[str, str] = {}
    for name, value in headers:
        out.setdefault(name.lower(), value)
    return out


def pending_document(
    record: AS4MessageRecord, incoming: IncomingUserMessage, now: datetime
) -> InboundDocument:
    """The inbound document as stored with the receipt: RECEIVED, validation pending."""
    assert record.document_id is not None
    return InboundDocument(
        id=record.document_id,
        as4_message_id=incoming.message_id,
        sender=incoming.sbdh.sender,
        receiver=incoming.sbdh.receiver,
        document_type=incoming.document_type,
        process=incoming.process,
        status=InboundStatus.RECEIVED,
        received_at=record.created_at,
        updated_at=now,
        sbdh_instance_id=incoming.sbdh.instance_id,
        status_reason=VALIDATION_PENDING,
    )


def received_envelope(incoming: IncomingUserMessage) -> ReceivedEnvelope:
    """The envelope facts handed on after validation: the sending AP, the SBDH MLS scopes and instance id."""
    return ReceivedEnvelope(
        incoming.from_party, incoming.sbdh.mls_to, incoming.sbdh.mls_type, incoming.sbdh.instance_id
    )


def stored_envelope(record: AS4MessageRecord | None) -> ReceivedEnvelope:
    """The envelope facts of an accepted message as its receipt summary recorded them, for the paths that
    finish a stored document (recovery, the sweep, a resend): the sending AP's seat id ("" if unknown), the
    SBDH MLS scopes and the instance id. Summaries from before they were recorded give the MLS defaults
    (FAILURE_ONLY, to the sending AP)."""
    summary = record.signal.receipt_summary if record is not None and record.signal is not None else None
    return summary_envelope(summary)


def summary_envelope(summary: Mapping[str, Any] | None) -> ReceivedEnvelope:
    """``stored_envelope`` from the receipt summary alone (``AS4MessageRepository.signal_summary``: read
    without the message's bytes)."""
    facts = summary or {}

    def text(key: str) -> str | None:
        value = facts.get(key)
        return value if isinstance(value, str) and value else None

    return ReceivedEnvelope(text("fromParty") or "", text("mlsTo"), text("mlsType"), text("instanceId"))


def is_pending(document: InboundDocument) -> bool:
    """True while the document awaits its validation (RECEIVED, ``VALIDATION_PENDING``)."""
    return document.status is InboundStatus.RECEIVED and document.status_reason == VALIDATION_PENDING


def same_document(
    uow: UnitOfWork, earliest: InstanceMessage | None, business: bytes
) -> InstanceMessage | None:
    """The accepted message that already delivered this SBDH instance with the same business document.

    ``earliest``: the instance's earliest stored message (``instance_check``); its document is read, and
    only when there is one (a first delivery reads nothing).

    Policy STORE_AND_LINK (phoss-ap calls its variant STORE_AND_FLAG): an application-level resend gets a
    receipt and its evidence is kept, but no second inbound document. A reused InstanceIdentifier with a
    *different* document is not a resend: it is stored as a new document, never dropped.
    """
    if earliest is None or earliest.document_id is None:
        return None
    content = uow.inbound.get_content(earliest.document_id)
    return earliest if content is not None and content.body == business else None


def receipt_summary(incoming: IncomingUserMessage, receipt_id: str, now: datetime) -> JSONObject:
    """The facts of a receipt kept in its evidence record (duplicate handling reads ``fromParty``)."""
    return {
        "signalMessageId": receipt_id,
        "refToMessageId": incoming.message_id,
        "timestamp": now.isoformat(),
        "fromParty": incoming.from_party,
        "toParty": incoming.to_party,
        "originalSender": str(incoming.original_sender),
        "finalRecipient": str(incoming.final_recipient),
        "documentType": incoming.document_type.uri,
        "process": incoming.process.uri,
        "instanceId": incoming.sbdh.instance_id,
        "mlsTo": incoming.sbdh.mls_to,  # the MLS scopes, for the paths that finish a stored document
        "mlsType": incoming.sbdh.mls_type,
        "conversationId": incoming.conversation_id,
        "signer": incoming.signer_certificate.subject.rfc4514_string(),
        "references": len(incoming.received_references),
    }
