"""An expense refused by a unique constraint (its inbound document, or its duplicate key, stored already) on a
real database (SQLite and PostgreSQL): DuplicateMessage, nothing of the refused expense written (no row, no
event), and the unit of work goes on (the intake then reads the winner in it,
``expense_creation.ExpenseCreator.create``)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from store_builders import T0, content, created_event, expense_draft, inbound

from gateway.errors import DuplicateMessage
from gateway.model.expense import (
    INITIAL_STATUS,
    SYSTEM_ACTOR,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
)
from gateway.store import SQLDocumentStore


def _expense(inbound_document_id: str, number: str = "F-1") -> Expense:
    return expense_draft(inbound_document_id, number=number, status=INITIAL_STATUS, at=T0)


def _created(expense: Expense) -> ExpenseEvent:
    return created_event(expense)


def test_a_refused_expense_leaves_nothing_and_the_unit_of_work_goes_on(store: SQLDocumentStore) -> None:
    first_document, second_document, third_document = inbound(), inbound(), inbound()
    first = _expense(first_document.id)
    with store.unit_of_work() as uow:
        for document in (first_document, second_document, third_document):
            uow.inbound.add(document, content())
        uow.expenses.add(first, dedupe_key="k-1", event=_created(first))
        uow.commit()
    twin = _expense(second_document.id)  # another document, the same duplicate key
    again = _expense(first_document.id, "F-2")  # the same document again
    with store.unit_of_work() as uow:
        with pytest.raises(DuplicateMessage):
            uow.expenses.add(twin, dedupe_key="k-1", event=_created(twin))
        with pytest.raises(DuplicateMessage):
            uow.expenses.add(again, dedupe_key="k-2", event=_created(again))
        # Still usable: the winner is read, and a third expense is written and committed.
        winner = uow.expenses.find_duplicate("k-1")
        assert winner is not None
        assert winner.id == first.id
        third = _expense(third_document.id, "F-3")
        uow.expenses.add(third, dedupe_key="k-3", event=_created(third))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.get(twin.id) is None
        assert uow.expenses.get(again.id) is None
        assert uow.expenses.events(twin.id) == []
        assert uow.expenses.events(again.id) == []
        stored = uow.expenses.get_by_inbound(third_document.id)
        assert stored is not None
        assert stored.id == third.id
        assert [e.action for e in uow.expenses.events(third.id)] == [ExpenseAction.CREATED]
        assert uow.expenses.get_by_inbound(second_document.id) is None


def test_an_expense_stored_after_its_first_step_keeps_both_audit_entries_in_order(
    store: SQLDocumentStore,
) -> None:
    # The intake stores a received draft as it stands after routing, its CREATED and TRIAGE entries in one
    # executemany (``add(..., then=...)``): read back in that order on both databases, a refused one leaves
    # neither.
    document, other = inbound(), inbound()
    expense = _expense(document.id)
    step = ExpenseEvent(
        expense.id,
        T0,
        SYSTEM_ACTOR.name,
        SYSTEM_ACTOR.role,
        ExpenseAction.TRIAGE,
        INITIAL_STATUS,
        ExpenseStatus.TO_TRIAGE,
        None,
        {"rule": None, "reason": "no unit code"},
    )
    stored = replace(expense, status=ExpenseStatus.TO_TRIAGE, status_reason="no unit code")
    twin = _expense(other.id)
    with store.unit_of_work() as uow:
        uow.inbound.add(document, content())
        uow.inbound.add(other, content())
        uow.expenses.add(stored, dedupe_key="k-1", event=_created(expense), then=step)
        with pytest.raises(DuplicateMessage):
            uow.expenses.add(
                twin, dedupe_key="k-1", event=_created(twin), then=replace(step, expense_id=twin.id)
            )
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        got = uow.expenses.get(expense.id)
        assert got is not None
        assert (got.status, got.status_reason) == (ExpenseStatus.TO_TRIAGE, "no unit code")
        events = uow.expenses.events(expense.id)
        assert [(e.action, e.from_status, e.to_status, e.detail) for e in events] == [
            (ExpenseAction.CREATED, None, INITIAL_STATUS, None),
            (ExpenseAction.TRIAGE, INITIAL_STATUS, ExpenseStatus.TO_TRIAGE, step.detail),
        ]
        assert uow.expenses.events(twin.id) == []
