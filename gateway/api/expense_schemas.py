"""Request and response models of the expense and production-unit routes, and their builders.

Free text a person typed (reasons, questions, names) must match ``TEXT_PATTERN`` (``model.free_text``): no
C0 control but tab and line breaks. PostgreSQL stores no NUL in text or JSON, so it is refused here (422),
never at the database (503).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.api.auth import Principal
from gateway.api.outbound_schemas import EvidenceMessage, EvidenceSignal, raw_message_out
from gateway.config import Role
from gateway.model.expense import (
    Actor,
    ActorRole,
    Expense,
    ExpenseEvent,
    SupplierAnswer,
    supplier_answer,
)
from gateway.model.first_response import ResponseDue
from gateway.model.free_text import TEXT_PATTERN
from gateway.model.message import AS4MessageRecord
from gateway.model.partial_payment import MAX_PAYMENT_NOTE
from gateway.model.units import UNIT_CODE_PATTERN, ProductionUnit
from gateway.services.expense_queries import ExpenseDetail

#: An expense id in a path: printable ASCII (ids are UUIDs; anything else is simply not found).
ExpenseIdPath = Annotated[str, Path(pattern=r"^[!-~]{1,128}$", description="The expense id (a UUID)")]
#: A production unit code in a path, written as published (``PU-04711``, ``pu 04711``, ``PU04711``).
UnitCodePath = Annotated[
    str, Path(pattern=UNIT_CODE_PATTERN.pattern, description="The production unit code, e.g. PU-04711")
]
#: A member: the name of an API key (``api.keys[].name``), as stored (at most 200 characters).
MemberName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class ExpenseOrder(StrEnum):
    """The order of ``GET /v1/expenses``."""

    NEWEST = "newest"
    """Newest first, by the expense's creation (the default)."""
    OLDEST = "oldest"
    """Oldest first, by the receipt of the expense's document: the first Invoice Responses most urgent
    (``first_response_due``) lead."""


class Problem(BaseModel):
    """RFC 9457 problem details (every error answer of the API)."""

    type: str = Field(description="/problems/<kind>")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def actor_of(principal: Principal) -> Actor:
    """The workflow's view of an API principal."""
    role = {
        Role.MEMBER: ActorRole.MEMBER,
        Role.SUPPORT: ActorRole.SUPPORT,
        Role.ADMIN: ActorRole.ADMIN,
    }[principal.role]
    return Actor(principal.name, role, principal.units)


class ExpenseSummary(BaseModel):
    id: str
    kind: str = Field(description="invoice or credit_note")
    status: str
    unit: str | None = Field(description="Production unit key; null while in triage")
    supplier_id: str = Field(description="The supplier's Peppol participant id (case-folded)")
    supplier_name: str
    number: str
    issue_date: str
    currency: str
    amount: str = Field(description="Amount due (BT-115); negative for a credit note")
    status_reason: str | None = Field(description="Triage reason, reject reason or open question")
    duplicates: list[str] = Field(description="Received documents that repeated this expense (flagged)")
    credited_expense_id: str | None = Field(description="Credit note: the expense of the invoice it credits")
    created_at: datetime
    updated_at: datetime
    first_response_due: datetime | None = Field(
        description="In triage: when the supplier's first Invoice Response (AB, sent only once the expense "
        "is assigned to a unit) is due - the end (24:00 Europe/Brussels) of the third working day after the "
        "day the document was received, Monday to Friday except Belgian public holidays (bis-billing §9: "
        "within 3 working days). Null for an expense with a unit: its AB went when it reached it"
    )
    url: str


class ExpensePage(BaseModel):
    items: list[ExpenseSummary]
    next_cursor: str | None


class SupplierAnswerOut(BaseModel):
    code: str = Field(
        description="The Invoice Response code this action reports: AP, RE, UQ or PD; AB for an assign out "
        "of triage (said only when queued)"
    )
    sent: bool = Field(
        description="False: no Invoice Response was queued (the supplier does not receive them through "
        "Peppol, has no Peppol id, the status is not sent by configuration, or it failed the T111 rules): "
        "the supplier must be told another way"
    )
    document_id: str | None = Field(description="The outbound document carrying it (GET /v1/outbound/{id})")


