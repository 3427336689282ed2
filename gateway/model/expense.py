"""Expenses: the approval workflow of a received supplier invoice or credit note as one TRANSITIONS table
(like ``model/message.py``), the repeat rule that makes every action idempotent, and the records the store
hands to services (the expense with its draft, its audit trail).

The Invoice Response each transition reports to the supplier (Peppol BIS Invoice Response 3, UNCL 4343
subset, bis-billing.md §9) is in RESPONSE_CODES; the workflow asks the InvoiceResponder port to send it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from gateway.errors import InvalidTransition
from gateway.model.message import JSONObject


class ExpenseStatus(StrEnum):
    """Where an expense stands. Values are what the API and the database show."""

    RECEIVED = "received"
    """The draft was built from a valid received document; routing follows in the same transaction."""
    TO_TRIAGE = "to_triage"
    """No production unit could be chosen (no hint, unknown code, conflicting hints): support decides."""
    TO_APPROVE = "to_approve"
    """Assigned to a production unit; waits for one of its members."""
    UNDER_QUERY = "under_query"
    """A member asked the supplier a question (Invoice Response UQ); waits for the answer."""
    APPROVED = "approved"
    """Accepted for payment (Invoice Response AP)."""
    REJECTED = "rejected"
    """Rejected with a reason (Invoice Response RE, final: the supplier must issue a credit note)."""
    PAID = "paid"
    """Paid, in full or in part (Invoice Response PD, with PPD when partial; final)."""

    @property
    def is_final(self) -> bool:
        """True when no action moves the expense to another status any more, and no Invoice Response can
        follow (RE and PD are final in the T111 order). Settling a partial payment (``SETTLE``) stays in
        PAID and sends nothing."""
        return self in (ExpenseStatus.REJECTED, ExpenseStatus.PAID)


class ExpenseAction(StrEnum):
    """What happens to an expense; each action names a row family in TRANSITIONS."""

    CREATED = "created"
    """The draft was created in INITIAL_STATUS (not a transition)."""
    ROUTE = "route"
    """Routing chose a production unit."""
    TRIAGE = "triage"
    """Routing chose none: the expense goes to support's triage queue."""
    ASSIGN = "assign"
    """Support assigns (from triage) or reassigns (waiting for approval or under query) to a unit."""
    APPROVE = "approve"
    REJECT = "reject"
    QUERY = "query"
    """A member asks the supplier a question; the expense halts until ``answer``."""
    ANSWER = "answer"
    """The supplier's answer was received (recorded by a member or support); approval resumes."""
    MARK_PAID = "mark-paid"
    """Paid in full, or in part with an explanation (``model/partial_payment.py``): Invoice Response PD."""
    SETTLE = "settle"
    """The rest of a partially paid invoice was paid: recorded on the expense only. PD is final, so the
    supplier heard "paid partially" and gets no second PD (the workflow allows it only after a partial
    payment)."""
    DUPLICATE = "duplicate"
    """The same supplier, number and amount arrived again: recorded on the expense, no transition."""


INITIAL_STATUS: Final = ExpenseStatus.RECEIVED

_S = ExpenseStatus
_A = ExpenseAction

# The whole life cycle. Anything not listed (and not a repeat, see decide()) is refused with
# InvalidTransition: a stale click can never move a paid expense back.
TRANSITIONS: Final[Mapping[tuple[ExpenseStatus, ExpenseAction], ExpenseStatus]] = {
    (_S.RECEIVED, _A.ROUTE): _S.TO_APPROVE,
    (_S.RECEIVED, _A.TRIAGE): _S.TO_TRIAGE,
    (_S.TO_TRIAGE, _A.ASSIGN): _S.TO_APPROVE,
    # Reassignment by support keeps the approval state (a query stays open across units).
    (_S.TO_APPROVE, _A.ASSIGN): _S.TO_APPROVE,
    (_S.UNDER_QUERY, _A.ASSIGN): _S.UNDER_QUERY,
    (_S.TO_APPROVE, _A.APPROVE): _S.APPROVED,
    (_S.TO_APPROVE, _A.REJECT): _S.REJECTED,
    (_S.TO_APPROVE, _A.QUERY): _S.UNDER_QUERY,
    (_S.UNDER_QUERY, _A.ANSWER): _S.TO_APPROVE,
    # Invoice Response 3 order: a query may end in a rejection without an answer (UQ -> RE is allowed).
    (_S.UNDER_QUERY, _A.REJECT): _S.REJECTED,
    (_S.APPROVED, _A.MARK_PAID): _S.PAID,
    # Internal only, no Invoice Response (not in RESPONSE_CODES); refused unless the payment was partial.
    (_S.PAID, _A.SETTLE): _S.PAID,
}

