"""What every expense change carries out inside its unit of work: the Invoice Response it reports to the
supplier (through the InvoiceResponder port), the webhook announcing it, and the workflow settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from gateway.errors import InvalidExpenseRequest
from gateway.model.expense import (
    STATUS_REASONS,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
    response_code,
)
from gateway.model.identifiers import ParticipantID
from gateway.model.message import JSONObject
from gateway.model.partial_payment import payment_summary
from gateway.services.ports import (
    IDFactory,
    InvoiceResponder,
    InvoiceResponseRequest,
    UnitOfWork,
    WebhookMessage,
)
from gateway.services.routing import DEFAULT_RULES, RoutingRule
from gateway.services.webhooks import DEFAULT_WEBHOOK_TARGET

#: The ``type`` prefix of expense webhooks: ``expense.created``, ``expense.approve``, ...
WEBHOOK_TYPE_PREFIX: Final = "expense."
DEFAULT_MAPPING_TTL: Final = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ExpensePolicy:
    """Workflow settings (``GATEWAY_EXPENSES__*``).

    Attributes:
        rules: the enabled routing rules, in priority order.
        mapping_ttl: how long a supplier -> unit mapping set at triage lasts.
        webhook_url: where expense events are announced (None: no webhooks).
        served: every participant we receive for (``GATEWAY_AS4__SERVED``): a received document whose buyer
            (BT-49) names one of them is the cooperative's, whichever of them it was delivered to
            (``expense_drafts.buyer_doubt``).
    """

    rules: tuple[RoutingRule, ...] = DEFAULT_RULES
    mapping_ttl: timedelta = DEFAULT_MAPPING_TTL
    webhook_url: str | None = None
    served: frozenset[ParticipantID] = frozenset()


def reason_codes(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Upper-cased, deduplicated OpenPeppol status reasons; ``OTH`` when none is given.

    Raises:
        InvalidExpenseRequest: a code outside OPStatusReason (or PPD, which belongs to PD only).
    """
    normalised = tuple(dict.fromkeys(c.strip().upper() for c in codes)) or ("OTH",)
    unknown = [c for c in normalised if c not in STATUS_REASONS]
    if unknown:
        raise InvalidExpenseRequest(
            f"reason codes {', '.join(unknown)} are not OpenPeppol status reasons "
            f"({', '.join(sorted(STATUS_REASONS))})"
        )
    return normalised


def respond(
    responder: InvoiceResponder,
    uow: UnitOfWork,
    expense: Expense,
    action: ExpenseAction,
    reached: ExpenseStatus,
    at: datetime,
    *,
    codes: tuple[str, ...] = (),
    note: str | None = None,
) -> str | None:
    """Ask for the Invoice Response this action reports (AB, AP, RE, UQ, PD) in ``uow``; None for others.

    ``expense`` is as it stands before the action and ``reached`` the status the action leaves it in: the
    model decides from them (``response_code``: AB when the expense first reaches a unit, on creation or
    out of triage)."""
    code = response_code(action, expense.status, reached=reached)
    if code is None:
        return None
    request = InvoiceResponseRequest(
        inbound_document_id=expense.inbound_document_id, status=code, at=at, reason_codes=codes, note=note
    )
    return responder.respond(uow, request)


def announce(
    uow: UnitOfWork,
    ids: IDFactory,
    url: str | None,
    expense: Expense,
    event: ExpenseEvent,
    detail: JSONObject | None,
) -> None:
    """Write the webhook announcing ``event`` to the outbox of ``uow`` (nothing without a URL). A payment
    (``expense.mark-paid``) also says in ``data.payment`` whether it was partial, with the amount and
    explanation."""
    if not url:
        return
    event_id = ids.new_id()
    data: JSONObject = {
        "expense_id": expense.id,
        "inbound_document_id": expense.inbound_document_id,
        "kind": expense.kind,
        "status": event.to_status.value,
        "previous_status": event.from_status.value if event.from_status else None,
        "unit": expense.unit_code,
        "supplier_id": expense.supplier_key,
        "supplier_name": expense.supplier_name,
        "number": expense.number,
        "amount": str(expense.amount),
        "currency": expense.currency,
        "actor": event.actor,
        "role": event.role.value,
        "detail": detail,
    }
    if event.action is ExpenseAction.MARK_PAID:
        data["payment"] = payment_summary(detail)
    payload: JSONObject = {
        "id": event_id,
        "type": WEBHOOK_TYPE_PREFIX + event.action.value,
        "created_at": event.at.isoformat(),
        "data": data,
    }
    # The outbox keeps the configured target's reference, never the URL (it may carry a token).
    uow.outbox.add(
        WebhookMessage(
            id=event_id,
            target=DEFAULT_WEBHOOK_TARGET,
            payload=payload,
            created_at=event.at,
            document_id=expense.id,
        )
    )