class ExpenseEventOut(BaseModel):
    at: datetime
    actor: str
    role: str
    action: str
    from_status: str | None
    to_status: str
    unit: str | None
    detail: dict[str, Any] | None = Field(
        description="What the action recorded (reason, question, unit, payment...); never the "
        "Idempotency-Key a client sent with it, which is that client's own request token"
    )
    invoice_response: SupplierAnswerOut | None = Field(
        description="A person's approve, reject, query or mark-paid: whether the supplier was told through "
        "Peppol; an assign out of triage: the acknowledgement (AB) queued, null when none was; null for "
        "other actions"
    )


class ExpenseResponse(ExpenseSummary):
    draft: dict[str, Any] = Field(
        description="Supplier, dates, totals, VAT breakdown per category and rate, lines, payment "
        "details (IBAN, structured communication, due date), attachments"
    )
    routing: dict[str, Any] = Field(description="Which rule routed it and why, with every candidate")
    events: list[ExpenseEventOut] = Field(description="The audit trail, oldest first")
    inbound_document_id: str
    ubl_url: str
    inbound_url: str = Field(description="The received document with its validation report")
    as4_message_id: str | None = Field(description="The AS4 message that carried it")
    evidence_url: str = Field(description="That AS4 message exactly as received, with the receipt we sent")
    attachment_urls: list[str]


class RequestIn(BaseModel):
    """A request body: a field the route does not take is refused (422 naming it), never ignored: a
    misspelt ``remember_supplier`` or ``members`` would otherwise change nothing, or empty a list."""

    model_config = ConfigDict(extra="forbid")


class AssignIn(RequestIn):
    unit: str = Field(description="The production unit code, e.g. PU-04711")
    remember_supplier: bool = Field(
        default=True, description="From triage: route the supplier's next documents naming no unit here"
    )


class RejectIn(RequestIn):
    reason: str = Field(
        min_length=1, max_length=2000, pattern=TEXT_PATTERN, description="Why, as shown to the supplier"
    )
    reason_codes: list[str] = Field(default_factory=list, description="OpenPeppol status reasons, e.g. PRI")


class QueryIn(RequestIn):
    question: str = Field(
        min_length=1, max_length=2000, pattern=TEXT_PATTERN, description="The question to the supplier"
    )
    reason_codes: list[str] = Field(default_factory=list, description="OpenPeppol status reasons, e.g. REF")


class NoFieldsIn(RequestIn):
    """An action without parameters (approve, settle): no body, ``null`` or ``{}``."""


class MarkPaidIn(RequestIn):
    """A payment: in full (no body, ``null`` or ``{}``), or in part with an explanation for the supplier."""

    partially_paid: bool = Field(
        default=False,
        description="Paid in part: the supplier gets Invoice Response PD with status reason PPD and "
        "``reason``. PD is final: the rest of the payment can then only be recorded here (``settle``), "
        "never sent",
    )
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PAYMENT_NOTE,
        pattern=TEXT_PATTERN,
        description="Partial: why, as the supplier reads it (required), e.g. the rest after the credit note",
    )
    paid_amount: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[0-9]+(\.[0-9]{1,2})?$",
        description="Partial, optional: the amount paid in the invoice currency, e.g. 600.00; more than 0 "
        "and less than the amount due (BT-115). Sent to the supplier in the reason text",
    )


class AnswerIn(RequestIn):
    answer: str | None = Field(
        default=None, max_length=2000, pattern=TEXT_PATTERN, description="The supplier's answer, if noted"
    )


class UnitIn(RequestIn):
    name: str = Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)
    active: bool = True
    members: list[MemberName] = Field(
        default_factory=list, description="Names of the API keys allowed to approve"
    )
    # A unit read with GET may be written back as it is: its read-only fields are taken when they name
    # the same unit (``routes.units`` checks ``read_only_fields``).
    key: str | None = Field(default=None, max_length=200, description="Read-only: as GET gives it")
    code: str | None = Field(default=None, max_length=200, description="Read-only: as GET gives it")

    def read_only_fields(self) -> dict[str, str]:
        """The read-only ``key`` and ``code`` the body gives, by field name."""
        return {name: value for name, value in (("key", self.key), ("code", self.code)) if value is not None}


