"""The expense workflow: a valid received invoice or credit note becomes a routed draft
(``expense_intake``), and members and support move it through TRANSITIONS (``model/expense.py``).

Every change is one unit of work: the expense row, its audit entry, the webhook announcing it and the
Invoice Response reporting it to the supplier (through the :class:`InvoiceResponder` port) are committed
together or not at all. Every action is idempotent: repeating the last action answers the current state
and records nothing (so does a mark-paid retried after the settle of its partial payment, when it says the
same as the recorded one). An API client's Idempotency-Key goes further: a request repeating the action
and input its key first came with answers the current state whatever happened since (``expense_keys``): the
unit assigned to deactivated, the status moved on, as long as the client's role may still take the action
(checked first, before anything else) and the client still sees the expense. The key of a request that
changed nothing is remembered too (``ExpenseRepository.keep_action_key``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Final

from gateway.errors import (
    DocumentNotFound,
    ExpenseActionForbidden,
    InvalidExpenseRequest,
    InvalidPayment,
    InvalidTransition,
)
from gateway.model.expense import (
    RESPONSE_DOCUMENT_KEY,
    TRANSITIONS,
    Actor,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
    decide,
)
from gateway.model.free_text import check_free_text
from gateway.model.message import JSONObject
from gateway.model.partial_payment import (
    NOT_PARTIAL,
    PARTIALLY_PAID,
    PartialPayment,
    is_partial,
    parse_amount,
    same_payment,
)
from gateway.model.units import SupplierMapping, unit_key
from gateway.services.expense_access import as_seen, check_action, visible_to
from gateway.services.expense_draft_result import DraftResult
from gateway.services.expense_effects import ExpensePolicy, announce, reason_codes, respond
from gateway.services.expense_intake import ExpenseIntake, ValidatedInbound
from gateway.services.expense_keys import is_replay, request_fingerprint, with_key
from gateway.services.ports import Clock, DocumentStore, IDFactory, InvoiceResponder, UnitOfWork

log = logging.getLogger("gateway.expenses")

#: The most characters of a reason, a question or an answer (the Invoice Response carries it; the pages
#: set it as the textarea's maxlength).
MAX_ACTION_TEXT: Final = 2000
#: Actions only the gateway takes.
_SYSTEM_ACTIONS = frozenset(
    {ExpenseAction.CREATED, ExpenseAction.ROUTE, ExpenseAction.TRIAGE, ExpenseAction.DUPLICATE}
)


@dataclass(frozen=True, slots=True)
class ActionInput:
    """The parameters of an action (which ones matter depends on the action).

    Attributes:
        unit: ASSIGN: the unit code.
        reason: REJECT: why (required); ANSWER: the supplier's answer.
        reason_codes: REJECT / QUERY: OpenPeppol status reason codes (default ``OTH``).
        question: QUERY: the question to the supplier (required).
        remember_supplier: ASSIGN from triage: remember the supplier -> unit mapping.
        partial: MARK_PAID: paid in part (Invoice Response PD with PPD); ``reason`` is then the required
            explanation for the supplier.
        paid_amount: MARK_PAID, partial only: the amount paid in the invoice currency (optional; a decimal
            text as typed in a form, or a Decimal), above zero and below the amount due (BT-115).
    """

    unit: str | None = None
    reason: str | None = None
    reason_codes: tuple[str, ...] = ()
    question: str | None = None
    remember_supplier: bool = True
    partial: bool = False
    paid_amount: str | Decimal | None = None


def _text(value: str | None, what: str, *, required: bool) -> str | None:
    value = value.strip() if value else None
    if required and not value:
        raise InvalidExpenseRequest(f"{what} is required")
    if value and len(value) > MAX_ACTION_TEXT:
        raise InvalidExpenseRequest(f"{what} is longer than {MAX_ACTION_TEXT} characters")
    if value:  # the Invoice Response carries it to the supplier
        check_free_text(value, what)
    return value


def _partial_payment(expense: Expense, action: ExpenseAction, data: ActionInput) -> PartialPayment | None:
    """The partial payment a MARK_PAID records, checked against the amount due; None when paid in full.

    Raises:
        InvalidPayment: see ``PartialPayment.check``; an explanation or amount given for a full payment (it
            would otherwise be dropped without a word).
    """
    if action is not ExpenseAction.MARK_PAID:
        return None
    if not data.partial:
        if (data.reason and data.reason.strip()) or data.paid_amount not in (None, ""):
            raise InvalidPayment(NOT_PARTIAL)
        return None
    if isinstance(data.paid_amount, str) and not data.paid_amount.strip():
        paid = None
    else:
        paid = None if data.paid_amount is None else parse_amount(data.paid_amount)
    note = (data.reason or "").strip()
    payment = PartialPayment(note, paid)
    payment.check(expense.amount)
    return payment


def _recorded_payment(events: Sequence[ExpenseEvent]) -> ExpenseEvent | None:
    """The expense's MARK_PAID entry, None before it is paid (``events`` oldest first)."""
    return next((e for e in reversed(events) if e.action is ExpenseAction.MARK_PAID), None)


