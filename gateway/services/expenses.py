"""The expense workflow: a valid received invoice or credit note becomes a routed draft, and members and
support move it through TRANSITIONS (``model/expense.py``).

Every change is one unit of work: the expense row, its audit entry, the webhook announcing it and the
Invoice Response reporting it to the supplier (through the :class:`InvoiceResponder` port) are committed
together or not at all. Every action is idempotent: repeating the last action answers the current state
and records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from gateway.errors import (
    DocumentNotFound,
    DuplicateMessage,
    ExpenseActionForbidden,
    GatewayError,
    InvalidExpenseRequest,
)
from gateway.model import CreditNote, Invoice
from gateway.model.expense import (
    INITIAL_STATUS,
    RESPONSE_CODES,
    STATUS_REASONS,
    SYSTEM_ACTOR,
    Actor,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
    decide,
)
from gateway.model.message import InboundStatus, JSONObject
from gateway.model.units import SupplierMapping, unit_key
from gateway.services.expense_access import check_action, visible_units
from gateway.services.expense_drafts import DraftValues, build_draft
from gateway.services.ports import (
    Clock,
    DocumentStore,
    IDFactory,
    InvoiceResponder,
    InvoiceResponseRequest,
    UnitOfWork,
    WebhookMessage,
)
from gateway.services.routing import DEFAULT_RULES, RoutingOutcome, RoutingRule, route
from gateway.ubl import read_ubl

log = logging.getLogger("gateway.expenses")

#: The ``type`` prefix of expense webhooks: ``expense.created``, ``expense.approve``, ...
WEBHOOK_TYPE_PREFIX: Final = "expense."
DEFAULT_MAPPING_TTL: Final = timedelta(days=365)
_MAX_TEXT = 2000


class DraftOutcome(StrEnum):
    """What became of a received document."""

    CREATED = "created"
    EXISTING = "existing"
    """The document already has its expense (a repeated call)."""
    DUPLICATE = "duplicate"
    """Same supplier, kind, number and amount as an existing expense: flagged on it, not created twice."""
    SKIPPED = "skipped"
    """Not a valid invoice or credit note, or unreadable: no expense (the inbound listing shows it)."""


@dataclass(frozen=True, slots=True)
class DraftResult:
    """The outcome of :meth:`ExpenseWorkflow.create_from_inbound`."""

    outcome: DraftOutcome
    expense: Expense | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExpensePolicy:
    """Workflow settings (``GATEWAY_EXPENSES__*``).

    Attributes:
        rules: the enabled routing rules, in priority order.
        mapping_ttl: how long a supplier -> unit mapping set at triage lasts.
        webhook_url: where expense events are announced (None: no webhooks).
    """

    rules: tuple[RoutingRule, ...] = DEFAULT_RULES
    mapping_ttl: timedelta = DEFAULT_MAPPING_TTL
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class ActionInput:
    """The parameters of an action (which ones matter depends on the action).

    Attributes:
        unit: ASSIGN: the unit code.
        reason: REJECT: why (required); ANSWER: the supplier's answer.
        reason_codes: REJECT / QUERY: OpenPeppol status reason codes (default ``OTH``).
        question: QUERY: the question to the supplier (required).
        remember_supplier: ASSIGN from triage: remember the supplier -> unit mapping.
    """

    unit: str | None = None
    reason: str | None = None
    reason_codes: tuple[str, ...] = ()
    question: str | None = None
    remember_supplier: bool = True


def _text(value: str | None, what: str, *, required: bool) -> str | None:
    value = value.strip() if value else None
    if required and not value:
        raise InvalidExpenseRequest(f"{what} is required")
    if value and len(value) > _MAX_TEXT:
        raise InvalidExpenseRequest(f"{what} is longer than {_MAX_TEXT} characters")
    return value


def _reason_codes(codes: tuple[str, ...]) -> tuple[str, ...]:
    normalised = tuple(dict.fromkeys(c.strip().upper() for c in codes)) or ("OTH",)
    unknown = [c for c in normalised if c not in STATUS_REASONS]
    if unknown:
        raise InvalidExpenseRequest(
            f"reason codes {', '.join(unknown)} are not OpenPeppol status reasons "
            f"({', '.join(sorted(STATUS_REASONS))})"
        )
    return normalised


class ExpenseWorkflow:
    """The expense use cases. Thread-safe: every call opens its own unit of work.

    Args:
        store: the document store.
        clock / ids: time and identifiers.
        responder: queues the Invoice Responses to suppliers.
        policy: routing rules, mapping lifetime, webhook URL.
    """

    def __init__(
        self,
        *,
        store: DocumentStore,
        clock: Clock,
        ids: IDFactory,
        responder: InvoiceResponder,
        policy: ExpensePolicy | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._responder = responder
        self._policy = policy or ExpensePolicy()

    # -- creation ----------------------------------------------------------------------------------------

    def create_from_inbound(self, inbound_document_id: str) -> DraftResult:
        """Build, route and store the expense of a valid received invoice or credit note (idempotent).

        Raises:
            StoreError: the store failed (nothing was stored; the recovery pass retries).
        """
        with self._store.unit_of_work(read_only=True) as uow:
            existing = uow.expenses.get_by_inbound(inbound_document_id)
            document = uow.inbound.get(inbound_document_id)
            content = uow.inbound.get_content(inbound_document_id)
        if existing is not None:
            return DraftResult(DraftOutcome.EXISTING, existing)
        if document is None or content is None:
            raise DocumentNotFound(inbound_document_id, "inbound document")
        if document.status is not InboundStatus.VALID:
            # Invalid documents stay in GET /v1/inbound with their report: never routed silently.
            return DraftResult(DraftOutcome.SKIPPED, reason=f"inbound document is {document.status.value}")
        try:
            model = read_ubl(content.body)
        except GatewayError as exc:  # a valid document the reader cannot map: shown, not guessed
            log.error("inbound document %s: no expense draft: %s", inbound_document_id, exc)
            return DraftResult(DraftOutcome.SKIPPED, reason=f"the document cannot be read: {exc}")
        values = build_draft(model, sender=document.sender)
        with self._store.unit_of_work() as uow:
            result = self._create(uow, inbound_document_id, model, values)
            uow.commit()
        if result.outcome is DraftOutcome.CREATED and result.expense is not None:
            log.info(
                "expense %s from inbound document %s: %s (%s)",
                result.expense.id,
                inbound_document_id,
                result.expense.status.value,
                result.expense.routing.get("reason"),
            )
        return result

    def _create(
        self, uow: UnitOfWork, inbound_id: str, model: Invoice | CreditNote, values: DraftValues
    ) -> DraftResult:
        now = self._clock.now()
        existing = uow.expenses.get_by_inbound(inbound_id)
        if existing is not None:
            return DraftResult(DraftOutcome.EXISTING, existing)
        original = uow.expenses.find_duplicate(values.dedupe_key)
        if original is not None:
            return self._flag_duplicate(uow, original, inbound_id, now)
        units = {unit.key: unit for unit in uow.units.all()}
        mapping = uow.units.get_mapping(values.supplier_key)
        decision = route(model, units=units, mapping=mapping, rules=self._policy.rules, at=now)
        credited = None
        for number in values.credited_numbers:
            invoice = uow.expenses.find_invoice(values.supplier_key, number)
            if invoice is not None:
                credited = invoice.id
                break
        expense = Expense(
            id=self._ids.new_id(),
            inbound_document_id=inbound_id,
            kind=values.kind,
            status=INITIAL_STATUS,
            unit_code=None,
            supplier_key=values.supplier_key,
            supplier_name=values.supplier_name,
            number=values.number,
            currency=values.currency,
            amount=values.amount,
            issue_date=values.issue_date,
            draft=values.draft,
            routing=decision.to_dict(),
            created_at=now,
            updated_at=now,
            credited_expense_id=credited,
        )
        created = ExpenseEvent(
            expense.id, now, SYSTEM_ACTOR.name, SYSTEM_ACTOR.role, ExpenseAction.CREATED, None, INITIAL_STATUS
        )
        try:
            uow.expenses.add(expense, dedupe_key=values.dedupe_key, event=created)
        except DuplicateMessage:
            # A concurrent unit of work stored this document or its twin first.
            winner = uow.expenses.get_by_inbound(inbound_id)
            if winner is not None:
                return DraftResult(DraftOutcome.EXISTING, winner)
            twin = uow.expenses.find_duplicate(values.dedupe_key)
            if twin is None:
                raise
            return self._flag_duplicate(uow, twin, inbound_id, now)
        ab = self._respond(uow, expense, ExpenseAction.CREATED, now)
        self._announce(uow, expense, created, {"response_document_id": ab} if ab else None)
        routed = decision.outcome is RoutingOutcome.ROUTED
        step = ExpenseEvent(
            expense.id,
            now,
            SYSTEM_ACTOR.name,
            SYSTEM_ACTOR.role,
            ExpenseAction.ROUTE if routed else ExpenseAction.TRIAGE,
            INITIAL_STATUS,
            ExpenseStatus.TO_APPROVE if routed else ExpenseStatus.TO_TRIAGE,
            decision.unit_code,
            {"rule": decision.rule.value if decision.rule else None, "reason": decision.reason},
        )
        uow.expenses.record(step, status_reason=None if routed else decision.reason)
        expense = replace(
            expense,
            status=step.to_status,
            unit_code=step.unit_code,
            status_reason=None if routed else decision.reason,
        )
        self._announce(uow, expense, step, step.detail)
        return DraftResult(DraftOutcome.CREATED, expense)

    def _flag_duplicate(
        self, uow: UnitOfWork, original: Expense, inbound_id: str, now: datetime
    ) -> DraftResult:
        if inbound_id not in original.duplicates:
            event = ExpenseEvent(
                original.id,
                now,
                SYSTEM_ACTOR.name,
                SYSTEM_ACTOR.role,
                ExpenseAction.DUPLICATE,
                original.status,
                original.status,
                original.unit_code,
                {"inbound_document_id": inbound_id},
            )
            uow.expenses.add_duplicate(original.id, inbound_id, event)
            original = replace(original, duplicates=(*original.duplicates, inbound_id))
            self._announce(uow, original, event, event.detail)
            log.warning(
                "inbound document %s repeats expense %s: flagged, not created", inbound_id, original.id
            )
        return DraftResult(DraftOutcome.DUPLICATE, original)

    def recover(self, *, batch_size: int = 50) -> int:
        """Create the expenses of valid received documents that have none (a stop between validation and
        draft creation). Safe beside live traffic (creation is idempotent).

        Returns:
            The number of documents handled.
        """
        done = 0
        while True:
            with self._store.unit_of_work(read_only=True) as uow:
                waiting = uow.expenses.awaiting_draft(limit=batch_size)
            progressed = False
            for inbound_id in waiting:
                result = self.create_from_inbound(inbound_id)
                if result.outcome is not DraftOutcome.SKIPPED:
                    progressed = True
                    done += 1
            if len(waiting) < batch_size or not progressed:
                return done

    # -- actions -----------------------------------------------------------------------------------------

    def act(self, expense_id: str, action: ExpenseAction, actor: Actor, data: ActionInput) -> Expense:
        """Take ``action`` on an expense as ``actor``.

        Returns:
            The expense after the action (unchanged for a repeat).

        Raises:
            DocumentNotFound: no such expense, or the actor may not see it.
            ExpenseActionForbidden: the actor sees it but may not take this action.
            InvalidExpenseRequest: a missing reason or question, unknown reason codes or unit.
            InvalidTransition: the action is not allowed in the expense's status.
        """
        if action in (
            ExpenseAction.CREATED,
            ExpenseAction.ROUTE,
            ExpenseAction.TRIAGE,
            ExpenseAction.DUPLICATE,
        ):
            raise ExpenseActionForbidden(f"{action.value!r} is taken by the gateway, not by people")
        now = self._clock.now()
        with self._store.unit_of_work() as uow:
            expense = uow.expenses.get(expense_id, for_update=True)
            visible = visible_units(actor, uow.units.all())
            if expense is None or (visible is not None and expense.unit_code not in visible):
                raise DocumentNotFound(expense_id, "expense")
            check_action(actor, action)
            detail, reason, target_unit = self._inputs(uow, expense, action, data)
            events = uow.expenses.events(expense_id)
            last = events[-1].action if events else None
            if action is ExpenseAction.ASSIGN and target_unit == expense.unit_code:
                return expense  # the same assignment again: nothing to do
            target = decide(expense.status, action, last)
            if target is None:
                return expense  # a repeat: same result, no second event
            response = self._respond(uow, expense, action, now, data=data, reason=reason)
            if response is not None:
                detail = {**(detail or {}), "response_document_id": response}
            event = ExpenseEvent(
                expense.id,
                now,
                actor.name,
                actor.role,
                action,
                expense.status,
                target,
                target_unit if action is ExpenseAction.ASSIGN else expense.unit_code,
                detail,
            )
            keeps_reason = action is ExpenseAction.ASSIGN and expense.status is ExpenseStatus.UNDER_QUERY
            status_reason = expense.status_reason if keeps_reason else reason
            uow.expenses.record(event, status_reason=status_reason)
            changed = replace(
                expense, status=target, unit_code=event.unit_code, status_reason=status_reason, updated_at=now
            )
            if (
                action is ExpenseAction.ASSIGN
                and expense.status is ExpenseStatus.TO_TRIAGE
                and data.remember_supplier
            ):
                self._remember(uow, expense, event, actor, now)
            self._announce(uow, changed, event, detail)
            uow.commit()
        log.info("expense %s: %s by %s -> %s", expense_id, action.value, actor.name, target.value)
        return changed

    def _inputs(
        self, uow: UnitOfWork, expense: Expense, action: ExpenseAction, data: ActionInput
    ) -> tuple[JSONObject | None, str | None, str | None]:
        """(audit detail, status reason, target unit) of an action, checking its parameters."""
        if action is ExpenseAction.ASSIGN:
            if not data.unit:
                raise InvalidExpenseRequest("assign needs the unit code")
            key = unit_key(data.unit)
            unit = uow.units.get(key)
            if unit is None or not unit.active:
                raise InvalidExpenseRequest(f"{data.unit!r} is not an active production unit")
            return {"unit": key, "from_unit": expense.unit_code}, None, key
        if action is ExpenseAction.REJECT:
            reason = _text(data.reason, "the reject reason", required=True)
            return {"reason": reason, "reason_codes": list(_reason_codes(data.reason_codes))}, reason, None
        if action is ExpenseAction.QUERY:
            question = _text(data.question, "the question", required=True)
            return (
                {"question": question, "reason_codes": list(_reason_codes(data.reason_codes))},
                question,
                None,
            )
        if action is ExpenseAction.ANSWER:
            answer = _text(data.reason, "the answer", required=False)
            return ({"answer": answer} if answer else None), None, None
        return None, None, None

    def _remember(
        self, uow: UnitOfWork, expense: Expense, event: ExpenseEvent, actor: Actor, now: datetime
    ) -> None:
        """First triage of a supplier: remember its unit for the next documents that name none."""
        current = uow.units.get_mapping(expense.supplier_key)
        if current is not None and current.valid_at(now):
            return
        assert event.unit_code is not None
        uow.units.put_mapping(
            SupplierMapping(
                expense.supplier_key, event.unit_code, actor.name, now, now + self._policy.mapping_ttl
            )
        )

    # -- side effects in the unit of work ----------------------------------------------------------------

    def _respond(
        self,
        uow: UnitOfWork,
        expense: Expense,
        action: ExpenseAction,
        at: datetime,
        *,
        data: ActionInput | None = None,
        reason: str | None = None,
    ) -> str | None:
        """Ask the InvoiceResponder for the Invoice Response this action reports (AB, AP, RE, UQ, PD)."""
        code = RESPONSE_CODES.get(action)
        if code is None:
            return None
        codes: tuple[str, ...] = ()
        if action in (ExpenseAction.REJECT, ExpenseAction.QUERY) and data is not None:
            codes = _reason_codes(data.reason_codes)
        request = InvoiceResponseRequest(
            inbound_document_id=expense.inbound_document_id,
            status=code,
            at=at,
            reason_codes=codes,
            note=reason,
        )
        return self._responder.respond(uow, request)

    def _announce(
        self, uow: UnitOfWork, expense: Expense, event: ExpenseEvent, detail: JSONObject | None
    ) -> None:
        url = self._policy.webhook_url
        if not url:
            return
        event_id = self._ids.new_id()
        payload: JSONObject = {
            "id": event_id,
            "type": WEBHOOK_TYPE_PREFIX + event.action.value,
            "created_at": event.at.isoformat(),
            "data": {
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
            },
        }
        uow.outbox.add(WebhookMessage(event_id, url, payload, event.at, expense.id))
