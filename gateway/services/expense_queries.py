"""Read-side use cases of expenses, scoped by who asks: one expense with its audit trail, the listing, the
exact UBL and the embedded attachments, the board counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from gateway.errors import DocumentNotFound
from gateway.model.expense import Actor, Expense, ExpenseEvent, ExpenseStatus
from gateway.model.first_response import ResponseDue, first_response_due
from gateway.model.message import AS4MessageRecord, Direction, DocumentContent
from gateway.services.expense_access import as_seen, visible_to
from gateway.services.expense_drafts import attachment_bytes
from gateway.services.expense_keys import without_key
from gateway.services.ports import DocumentStore, ExpenseQuery, PageCursor, UnitOfWork
from gateway.ubl import read_ubl


@dataclass(frozen=True, slots=True)
class ExpenseDetail:
    """An expense, its audit trail and the received document's AS4 message id (the evidence).

    Attributes:
        expense: the expense.
        events: the audit trail, oldest first, as readers see it (no client's Idempotency-Key:
            ``expense_keys.without_key``).
        as4_message_id: the AS4 message that carried the document.
        first_response_due: in triage, when the supplier's first Invoice Response is due (None otherwise:
            it went when the expense reached its unit).
    """

    expense: Expense
    events: tuple[ExpenseEvent, ...]
    as4_message_id: str | None
    first_response_due: ResponseDue | None = None


@dataclass(frozen=True, slots=True)
class ExpenseListing:
    """One page of expenses, with the first-response deadline of those in triage.

    Attributes:
        items: the expenses, in the query's order.
        next_cursor: where the next page starts; None on the last page.
        first_response_due: by expense id, for each expense of the page in triage (``first_response``:
            counted from the document's receipt).
    """

    items: tuple[Expense, ...]
    next_cursor: PageCursor | None
    first_response_due: Mapping[str, ResponseDue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An embedded file of the received document (BT-125)."""

    content: bytes
    mime: str
    filename: str


def _visible(uow: UnitOfWork, actor: Actor, expense_id: str) -> Expense:
    expense = uow.expenses.get(expense_id)
    visible = visible_to(uow, actor)
    if expense is None or (visible is not None and expense.unit_code not in visible):
        raise DocumentNotFound(expense_id, "expense")  # another unit's expense does not exist for a member
    return as_seen(uow, expense, visible)


def get_expense(store: DocumentStore, actor: Actor, expense_id: str) -> ExpenseDetail:
    """One expense as ``actor`` may see it.

    Raises:
        DocumentNotFound: no such expense, or not visible to the actor.
    """
    with store.unit_of_work(read_only=True) as uow:
        expense = _visible(uow, actor, expense_id)
        events = uow.expenses.events(expense_id)
        inbound = uow.inbound.get(expense.inbound_document_id)
    due = None
    if inbound is not None and expense.status is ExpenseStatus.TO_TRIAGE:
        due = first_response_due(inbound.received_at)
    shown = tuple(without_key(event) for event in events)
    return ExpenseDetail(expense, shown, inbound.as4_message_id if inbound else None, due)


def list_expenses(store: DocumentStore, actor: Actor, query: ExpenseQuery) -> ExpenseListing:
    """One page of the expenses ``actor`` may see, newest first (or oldest, as ``query`` says), with the
    first-response deadline of those in triage (their documents' receipt times read in one query)."""
    with store.unit_of_work(read_only=True) as uow:
        visible = visible_to(uow, actor)
        page = uow.expenses.search(replace(query, visible_units=visible))
        triaged = [e.id for e in page.items if e.status is ExpenseStatus.TO_TRIAGE]
        received = uow.expenses.received_at(triaged)
        items = tuple(as_seen(uow, expense, visible) for expense in page.items)
    due = {expense_id: first_response_due(at) for expense_id, at in received.items()}
    return ExpenseListing(items, page.next_cursor, due)


def expense_counts(store: DocumentStore, actor: Actor) -> dict[ExpenseStatus, int]:
    """The actor's expenses per status (the board)."""
    with store.unit_of_work(read_only=True) as uow:
        return uow.expenses.count_by_status(visible_to(uow, actor))


def expense_content(store: DocumentStore, actor: Actor, expense_id: str) -> DocumentContent:
    """The received UBL of the expense, byte for byte, with its validation report.

    Raises:
        DocumentNotFound: no such expense (for this actor).
    """
    with store.unit_of_work(read_only=True) as uow:
        expense = _visible(uow, actor, expense_id)
        content = uow.inbound.get_content(expense.inbound_document_id)
    if content is None:
        raise DocumentNotFound(expense_id, "expense document")
    return content


def expense_ubl(store: DocumentStore, actor: Actor, expense_id: str) -> bytes:
    """The received UBL, byte for byte.

    Raises:
        DocumentNotFound: no such expense (for this actor).
    """
    return expense_content(store, actor, expense_id).body


def expense_attachment(store: DocumentStore, actor: Actor, expense_id: str, n: int) -> Attachment:
    """Attachment ``n`` (1-based, document order) of the expense's document, decoded.

    Raises:
        DocumentNotFound: no such expense, or no embedded file ``n``.
    """
    found = attachment_bytes(read_ubl(expense_ubl(store, actor, expense_id)), n)
    if found is None:
        raise DocumentNotFound(f"{expense_id}/attachments/{n}", "embedded attachment")
    return Attachment(*found)


def expense_evidence(store: DocumentStore, actor: Actor, expense_id: str) -> AS4MessageRecord:
    """The AS4 message that carried the expense's document, exactly as received, with the receipt we sent.

    Raises:
        DocumentNotFound: no such expense (for this actor), or its message is not stored.
    """
    with store.unit_of_work(read_only=True) as uow:
        expense = _visible(uow, actor, expense_id)
        inbound = uow.inbound.get(expense.inbound_document_id)
        record = uow.messages.get(inbound.as4_message_id, Direction.IN) if inbound is not None else None
    if record is None:
        raise DocumentNotFound(expense_id, "expense evidence")
    return record
