"""Builders for store records used by the contract suites (explicit construction, no hidden fixtures)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.model import (
    BIS_BILLING_PROCESS,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
    ParticipantID,
)
from gateway.model.expense import SYSTEM_ACTOR, Expense, ExpenseAction, ExpenseEvent, ExpenseStatus
from gateway.model.message import (
    RESPONSE_AFTER,
    RESPONSE_ANSWERS,
    AS4MessageRecord,
    DeliveryStatus,
    Direction,
    DocumentContent,
    DocumentKind,
    InboundDocument,
    InboundStatus,
    JSONObject,
    OutboundDocument,
    RawHTTPMessage,
)
from gateway.services import WebhookMessage
from gateway.services.ports import DocumentStore, UnitOfWork

T0 = datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)
SENDER = ParticipantID("0208", "0123456749")
RECEIVER = ParticipantID("0208", "0987654321")

# Not valid UTF-8 on purpose, with CR LF and NUL: storage must be byte-exact, not text.
UBL = b"<?xml version='1.0'?>\r\n<Invoice>\x00\xff\xfe caf\xc3\xa9</Invoice>\n"
REPORT: dict[str, Any] = {"valid": True, "findings": [{"rule": "PEPPOL-EN16931-R001", "flag": "warning"}]}


def new_id() -> str:
    return str(uuid.uuid4())


def at(minutes: float) -> datetime:
    """T0 plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def outbound(
    *,
    number: str | None = None,
    seller: str = "PU-0001",
    receiver: ParticipantID = RECEIVER,
    created_at: datetime = T0,
    document_id: str | None = None,
) -> OutboundDocument:
    return OutboundDocument(
        id=document_id or new_id(),
        kind=DocumentKind.INVOICE,
        seller_id=seller,
        document_number=number or f"INV-{uuid.uuid4().hex[:8]}",
        sender=SENDER,
        receiver=receiver,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.ACCEPTED,
        created_at=created_at,
        updated_at=created_at,
    )


def content(body: bytes = UBL) -> DocumentContent:
    return DocumentContent(body, REPORT)


def invoice_responses(
    uow: UnitOfWork,
    answers: str,
    count: int,
    *,
    receiver: ParticipantID = RECEIVER,
    created_at: datetime = T0,
) -> list[str]:
    """``count`` Invoice Responses to the received document ``answers``, queued one second apart as the
    responder queues them while each earlier one is unfinished: each names the one before it
    (``RESPONSE_AFTER``), each with its job due when created. The caller commits."""
    queued: list[str] = []
    for step in range(count):
        document = replace(
            outbound(receiver=receiver, created_at=created_at + timedelta(seconds=step)),
            kind=DocumentKind.INVOICE_RESPONSE,
            document_type=INVOICE_RESPONSE,
            process=INVOICE_RESPONSE_PROCESS,
        )
        detail: JSONObject = {RESPONSE_ANSWERS: answers}
        if queued:
            detail[RESPONSE_AFTER] = queued[-1]
        uow.outbound.add(document, content(), detail=detail)
        uow.jobs.enqueue(document.id, due_at=document.created_at)
        queued.append(document.id)
    return queued


def inbound(
    *,
    message_id: str | None = None,
    sender: ParticipantID = RECEIVER,
    receiver: ParticipantID = SENDER,
    status: InboundStatus = InboundStatus.VALID,
    received_at: datetime = T0,
) -> InboundDocument:
    return InboundDocument(
        id=new_id(),
        as4_message_id=message_id or f"{uuid.uuid4()}@ap.example.be",
        sender=sender,
        receiver=receiver,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=status,
        received_at=received_at,
        updated_at=received_at,
        sbdh_instance_id=str(uuid.uuid4()),
    )


def expense_draft(
    inbound_document_id: str,
    *,
    number: str,
    status: ExpenseStatus,
    at: datetime,
    unit_code: str | None = None,
    supplier_key: str = "0208:0123456749",
    supplier_name: str = "Supplier",
    amount: Decimal = Decimal("12.10"),
    status_reason: str | None = None,
) -> Expense:
    """An expense draft of a received document, in ``status`` since ``at`` (a new id; not stored)."""
    return Expense(
        id=new_id(),
        inbound_document_id=inbound_document_id,
        kind="invoice",
        status=status,
        unit_code=unit_code,
        supplier_key=supplier_key,
        supplier_name=supplier_name,
        number=number,
        currency="EUR",
        amount=amount,
        issue_date="2026-11-02",
        draft={"number": number},
        routing={},
        created_at=at,
        updated_at=at,
        status_reason=status_reason,
    )


def created_event(expense: Expense) -> ExpenseEvent:
    """The CREATED audit entry the gateway writes with a new expense."""
    return ExpenseEvent(
        expense.id,
        expense.created_at,
        SYSTEM_ACTOR.name,
        SYSTEM_ACTOR.role,
        ExpenseAction.CREATED,
        None,
        expense.status,
    )


def received_expense(
    store: DocumentStore,
    *,
    status: ExpenseStatus,
    received: datetime,
    drafted: datetime | None = None,
    number: str | None = None,
    supplier_name: str = "Supplier",
    status_reason: str | None = None,
) -> str:
    """A received document and its expense draft, stored with the draft's CREATED audit entry; the expense's
    id. In triage it has no unit, else PU04711. ``drafted``: when the draft was made (default: at receipt)."""
    made = drafted or received
    number = number or uuid.uuid4().hex[:8]
    document = replace(inbound(received_at=received), document_number=number)
    expense = expense_draft(
        document.id,
        number=number,
        status=status,
        at=made,
        unit_code=None if status is ExpenseStatus.TO_TRIAGE else "PU04711",
        supplier_name=supplier_name,
        status_reason=status_reason,
    )
    created = created_event(expense)
    with store.unit_of_work() as uow:
        uow.inbound.add(document, content())
        uow.expenses.add(expense, dedupe_key=uuid.uuid4().hex, event=created)
        uow.commit()
    return expense.id


MIME_BODY = (
    b"--MIMEBoundary_1\r\nContent-Type: application/soap+xml; charset=UTF-8\r\n\r\n<env:Envelope/>\r\n"
    b"--MIMEBoundary_1\r\nContent-Type: application/octet-stream\r\n\r\n\x1f\x8b\x08\x00\x00\xff\r\n"
    b"--MIMEBoundary_1--\r\n"
)
HEADERS = (
    ("Content-Type", 'multipart/related; boundary="MIMEBoundary_1"; type="application/soap+xml"'),
    ("MIME-Version", "1.0"),
    ("X-Repeated", "a"),
    ("X-Repeated", "b"),
)


def as4_message(
    *,
    direction: Direction = Direction.OUT,
    message_id: str | None = None,
    document_id: str | None = None,
    instance_id: str | None = None,
    created_at: datetime = T0,
) -> AS4MessageRecord:
    return AS4MessageRecord(
        message_id=message_id or f"{uuid.uuid4()}@gateway.example.be",
        direction=direction,
        request=RawHTTPMessage(HEADERS, MIME_BODY),
        created_at=created_at,
        document_id=document_id,
        sbdh_instance_id=instance_id,
    )


def webhook(*, created_at: datetime = T0, document_id: str | None = None) -> WebhookMessage:
    return WebhookMessage(
        id=new_id(),
        target="default",
        payload={"event": "status-changed", "document_id": document_id, "status": "delivered"},
        created_at=created_at,
        document_id=document_id,
    )
