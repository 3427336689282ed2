"""Creating the expense of a received document from its draft values, in the caller's unit of work:
routing, the stored row with its two audit entries (CREATED, then ROUTE or TRIAGE), the Invoice Response
(AB when routed to a unit) and the webhooks - or, when the document or its twin (same duplicate key) has
its expense already, that expense (a twin flagged as a duplicate on it)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from gateway.errors import DuplicateMessage
from gateway.model.document_number import stored_number
from gateway.model.expense import (
    INITIAL_STATUS,
    SYSTEM_ACTOR,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
)
from gateway.model.units import unit_prefix
from gateway.services.expense_draft_result import DraftOutcome, DraftResult
from gateway.services.expense_drafts import DraftValues
from gateway.services.expense_effects import ExpensePolicy, announce, respond
from gateway.services.ports import Clock, IDFactory, InvoiceResponder, UnitOfWork
from gateway.services.routing import RoutedDocument, RoutingDecision, RoutingOutcome, named_codes, route

log = logging.getLogger("gateway.expenses")


def _stored(number: str) -> str:
    """An expense's ``number`` as stored, as its received document's is (``stored_number``: stripped, cut to
    the column's ``MAX_DOCUMENT_NUMBER`` characters; PostgreSQL refused a longer one, and the document's
    expense with it). The duplicate key keeps the whole number (``DraftValues.dedupe_key``): two documents
    that differ past the cut are two expenses, which a credit note tells apart by the whole number
    (``find_invoice``)."""
    return stored_number(number) or number


class ExpenseCreator:
    """Stores the expense of a routed draft (or finds it or its twin). Holds no state of its own."""

    def __init__(
        self, *, clock: Clock, ids: IDFactory, responder: InvoiceResponder, policy: ExpensePolicy
    ) -> None:
        self._clock = clock
        self._ids = ids
        self._responder = responder
        self._policy = policy

    def create(
        self,
        uow: UnitOfWork,
        inbound_id: str,
        document: RoutedDocument,
        values: DraftValues,
        *,
        look_first: bool = True,
    ) -> DraftResult:
        """Store the draft, or find it or its twin. ``look_first=False`` skips the two look-ups before the
        insert: the unique keys refuse an existing expense or twin, and the DuplicateMessage branch below
        finds it and answers as the look-ups would have."""
        now = self._clock.now()
        if look_first:
            existing = uow.expenses.get_by_inbound(inbound_id)
            if existing is not None:
                return DraftResult(DraftOutcome.EXISTING, existing)
            original = uow.expenses.find_duplicate(values.dedupe_key)
            if original is not None:
                return self._flag_duplicate(uow, original, inbound_id, now)
        # Only the units the document names (and the mapping's) are loaded; all prefixes are (cheap).
        prefixes = {unit_prefix(key) for key in uow.units.all_keys()}
        mapping = uow.units.get_mapping(values.supplier_key)
        named = {key for *_, key in named_codes(document, prefixes=prefixes, rules=self._policy.rules)}
        if mapping is not None:
            named.add(mapping.unit_code)
        units = uow.units.get_many(named)
        decision = route(
            document, units=units, mapping=mapping, rules=self._policy.rules, at=now, prefixes=prefixes
        )
        if values.doubt is not None:  # a seller or buyer in doubt: support decides
            decision = RoutingDecision(RoutingOutcome.TRIAGE, values.doubt, hints=decision.hints)
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
            number=_stored(values.number),
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
        # Stored as it stands after routing (one row, both audit entries): the same rows as inserting it
        # new and then recording the step, two statements fewer under the write lock.
        stored = replace(
            expense,
            status=step.to_status,
            unit_code=step.unit_code,
            status_reason=None if routed else decision.reason,
        )
        try:
            uow.expenses.add(stored, dedupe_key=values.dedupe_key, event=created, then=step)
        except DuplicateMessage:
            # This document or its twin is stored already (by a concurrent unit of work, or earlier when not
            # looked up first).
            winner = uow.expenses.get_by_inbound(inbound_id)
            if winner is not None:
                return DraftResult(DraftOutcome.EXISTING, winner)
            twin = uow.expenses.find_duplicate(values.dedupe_key)
            if twin is None:
                raise
            return self._flag_duplicate(uow, twin, inbound_id, now)
        # The Invoice Response and the webhooks as before: CREATED (the new expense), then the step. Whether
        # AB goes (routed to a unit, not left in triage) is the model's rule (``response_code``).
        ab = respond(self._responder, uow, expense, ExpenseAction.CREATED, stored.status, now)
        announce(
            uow,
            self._ids,
            self._policy.webhook_url,
            expense,
            created,
            {"response_document_id": ab} if ab else None,
        )
        announce(uow, self._ids, self._policy.webhook_url, stored, step, step.detail)
        return DraftResult(DraftOutcome.CREATED, stored)

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
            try:
                uow.expenses.add_duplicate(original.id, inbound_id, event)
            except DuplicateMessage:  # a concurrent call flagged it first
                return DraftResult(DraftOutcome.DUPLICATE, original)
            original = replace(original, duplicates=(*original.duplicates, inbound_id))
            announce(uow, self._ids, self._policy.webhook_url, original, event, event.detail)
            log.warning(
                "inbound document %s repeats expense %s: flagged, not created", inbound_id, original.id
            )
        return DraftResult(DraftOutcome.DUPLICATE, original)