class UnitItemIn(UnitIn):
    code: str = Field(
        pattern=UNIT_CODE_PATTERN.pattern, description="The production unit code, e.g. PU-04711 or PU04711"
    )

    def read_only_fields(self) -> dict[str, str]:
        """The read-only ``key`` the item gives (its ``code`` names the unit: not read-only here)."""
        return {} if self.key is None else {"key": self.key}


class UnitOut(BaseModel):
    key: str
    code: str
    name: str
    active: bool
    members: list[str]


class ExpenseBoard(BaseModel):
    counts: dict[str, int] = Field(description="Expenses per status, of the caller's units")
    invalid_received: int | None = Field(
        description="Support and admin: received documents that failed validation (GET /v1/inbound?status="
        "invalid): kept with their report, never routed"
    )


def expense_url(expense_id: str) -> str:
    return f"/v1/expenses/{expense_id}"


def expense_summary(expense: Expense, due: ResponseDue | None = None) -> ExpenseSummary:
    """``expense`` as listed; ``due``: its first response's deadline while in triage."""
    return ExpenseSummary(
        id=expense.id,
        kind=expense.kind,
        status=expense.status.value,
        unit=expense.unit_code,
        supplier_id=expense.supplier_key,
        supplier_name=expense.supplier_name,
        number=expense.number,
        issue_date=expense.issue_date,
        currency=expense.currency,
        amount=str(expense.amount),
        status_reason=expense.status_reason,
        duplicates=list(expense.duplicates),
        credited_expense_id=expense.credited_expense_id,
        created_at=expense.created_at,
        updated_at=expense.updated_at,
        first_response_due=due.at if due is not None else None,
        url=expense_url(expense.id),
    )


def _event(event: ExpenseEvent) -> ExpenseEventOut:
    return ExpenseEventOut(
        at=event.at,
        actor=event.actor,
        role=event.role.value,
        action=event.action.value,
        from_status=event.from_status.value if event.from_status else None,
        to_status=event.to_status.value,
        unit=event.unit_code,
        detail=event.detail,
        invoice_response=_answer(supplier_answer(event)),
    )


def _answer(answer: SupplierAnswer | None) -> SupplierAnswerOut | None:
    if answer is None:
        return None
    return SupplierAnswerOut(code=answer.code, sent=answer.sent, document_id=answer.document_id)


def expense_response(detail: ExpenseDetail) -> ExpenseResponse:
    expense = detail.expense
    url = expense_url(expense.id)
    attachments = expense.draft.get("attachments", [])
    return ExpenseResponse(
        **expense_summary(expense, detail.first_response_due).model_dump(),
        draft=expense.draft,
        routing=expense.routing,
        events=[_event(e) for e in detail.events],
        inbound_document_id=expense.inbound_document_id,
        ubl_url=f"{url}/ubl",
        evidence_url=f"{url}/evidence",
        inbound_url=f"/v1/inbound/{expense.inbound_document_id}",
        as4_message_id=detail.as4_message_id,
        attachment_urls=[f"{url}/attachments/{a['n']}" for a in attachments if a.get("embedded")],
    )


def unit_out(unit: ProductionUnit) -> UnitOut:
    return UnitOut(
        key=unit.key, code=unit.code, name=unit.name, active=unit.active, members=list(unit.members)
    )


def evidence_out(record: AS4MessageRecord) -> EvidenceMessage:
    """The received AS4 message and the signal we answered it with, byte for byte."""
    signal = record.signal
    answered = (
        EvidenceSignal(
            kind=signal.kind.value,
            at=signal.at,
            ebms_error_code=signal.ebms_error_code,
            receipt=signal.receipt_summary,
            raw=raw_message_out(signal.raw),
        )
        if signal is not None
        else None
    )
    return EvidenceMessage(
        message_id=record.message_id,
        created_at=record.created_at,
        request=raw_message_out(record.request),
        signal=answered,
        signals=[answered] if answered is not None else [],
    )
