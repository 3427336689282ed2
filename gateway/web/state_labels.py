"""Words of the pages for the states they show as badges (the badge's class keeps the state's value):
a Peppol report's, an outbound document's, a received document's, an expense's and our AP certificate's;
and for a document's kind, a delivery event, an expense action and a person's role (or the gateway's, in
an expense's audit trail). Each is translated on the page (``states`` of every template,
``gateway.web.i18n.environment``)."""

from __future__ import annotations

from typing import Final

from gateway.config import Role
from gateway.crypto.lifecycle import ExpiryState
from gateway.model.expense import ActorRole, ExpenseAction, ExpenseStatus
from gateway.model.identifiers import DocumentTypeID
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind, InboundStatus
from gateway.model.report import ReportStatus
from gateway.render.file_names import kind_marker

REPORT_STATES: Final = {
    ReportStatus.STORED.value: "stored",
    ReportStatus.INVALID.value: "invalid",
    ReportStatus.QUEUED.value: "queued",
}
DELIVERY_STATES: Final = {
    DeliveryStatus.ACCEPTED.value: "accepted",
    DeliveryStatus.SENDING.value: "sending",
    DeliveryStatus.DELIVERED.value: "delivered",
    DeliveryStatus.RETRYING.value: "retrying",
    DeliveryStatus.FAILED.value: "failed",
    DeliveryStatus.CONFIRMED.value: "confirmed",
    DeliveryStatus.REJECTED.value: "rejected",
    DeliveryStatus.DELIVERED_BY_EMAIL.value: "delivered by e-mail",
}
EXPIRY_STATES: Final = {
    ExpiryState.OK.value: "valid",
    ExpiryState.EXPIRING.value: "expires soon",
    ExpiryState.EXPIRED.value: "expired",
}

INBOUND_STATES: Final = {
    InboundStatus.RECEIVED.value: "received",
    InboundStatus.VALID.value: "valid",
    InboundStatus.INVALID.value: "invalid",
}
EXPENSE_STATES: Final = {
    ExpenseStatus.RECEIVED.value: "received",
    ExpenseStatus.TO_TRIAGE.value: "to triage",
    ExpenseStatus.TO_APPROVE.value: "to approve",
    ExpenseStatus.UNDER_QUERY.value: "under query",
    ExpenseStatus.APPROVED.value: "approved",
    ExpenseStatus.REJECTED.value: "rejected",
    ExpenseStatus.PAID.value: "paid",
}
KINDS: Final = {
    DocumentKind.INVOICE.value: "invoice",
    DocumentKind.CREDIT_NOTE.value: "credit note",
    DocumentKind.UBL.value: "UBL",
    DocumentKind.INVOICE_RESPONSE.value: "Invoice Response",
    DocumentKind.MLS.value: "MLS",
    DocumentKind.PEPPOL_REPORT.value: "Peppol report",
}
ROLES: Final = {
    Role.SENDER.value: "sender",
    Role.SUPPORT.value: "support",
    Role.MEMBER.value: "member",
    Role.ADMIN.value: "admin",
    ActorRole.SYSTEM.value: "system",
}

DELIVERY_EVENTS: Final = {
    DeliveryEvent.SUBMITTED.value: "submitted",
    DeliveryEvent.SEND_STARTED.value: "sending started",
    DeliveryEvent.RECEIPT_RECEIVED.value: "receipt received",
    DeliveryEvent.RETRYABLE_FAILURE.value: "failed, will retry",
    DeliveryEvent.PERMANENT_FAILURE.value: "failed for good",
    DeliveryEvent.RETRIES_EXHAUSTED.value: "no tries left",
    DeliveryEvent.RETRY_REQUESTED.value: "retry requested",
    DeliveryEvent.MLS_ACCEPTED.value: "accepted (MLS)",
    DeliveryEvent.MLS_REJECTED.value: "rejected (MLS)",
    DeliveryEvent.RESPONSE_RECEIVED.value: "buyer's response received",
    DeliveryEvent.EMAIL_ACCEPTED.value: "accepted by the mail server",
}
EXPENSE_ACTIONS: Final = {
    ExpenseAction.CREATED.value: "created",
    ExpenseAction.ROUTE.value: "routed",
    ExpenseAction.TRIAGE.value: "sent to triage",
    ExpenseAction.ASSIGN.value: "assigned",
    ExpenseAction.APPROVE.value: "approved",
    ExpenseAction.REJECT.value: "rejected",
    ExpenseAction.QUERY.value: "question asked",
    ExpenseAction.ANSWER.value: "answer recorded",
    ExpenseAction.MARK_PAID.value: "marked paid",
    ExpenseAction.SETTLE.value: "rest recorded as paid",
    ExpenseAction.DUPLICATE.value: "duplicate received",
}

assert set(REPORT_STATES) == {s.value for s in ReportStatus}, "every report state has its words"
assert set(DELIVERY_STATES) == {s.value for s in DeliveryStatus}, "every delivery state has its words"
assert set(EXPIRY_STATES) == {s.value for s in ExpiryState}, "every certificate state has its words"
assert set(INBOUND_STATES) == {s.value for s in InboundStatus}, "every receipt state has its words"
assert set(EXPENSE_STATES) == {s.value for s in ExpenseStatus}, "every expense state has its words"
assert set(KINDS) == {k.value for k in DocumentKind}, "every document kind has its words"
assert set(DELIVERY_EVENTS) == {e.value for e in DeliveryEvent}, "every delivery event has its words"
assert set(EXPENSE_ACTIONS) == {a.value for a in ExpenseAction}, "every expense action has its words"
assert set(ROLES) == {r.value for r in Role} | {r.value for r in ActorRole}, "every role has its words"

#: What the templates receive (``states.report[...]`` and so on).
STATE_LABELS: Final = {
    "report": REPORT_STATES,
    "delivery": DELIVERY_STATES,
    "expiry": EXPIRY_STATES,
    "inbound": INBOUND_STATES,
    "expense": EXPENSE_STATES,
    "kind": KINDS,
    "role": ROLES,
    "event": DELIVERY_EVENTS,
    "action": EXPENSE_ACTIONS,
}


def received_kind(document_type: DocumentTypeID) -> str | None:
    """The ``KINDS`` key of a received document by its Peppol document type - an invoice, a credit note, an
    Invoice Response or an MLS, as its download is named (``gateway.render.file_names.kind_marker``) -, or
    None for another type (the page names it by its root element)."""
    marker = kind_marker(document_type)
    kind = DocumentKind.INVOICE.value if marker is None else marker
    return kind if kind in _RECEIVED_KINDS else None


_RECEIVED_KINDS: Final = frozenset(
    k.value
    for k in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE, DocumentKind.INVOICE_RESPONSE, DocumentKind.MLS)
)