def _says_the_same(
    events: Sequence[ExpenseEvent], action: ExpenseAction, payment: PartialPayment | None
) -> bool:
    """True when a MARK_PAID records the payment the expense's MARK_PAID entry records (``same_payment``):
    a retry of it, a repeat even after the settle recorded on top of it (``model.expense.is_repeat``)."""
    if action is not ExpenseAction.MARK_PAID:
        return False
    paid = _recorded_payment(events)
    return paid is not None and same_payment(paid.detail, payment)


def _normalised(action: ExpenseAction, detail: JSONObject | None, data: ActionInput) -> JSONObject | None:
    """What an Idempotency-Key's fingerprint covers besides the action: its checked input (``detail``
    before any Invoice Response is named in it), the unit an assignment came from left out (it moves), an
    amount paid by value (600 is 600.00, as ``same_payment`` compares it)."""
    if action is ExpenseAction.ASSIGN and detail is not None:
        return {"unit": detail["unit"], "remember_supplier": data.remember_supplier}
    paid = (detail or {}).get("paid_amount")
    if action is ExpenseAction.MARK_PAID and isinstance(paid, str):
        return {**(detail or {}), "paid_amount": f"{Decimal(paid).normalize():f}"}
    return detail


def _inputs(
    expense: Expense, action: ExpenseAction, data: ActionInput
) -> tuple[JSONObject | None, str | None, str | None]:
    """(audit detail, status reason, target unit) of an action, checking its parameters by themselves (an
    assignment's unit is checked against the stored units by ``_check_unit``).

    Raises:
        InvalidExpenseRequest: a missing reason, question or unit, a text ``check_free_text`` refuses,
            unknown reason codes.
    """
    if action is ExpenseAction.ASSIGN:
        if not data.unit:
            raise InvalidExpenseRequest("assign needs the unit code")
        key = unit_key(data.unit)
        return {"unit": key, "from_unit": expense.unit_code}, None, key
    if action is ExpenseAction.REJECT:
        reason = _text(data.reason, "the reject reason", required=True)
        return {"reason": reason, "reason_codes": list(reason_codes(data.reason_codes))}, reason, None
    if action is ExpenseAction.QUERY:
        question = _text(data.question, "the question", required=True)
        return (
            {"question": question, "reason_codes": list(reason_codes(data.reason_codes))},
            question,
            None,
        )
    if action is ExpenseAction.ANSWER:
        answer = _text(data.reason, "the answer", required=False)
        return ({"answer": answer} if answer else None), None, None
    return None, None, None


def _check_unit(uow: UnitOfWork, key: str, given: str | None) -> None:
    """Refuse to assign to a unit that is not an active production unit (any more).

    Raises:
        InvalidExpenseRequest: naming the unit as ``given``.
    """
    unit = uow.units.get(key)
    if unit is None or not unit.active:
        raise InvalidExpenseRequest(f"{given!r} is not an active production unit")


