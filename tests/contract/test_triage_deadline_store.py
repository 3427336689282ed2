"""Contract: the triage queue's first-response deadlines on SQLite and PostgreSQL. The deadline counts from
the document's receipt (not from its draft, which the start-up recovery may make later); the queue lists
oldest first (the most urgent first) and pages with its cursor; the overdue ones are counted in one query."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from store_builders import received_expense

from gateway.model.expense import Actor, ActorRole
from gateway.model.expense import ExpenseStatus as S
from gateway.model.first_response import first_response_due, overdue_if_received_before
from gateway.services.expense_queries import get_expense, list_expenses
from gateway.services.ports import ExpenseQuery
from gateway.store import SQLDocumentStore

SUPPORT = Actor("sam", ActorRole.SUPPORT)
#: Monday 7 December 2026, 10:00 in Brussels.
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _expense(store: SQLDocumentStore, number: str, status: S, received: datetime, drafted: datetime) -> str:
    return received_expense(store, status=status, received=received, drafted=drafted, number=number)


def _queue(store: SQLDocumentStore) -> dict[str, str]:
    """Three in triage (one drafted two days after its receipt), one routed: numbers -> ids."""
    return {
        "OLD": _expense(store, "OLD", S.TO_TRIAGE, MONDAY - timedelta(days=10), MONDAY - timedelta(days=10)),
        "LATE": _expense(store, "LATE", S.TO_TRIAGE, MONDAY - timedelta(days=6), MONDAY - timedelta(days=4)),
        "NEW": _expense(store, "NEW", S.TO_TRIAGE, MONDAY, MONDAY),
        "ROUTED": _expense(store, "ROUTED", S.TO_APPROVE, MONDAY - timedelta(days=20), MONDAY),
    }


def test_the_listing_gives_each_triaged_expense_its_deadline_from_receipt(store: SQLDocumentStore) -> None:
    ids = _queue(store)
    listing = list_expenses(store, SUPPORT, ExpenseQuery(limit=10))
    assert listing.first_response_due == {
        ids["OLD"]: first_response_due(MONDAY - timedelta(days=10)),
        ids["LATE"]: first_response_due(MONDAY - timedelta(days=6)),  # received, not drafted
        ids["NEW"]: first_response_due(MONDAY),
    }  # the routed one has none to wait for: its AB went at receipt
    detail = get_expense(store, SUPPORT, ids["LATE"])
    assert detail.first_response_due == first_response_due(MONDAY - timedelta(days=6))
    assert get_expense(store, SUPPORT, ids["ROUTED"]).first_response_due is None


def test_the_queue_lists_oldest_first_and_pages(store: SQLDocumentStore) -> None:
    _queue(store)
    query = ExpenseQuery(status=S.TO_TRIAGE, oldest_first=True, limit=2)
    first = list_expenses(store, SUPPORT, query)
    assert [e.number for e in first.items] == ["OLD", "LATE"]
    assert first.next_cursor is not None
    second = list_expenses(store, SUPPORT, replace(query, after=first.next_cursor))
    assert [e.number for e in second.items] == ["NEW"]
    assert second.next_cursor is None
    newest = list_expenses(store, SUPPORT, ExpenseQuery(status=S.TO_TRIAGE, limit=10))
    assert [e.number for e in newest.items] == ["NEW", "LATE", "OLD"]  # the default is unchanged


def test_the_overdue_triaged_expenses_are_counted_from_receipt(store: SQLDocumentStore) -> None:
    _queue(store)
    with store.unit_of_work(read_only=True) as uow:
        # On Monday, those received 10 and 6 days before are overdue; the routed one is not in triage.
        assert uow.expenses.count_in_triage_received_before(overdue_if_received_before(MONDAY)) == 2
        assert uow.expenses.count_in_triage_received_before(MONDAY - timedelta(days=8)) == 1
        assert uow.expenses.count_in_triage_received_before(MONDAY - timedelta(days=30)) == 0


def test_the_oldest_first_cursor_keeps_expenses_drafted_at_the_same_instant(store: SQLDocumentStore) -> None:
    """Review 29: expenses of the same ``created_at`` (a batch drafted at start-up) page by id: none is
    skipped or listed twice across pages, and a document received exactly at the cutoff is not counted."""
    at = MONDAY - timedelta(days=2)
    ids = sorted(_expense(store, f"TIE-{n}", S.TO_TRIAGE, at, at) for n in range(3))
    query = ExpenseQuery(status=S.TO_TRIAGE, oldest_first=True, limit=1)
    seen: list[str] = []
    page = list_expenses(store, SUPPORT, query)
    while True:
        seen.extend(e.id for e in page.items)
        if page.next_cursor is None:
            break
        page = list_expenses(store, SUPPORT, replace(query, after=page.next_cursor))
    assert seen == ids
    with store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.count_in_triage_received_before(at) == 0  # before, not at
        assert uow.expenses.count_in_triage_received_before(at + timedelta(microseconds=1)) == 3


def test_the_queue_lists_by_receipt_so_a_document_drafted_late_leads_it(store: SQLDocumentStore) -> None:
    """Review 29: a document whose draft was made days after its receipt (given up on an unexpected error,
    drafted by the start-up recovery after a fix) has the earliest deadline of the queue: oldest first is by
    receipt, the deadline's start, not by the draft's creation, so it leads page one."""
    _queue(store)
    stuck = _expense(store, "STUCK", S.TO_TRIAGE, MONDAY - timedelta(days=12), MONDAY + timedelta(hours=1))
    query = ExpenseQuery(status=S.TO_TRIAGE, oldest_first=True, limit=2)
    first = list_expenses(store, SUPPORT, query)
    assert [e.number for e in first.items] == ["STUCK", "OLD"]
    assert first.first_response_due[stuck] == first_response_due(MONDAY - timedelta(days=12))
    assert first.next_cursor is not None
    second = list_expenses(store, SUPPORT, replace(query, after=first.next_cursor))
    assert [e.number for e in second.items] == ["LATE", "NEW"]
    assert second.next_cursor is None
