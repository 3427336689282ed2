"""A received invoice whose number (BT-1) is longer than an expense's ``number`` column (200 characters,
``MAX_DOCUMENT_NUMBER``) still becomes an expense, on SQLite and PostgreSQL (whose ``varchar(200)`` refused
the whole row: the document was kept, its expense lost): the number stored as the received document's is,
stripped and cut; a credit note naming the whole number credits it; the search finds it."""

from __future__ import annotations

from typing import Any

from gateway.model.document_number import MAX_DOCUMENT_NUMBER
from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)
from tests.integration.test_expense_cycle import setup_units

LONG = "INV-" + "0123456789" * 30  # 304 characters


def _invoices(app: ExpenseApp, engine: ValidationEngine, *numbers: str) -> dict[str, str]:
    """Receive an invoice of each number, in order; the whole number each expense's draft keeps -> its id."""
    for number in numbers:
        ubl = supplier_document(
            engine, "be-domestic-mixed-rates.json", number=number, buyer_reference="PU-04711"
        )
        assert deliver(app.client, ubl).status_code == 200
    by_whole = {}
    for item in app.client.get("/v1/expenses", headers=auth("support")).json()["items"]:
        by_whole[app.client.get(item["url"], headers=auth("support")).json()["draft"]["number"]] = item["id"]
    return by_whole


def _credited(app: ExpenseApp, engine: ValidationEngine, name: str, number: str) -> dict[str, Any]:
    """Receive credit note ``name`` crediting invoice ``number`` (BT-25); its expense as listed."""
    credit = supplier_document(
        engine,
        "credit-note.json",
        number=name,
        buyer_reference="PU-04711",
        preceding_invoices=[{"number": number, "issue_date": "2026-11-02"}],
    )
    assert deliver(app.client, credit, credit=True).status_code == 200
    search = {"number": name.lower()}
    [found] = app.client.get("/v1/expenses", params=search, headers=auth("support")).json()["items"]
    assert found["kind"] == "credit_note"
    return dict(found)


def test_an_invoice_numbered_past_the_column_becomes_an_expense_its_credit_note_credits(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    by_whole = _invoices(app, validation_engine, LONG)
    listed = app.client.get("/v1/expenses", headers=auth("support")).json()["items"]
    assert [item["number"] for item in listed] == [LONG[:MAX_DOCUMENT_NUMBER]]
    assert _credited(app, validation_engine, "CN-LONG", LONG)["credited_expense_id"] == by_whole[LONG]
    by_prefix = app.client.get(
        "/v1/expenses", params={"number": LONG[:MAX_DOCUMENT_NUMBER] + "*"}, headers=auth("support")
    ).json()["items"]
    assert [item["id"] for item in by_prefix] == [by_whole[LONG]]


def test_credit_notes_tell_apart_two_invoices_that_differ_past_the_cut(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    first, second = LONG + "A", LONG + "B"  # the same stored number, two expenses (the duplicate key differs)
    by_whole = _invoices(app, validation_engine, first, second)
    assert set(by_whole) == {first, second}
    for name, credited in (("CN-B", second), ("CN-A", first)):  # the newer invoice's first
        assert _credited(app, validation_engine, name, credited)["credited_expense_id"] == by_whole[credited]


def test_a_credit_note_naming_two_hundred_characters_credits_that_invoice_not_a_longer_one(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    exact = LONG[:MAX_DOCUMENT_NUMBER]
    by_whole = _invoices(app, validation_engine, exact + "X", exact)  # the longer one, stored alike, first
    assert _credited(app, validation_engine, "CN-EXACT", exact)["credited_expense_id"] == by_whole[exact]