def _check_settle(expense: Expense, events: Sequence[ExpenseEvent]) -> None:
    """Refuse to settle an expense whose payment was not partial (a full payment has nothing left).

    Args:
        events: the expense's events, oldest first.

    Raises:
        InvalidTransition: the expense's MARK_PAID was a full payment.
    """
    paid = _recorded_payment(events)
    if paid is None or not is_partial(paid.detail):
        raise InvalidTransition(expense.status, ExpenseAction.SETTLE)


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
        self._intake = ExpenseIntake(
            store=store, clock=clock, ids=ids, responder=responder, policy=self._policy
        )

    # -- creation ----------------------------------------------------------------------------------------

    def create_from_inbound(self, inbound_document_id: str, body: bytes | None = None) -> DraftResult:
        """Build, route and store the expense of a valid received document (see ``ExpenseIntake``)."""
        return self._intake.create_from_inbound(inbound_document_id, body)

    def draft_validated(
        self, uow: UnitOfWork, inbound_document_id: str, validated: ValidatedInbound
    ) -> DraftResult:
        """The same inside the receive path's unit of work recording the verdict (see ``ExpenseIntake``)."""
        return self._intake.draft_validated(uow, inbound_document_id, validated)

    def recover(
        self, *, batch_size: int = 50, received_since: datetime | None = None, retry_given_up: bool = False
    ) -> int:
        """Create the expenses of valid received documents that have none, of those received since
        ``received_since`` if given; ``retry_given_up`` tries the documents given up before once more (see
        ``ExpenseIntake``)."""
        return self._intake.recover(
            batch_size=batch_size, received_since=received_since, retry_given_up=retry_given_up
        )

    # -- actions -----------------------------------------------------------------------------------------

    def act(
        self,
        expense_id: str,
        action: ExpenseAction,
        actor: Actor,
        data: ActionInput,
        *,
        idempotency_key: str | None = None,
    ) -> Expense:
        """Take ``action`` on an expense as ``actor``.

        Args:
            idempotency_key: the API client's Idempotency-Key, scoped to the client (``actor.name``) and
                the expense: recorded in the action's audit detail (or, for a request that changed
                nothing, kept by ``keep_action_key``); the same key with the same action and input again
                is a replay (the current state, nothing recorded or sent) whatever happened since: it is
                looked up once the actor's role is known to allow the action (checked first, key or not:
                a role that may not act learns nothing of the input's checks), the actor to see the
                expense and the input to pass its own checks, before the checks of what may have changed
                (the unit assigned to, the status). None: repeats are recognised as ``decide`` does.

        Returns:
            The expense after the action (unchanged for a repeat or a replay).

        Raises:
            DocumentNotFound: no such expense, or the actor may not see it.
            ExpenseActionForbidden: the actor's role may not take this action (whatever the expense, the
                input and the key).
            InvalidExpenseRequest: a missing reason or question, a text with no visible character or a
                control character, unknown reason codes or unit; ``InvalidPayment`` for a partial payment
                without explanation or with an amount not strictly between zero and the amount due.
            InvalidTransition: the action is not allowed in the expense's status (SETTLE: the expense
                was not paid in part).
            IdempotencyConflict: ``idempotency_key`` came with another action or input on this expense.
        """
        if action in _SYSTEM_ACTIONS:
            raise ExpenseActionForbidden(f"{action.value!r} is taken by the gateway, not by people")
        check_action(actor, action)  # first: a role that may not act learns nothing of the rest
        now = self._clock.now()
        with self._store.unit_of_work() as uow:
            expense = uow.expenses.get(expense_id, for_update=True)
            visible = visible_to(uow, actor)
            if expense is None or (visible is not None and expense.unit_code not in visible):
                raise DocumentNotFound(expense_id, "expense")
            # The input's own checks: they read nothing that changes, so a replay passes them as it did.
            detail, reason, target_unit = _inputs(expense, action, data)
            payment = _partial_payment(expense, action, data)
            if payment is not None:
                detail, reason = payment.detail(expense.currency), payment.note
            events = uow.expenses.events(expense_id)
            keyed = None  # (key, fingerprint) of a request with an Idempotency-Key
            if idempotency_key is not None:
                keyed = (idempotency_key, request_fingerprint(action, _normalised(action, detail, data)))
                # Before the checks of what may have changed since the request (the unit, the status): a
                # replay answers the current state whatever they say now.
                kept = partial(uow.expenses.action_key, expense.id, actor.name, idempotency_key)
                if is_replay(events, actor.name, *keyed, kept=kept):
                    return as_seen(uow, expense, visible)  # a replay: same result, nothing recorded or sent
            if target_unit is not None:
                _check_unit(uow, target_unit, data.unit)
            # The last action taken on the expense (a flagged duplicate is no action on it).
            last = next(
                (e.action for e in reversed(events) if e.action is not ExpenseAction.DUPLICATE),
                None,
            )
            if (
                action is ExpenseAction.ASSIGN
                and target_unit == expense.unit_code
                and (expense.status, action) in TRANSITIONS
            ):
                return self._unchanged(uow, expense, visible, actor, keyed, now)  # the same assignment
            same = _says_the_same(events, action, payment)
            target = decide(expense.status, action, last, says_the_same=same)
            if target is None:
                return self._unchanged(uow, expense, visible, actor, keyed, now)  # a repeat: no new event
            if action is ExpenseAction.SETTLE:
                _check_settle(expense, events)
            codes = (
                reason_codes(data.reason_codes)
                if action in (ExpenseAction.REJECT, ExpenseAction.QUERY)
                else ()
            )
            note = reason
            if payment is not None:  # PD + PPD + the text (PEPPOL-T111-R004/R005)
                codes, note = (PARTIALLY_PAID,), payment.response_text(expense.amount, expense.currency)
            response = respond(self._responder, uow, expense, action, target, now, codes=codes, note=note)
            if response is not None:
                detail = {**(detail or {}), RESPONSE_DOCUMENT_KEY: response}
            # The audit detail holds the client's key; the webhook's (``detail``) leaves it out.
            recorded = detail if keyed is None else with_key(detail, *keyed)
            event = ExpenseEvent(
                expense.id,
                now,
                actor.name,
                actor.role,
                action,
                expense.status,
                target,
                target_unit if action is ExpenseAction.ASSIGN else expense.unit_code,
                recorded,
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
            announce(uow, self._ids, self._policy.webhook_url, changed, event, detail)
            seen = as_seen(uow, changed, visible)
            uow.commit()
        log.info("expense %s: %s by %s -> %s", expense_id, action.value, actor.name, target.value)
        return seen

    @staticmethod
    def _unchanged(
        uow: UnitOfWork,
        expense: Expense,
        visible: frozenset[str] | None,
        actor: Actor,
        keyed: tuple[str, str] | None,
        now: datetime,
    ) -> Expense:
        """The answer to a request that changes nothing (the expense as the actor sees it); its
        Idempotency-Key, if any, is kept with the request's fingerprint (no audit entry to hold it), so that
        its retry is a replay and the key with another request a conflict, as for a recorded action."""
        seen = as_seen(uow, expense, visible)
        if keyed is not None:
            uow.expenses.keep_action_key(expense.id, actor.name, *keyed, now)
            uow.commit()
        return seen

    def _remember(
        self, uow: UnitOfWork, expense: Expense, event: ExpenseEvent, actor: Actor, now: datetime
    ) -> None:
        """A supplier's triage: remember its unit for the next documents that name none, unless a mapping in
        force names an active unit (the first triage's choice stands until it expires). One naming a unit
        since deactivated is replaced: it sent this document to triage, and would send every later one."""
        current = uow.units.get_mapping(expense.supplier_key)
        if current is not None and current.valid_at(now):
            mapped = uow.units.get(current.unit_code)
            if mapped is not None and mapped.active:
                return
        assert event.unit_code is not None
        uow.units.put_mapping(
            SupplierMapping(
                expense.supplier_key, event.unit_code, actor.name, now, now + self._policy.mapping_ttl
            )
        )

    # -- side effects in the unit of work ----------------------------------------------------------------