#: The Invoice Response code (UNCL 4343) the workflow sends for an action; AB only when the action brings
#: the expense to its first unit (``response_code``).
RESPONSE_CODES: Final[Mapping[ExpenseAction, str]] = {
    _A.CREATED: "AB",
    _A.APPROVE: "AP",
    _A.REJECT: "RE",
    _A.QUERY: "UQ",
    _A.MARK_PAID: "PD",
}
#: The acknowledgement: bis-billing.md §9 maps "received and routed to an activity" to AB.
ACKNOWLEDGEMENT: Final = RESPONSE_CODES[_A.CREATED]


def response_code(
    action: ExpenseAction, status: ExpenseStatus | None, *, reached: ExpenseStatus
) -> str | None:
    """The Invoice Response ``action`` reports when taken in ``status``; None when it reports none.

    AB says "received and routed to an activity" (bis-billing.md §9), so it goes when the expense first
    reaches a production unit, and only then: on creation when routing chose a unit (``reached``, the
    status creation and routing left the new expense in, is TO_APPROVE), otherwise when support assigns
    it from triage (``TO_TRIAGE`` is left only by that ASSIGN, so at most one AB per expense). A document in
    triage gets none until then (its deadline: ``model/first_response.py``); a reassignment is none (the
    supplier heard AB already, and after UQ an AB would go back in the T111 order).

    Args:
        action: the action taken.
        status: the status it was taken in (None for creation).
        reached: the status it left the expense in; decides creation's AB. Required, and by keyword: a
            creation that did not say where routing left the expense must not acknowledge a unit.
    """
    if action is _A.CREATED:
        return ACKNOWLEDGEMENT if reached is _S.TO_APPROVE else None
    if action is _A.ASSIGN:
        return ACKNOWLEDGEMENT if status is _S.TO_TRIAGE else None
    return RESPONSE_CODES.get(action)


#: The key of an action's audit detail that names the outbound document of its Invoice Response; absent
#: when none was queued (the status is not sent by configuration, the supplier has no Peppol id or does not
#: receive Invoice Responses, or the response failed the T111 rules).
RESPONSE_DOCUMENT_KEY: Final = "response_document_id"

#: OpenPeppol status reason codes (OPStatusReason) allowed with RE and UQ; PPD belongs to PD only
#: (PEPPOL-T111-R004/R005).
STATUS_REASONS: Final = frozenset(
    {"NON", "REF", "LEG", "REC", "QUA", "DEL", "PRI", "QTY", "ITM", "PAY", "UNR", "FIN", "OTH"}
)


def apply_action(status: ExpenseStatus, action: ExpenseAction) -> ExpenseStatus:
    """Return the status reached when ``action`` is taken in ``status``.

    Raises:
        InvalidTransition: the pair is not in TRANSITIONS.
    """
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(status, action) from None


def allowed_actions(status: ExpenseStatus) -> frozenset[ExpenseAction]:
    """The actions TRANSITIONS accepts in ``status`` (e.g. to show the buttons of an expense)."""
    return frozenset(action for (source, action) in TRANSITIONS if source is status)


#: An action recorded on top of another without moving the expense, and that other action: SETTLE records
#: the rest of the partial payment MARK_PAID recorded. A retry of the earlier request arriving after it (a
#: client's network retry of its mark-paid) is still a repeat of it when it says the same (``is_repeat``).
RECORDED_ON: Final[Mapping[ExpenseAction, ExpenseAction]] = {_A.SETTLE: _A.MARK_PAID}


def is_repeat(
    status: ExpenseStatus, action: ExpenseAction, last: ExpenseAction | None, *, says_the_same: bool = False
) -> bool:
    """True when ``action`` repeats the action that brought the expense into ``status``.

    A repeat is answered with the current state and records nothing (every action is idempotent: a
    double click or a client retry after a timeout is not an error and not a second event). ASSIGN is
    never a repeat here: whether the unit is the same is the caller's question.

    Right after it, an action is repeated whatever it says (the expense shows what was recorded). Once an
    action is recorded on top of it (RECORDED_ON: the settle of a partial payment), only a request saying
    what the recorded one said is its retry (``says_the_same``: the caller compares the request with the
    recorded entry); another is refused, as the payment it would change is settled.
    """
    if action is _A.ASSIGN:
        return False
    if last is not action and not (says_the_same and last is not None and RECORDED_ON.get(last) is action):
        return False
    return any(target is status for (_, a), target in TRANSITIONS.items() if a is action)


