"""Contract: an expense found by its document's number (``ExpenseQuery.number``) on SQLite and PostgreSQL, as
``GET /v1/inbound?number=`` finds a received document: the whole number ignoring case, or a prefix; a member
finds only their units' expenses; the search walks the received documents' number index, not every
expense."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from store_builders import at, content, inbound

from gateway.model.document_number import NumberSearch
from gateway.model.expense import (
    SYSTEM_ACTOR,
    Actor,
    ActorRole,
    Expense,
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
)
from gateway.services.expense_queries import list_expenses
from gateway.services.ports import ExpenseQuery
from gateway.store import SQLDocumentStore

EIK, GRAAN = "PU04711", "PU00123"
MEMBER = Actor("mia", ActorRole.MEMBER, frozenset({EIK}))
SUPPORT = Actor("sam", ActorRole.SUPPORT)


def _store_expense(store: SQLDocumentStore, number: str, unit: str, minutes: float) -> str:
    """A received document numbered ``number`` and its expense in ``unit`` (created ``minutes`` after T0)."""
    document = replace(inbound(received_at=at(minutes)), document_number=number)
    expense = Expense(
        id=str(uuid.uuid4()),
        inbound_document_id=document.id,
        kind="invoice",
        status=ExpenseStatus.TO_APPROVE,
        unit_code=unit,
        supplier_key="0208:0123456749",
        supplier_name="Supplier",
        number=number,
        currency="EUR",
        amount=Decimal("12.10"),
        issue_date="2026-11-02",
        draft={"number": number},
        routing={},
        created_at=at(minutes),
        updated_at=at(minutes),
    )
    created = ExpenseEvent(
        expense.id,
        at(minutes),
        SYSTEM_ACTOR.name,
        SYSTEM_ACTOR.role,
        ExpenseAction.CREATED,
        None,
        expense.status,
    )
    with store.unit_of_work() as uow:
        uow.inbound.add(document, content())
        uow.expenses.add(expense, dedupe_key=uuid.uuid4().hex, event=created)
        uow.commit()
    return expense.id


def _numbers(store: SQLDocumentStore, search: str, actor: Actor = SUPPORT, **filters: Any) -> list[str]:
    query = ExpenseQuery(number=NumberSearch.parse(search), **filters)
    return [expense.number for expense in list_expenses(store, actor, query).items]


@pytest.fixture
def numbered(store: SQLDocumentStore) -> SQLDocumentStore:
    """INV-12 and Inv-123 in De Eik, INV-1234 in Het Graan, FAC-12 in De Eik; a received document numbered
    INV-12 without an expense (an Invoice Response, say)."""
    _store_expense(store, "INV-12", EIK, 1)
    _store_expense(store, "Inv-123", EIK, 2)
    _store_expense(store, "INV-1234", GRAAN, 3)
    _store_expense(store, "FAC-12", EIK, 4)
    with store.unit_of_work() as uow:
        uow.inbound.add(replace(inbound(received_at=at(5)), document_number="INV-12"), content())
        uow.commit()
    return store


def test_the_whole_number_is_found_whatever_its_case(numbered: SQLDocumentStore) -> None:
    assert _numbers(numbered, "inv-12") == ["INV-12"]
    assert _numbers(numbered, "INV-123") == ["Inv-123"]  # not INV-1234
    assert _numbers(numbered, "INV-1") == []
    assert _numbers(numbered, "%") == []  # a LIKE wildcard is a character like any other


def test_a_trailing_star_finds_the_numbers_starting_with_it_newest_first(numbered: SQLDocumentStore) -> None:
    assert _numbers(numbered, "inv-12*") == ["INV-1234", "Inv-123", "INV-12"]
    assert _numbers(numbered, "INV-123*") == ["INV-1234", "Inv-123"]
    assert _numbers(numbered, "in_-12*") == []  # "_" is no wildcard
    assert _numbers(numbered, "INV-12*", status=ExpenseStatus.APPROVED) == []  # and the other filters


def test_a_member_finds_only_their_units_expenses(numbered: SQLDocumentStore) -> None:
    assert _numbers(numbered, "INV-1234", MEMBER) == []  # Het Graan's: not found, as if it did not exist
    assert _numbers(numbered, "inv-12*", MEMBER) == ["Inv-123", "INV-12"]
    assert _numbers(numbered, "inv-12*", MEMBER, unit=GRAAN) == []


def test_a_number_search_pages_with_its_cursor(numbered: SQLDocumentStore) -> None:
    first = list_expenses(numbered, SUPPORT, ExpenseQuery(number=NumberSearch.parse("INV*"), limit=2))
    assert [e.number for e in first.items] == ["INV-1234", "Inv-123"]
    assert first.next_cursor is not None
    rest = ExpenseQuery(number=NumberSearch.parse("INV*"), limit=2, after=first.next_cursor)
    second = list_expenses(numbered, SUPPORT, rest)
    assert [e.number for e in second.items] == ["INV-12"]
    assert second.next_cursor is None


def _search_statement(
    store: SQLDocumentStore, search: str, units: frozenset[str] | None = None
) -> tuple[str, Any]:
    """Search ``search`` over the numbered expenses (``units``: as a member of these; None: support) finding
    INV-12, and return its SELECT."""
    selects: list[tuple[str, Any]] = []

    def capture(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "expenses" in statement:
            selects.append((statement, parameters))

    event.listen(store.engine, "after_cursor_execute", capture)
    try:
        with store.unit_of_work(read_only=True) as uow:
            query = ExpenseQuery(visible_units=units, number=NumberSearch.parse(search))
            found = uow.expenses.search(query).items
    finally:
        event.remove(store.engine, "after_cursor_execute", capture)
    assert "INV-12" in [e.number for e in found]
    [select] = [s for s in selects if "FROM expenses" in s[0]]
    return select


@pytest.mark.parametrize("search", ["inv-12", "INV-12*"])
def test_the_search_walks_the_number_index_on_sqlite(numbered: SQLDocumentStore, search: str) -> None:
    # The expense has no number key of its own: its received document's, indexed, finds the few documents
    # of the number. For support, each one's expense is then found by its unique inbound_document_id - no
    # walk of the expenses; for a member, SQLite (no planner statistics) walks the member's units' expenses
    # by their unit index and keeps those whose document is in the number's list: bounded by the units' size
    # (README, *Upgrading to migration 0015*), never a scan of every expense.
    if numbered.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's")
    for units, walks in ((None, "(inbound_document_id=?)"), (frozenset({EIK}), "(unit_key=?)")):
        sql, args = _search_statement(numbered, search, units)
        with numbered.engine.connect() as connection:
            plan = " | ".join(
                str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", args)
            )
        assert "ix_inbound_documents_document_number_key_received_at" in plan, plan
        assert walks in plan, plan
        assert "SCAN expenses" not in plan, plan


@pytest.mark.parametrize("search", ["inv-12", "INV-12*"])
def test_the_search_walks_the_number_index_on_postgresql(numbered: SQLDocumentStore, search: str) -> None:
    if numbered.engine.dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    sql, args = _search_statement(numbered, search, frozenset({EIK}))
    with numbered.engine.connect() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = " | ".join(str(row[0]) for row in connection.exec_driver_sql(f"EXPLAIN {sql}", args))
    assert "ix_inbound_documents_document_number_key" in plan, plan
    assert "Seq Scan on expenses" not in plan, plan