def decide(
    status: ExpenseStatus, action: ExpenseAction, last: ExpenseAction | None, *, says_the_same: bool = False
) -> ExpenseStatus | None:
    """The status ``action`` leads to, or None when it repeats the last action (nothing to do).

    Args:
        status: the current status.
        action: the action asked for.
        last: the action of the expense's latest audit entry.
        says_the_same: the request says what the expense's recorded entry of ``action`` said (see
            ``is_repeat``: asked only when another action was recorded on top of it).

    Raises:
        InvalidTransition: neither a transition nor a repeat.
    """
    if is_repeat(status, action, last, says_the_same=says_the_same):
        return None
    return apply_action(status, action)


class ActorRole(StrEnum):
    """Who acts on expenses (the API's roles seen by the workflow)."""

    MEMBER = "member"
    """Sees and acts only on the production units it belongs to."""
    SUPPORT = "support"
    """Triage, reassignment, payment; reads everything."""
    ADMIN = "admin"
    SYSTEM = "system"
    """The gateway itself (creation and routing)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal acting.

    Attributes:
        name: the API key's (later the person's) name, recorded in the audit trail.
        role: its role.
        units: unit keys its credentials carry (members); units whose member list names it count too.
    """

    name: str
    role: ActorRole
    units: frozenset[str] = frozenset()


SYSTEM_ACTOR: Final = Actor("gateway", ActorRole.SYSTEM)


@dataclass(frozen=True, slots=True)
class Expense:
    """An expense: the draft built from a received document and its workflow state.

    Attributes:
        id: UUID string.
        inbound_document_id: the received document (one expense per document).
        kind: ``invoice`` or ``credit_note``.
        status: workflow state.
        unit_code: the production unit key, None while in triage.
        supplier_key: the supplier's participant id key (duplicate detection, filters, mappings).
        supplier_name: BT-27.
        number: BT-1.
        currency: BT-5.
        amount: BT-115 amount due, negative for a credit note.
        issue_date: BT-2 (ISO date text).
        draft: the draft as JSON (supplier, dates, totals, VAT breakdown, lines, payment, attachments).
        routing: the routing decision as JSON (rule, reason, candidates).
        created_at: when the draft was created (aware UTC).
        updated_at: last change.
        credited_expense_id: for a credit note, the expense of the invoice it credits (BT-25), when known.
        duplicates: inbound document ids that repeated this expense (same supplier, number, amount).
        status_reason: the reject reason, the open question or the partial payment's explanation.
    """

    id: str
    inbound_document_id: str
    kind: str
    status: ExpenseStatus
    unit_code: str | None
    supplier_key: str
    supplier_name: str
    number: str
    currency: str
    amount: Decimal
    issue_date: str
    draft: JSONObject
    routing: JSONObject
    created_at: datetime
    updated_at: datetime
    credited_expense_id: str | None = None
    duplicates: tuple[str, ...] = ()
    status_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExpenseEvent:
    """One audit entry: who did what, when, from which state to which, and why.

    Attributes:
        expense_id: the expense.
        at: when (aware UTC).
        actor: the principal's name.
        role: the principal's role.
        action: what was done.
        from_status: None for the CREATED entry.
        to_status: the status after.
        unit_code: the unit after the action.
        detail: reason, reason codes, question, routing rule, response document id.
    """

    expense_id: str
    at: datetime
    actor: str
    role: ActorRole
    action: ExpenseAction
    from_status: ExpenseStatus | None
    to_status: ExpenseStatus
    unit_code: str | None = None
    detail: JSONObject | None = None


@dataclass(frozen=True, slots=True)
class SupplierAnswer:
    """Whether a person's action reached the supplier as an Invoice Response.

    Attributes:
        code: the Invoice Response code the action reports (AP, RE, UQ, PD; AB for an assignment out of
            triage).
        document_id: the outbound document carrying it; None when none was queued, so the supplier
            hears nothing through Peppol and must be told another way.
    """

    code: str
    document_id: str | None

    @property
    def sent(self) -> bool:
        """True when an Invoice Response was queued for the supplier."""
        return self.document_id is not None


def supplier_answer(event: ExpenseEvent) -> SupplierAnswer | None:
    """The Invoice Response ``event`` reports, sent or not; None for an action that reports none.

    Creation is left out: its AB is not kept on the audit entry (the entry is stored before the response
    is asked for). The AB of an assignment from triage is said only when it was queued: an acknowledgement
    the supplier did not get asks nothing of the person who assigned."""
    if event.action is ExpenseAction.CREATED:
        return None
    code = response_code(event.action, event.from_status, reached=event.to_status)
    if code is None:
        return None
    document = (event.detail or {}).get(RESPONSE_DOCUMENT_KEY)
    sent = document if isinstance(document, str) else None
    if code == ACKNOWLEDGEMENT and sent is None:
        return None
    return SupplierAnswer(code, sent)
