"""A received invoice whose number (BT-1) is longer than an expense's ``number`` column (200 characters,
``MAX_DOCUMENT_NUMBER``) still becomes an expense, on SQLite and PostgreSQL (whose ``varchar(200)`` refused
the whole row: the document was kept, its expense lost): the number stored as the received document's is,
stripped and cut; a credit note naming the whole number credits it; the search finds it."""

from __future__ import annotations

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


def test_an_invoice_numbered_past_the_column_becomes_an_expense_its_credit_note_credits(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    invoice = supplier_document(
        validation_engine, "be-domestic-mixed-rates.json", number=LONG, buyer_reference="PU-04711"
    )
    assert deliver(app.client, invoice).status_code == 200
    listed = app.client.get("/v1/expenses", headers=auth("support")).json()["items"]
    assert [item["number"] for item in listed] == [LONG[:MAX_DOCUMENT_NUMBER]]
    [expense] = listed
    credit = supplier_document(
        validation_engine,
        "credit-note.json",
        number="CN-LONG",
        buyer_reference="PU-04711",
        preceding_invoices=[{"number": LONG, "issue_date": "2026-11-02"}],
    )
    assert deliver(app.client, credit, credit=True).status_code == 200
    search = {"number": "cn-long"}
    found = app.client.get("/v1/expenses", params=search, headers=auth("support")).json()["items"]
    assert [(item["kind"], item["credited_expense_id"]) for item in found] == [("credit_note", expense["id"])]
    by_prefix = app.client.get(
        "/v1/expenses", params={"number": LONG[:MAX_DOCUMENT_NUMBER] + "*"}, headers=auth("support")
    ).json()["items"]
    assert [item["id"] for item in by_prefix] == [expense["id"]]


def test_credit_notes_tell_apart_two_invoices_that_differ_past_the_cut(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    first, second = LONG + "A", LONG + "B"  # the same stored number, two expenses (the duplicate key differs)
    for number in (first, second):
        ubl = supplier_document(
            validation_engine, "be-domestic-mixed-rates.json", number=number, buyer_reference="PU-04711"
        )
        assert deliver(app.client, ubl).status_code == 200
    invoices = app.client.get("/v1/expenses", headers=auth("support")).json()
    by_whole = {}
    for item in invoices["items"]:
        detail = app.client.get(item["url"], headers=auth("support")).json()
        by_whole[detail["draft"]["number"]] = item["id"]
    assert set(by_whole) == {first, second}
    for name, credited in (("CN-B", second), ("CN-A", first)):  # the newer invoice's first
        credit = supplier_document(
            validation_engine,
            "credit-note.json",
            number=name,
            buyer_reference="PU-04711",
            preceding_invoices=[{"number": credited, "issue_date": "2026-11-02"}],
        )
        assert deliver(app.client, credit, credit=True).status_code == 200
        search = {"number": name.lower()}
        [found] = app.client.get("/v1/expenses", params=search, headers=auth("support")).json()["items"]
        assert found["credited_expense_id"] == by_whole[credited], name


def test_a_credit_note_naming_two_hundred_characters_credits_that_invoice_not_a_longer_one(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    exact = LONG[:MAX_DOCUMENT_NUMBER]
    longer = exact + "X"  # stored under the same 200 characters, received first
    for number in (longer, exact):
        ubl = supplier_document(
            validation_engine, "be-domestic-mixed-rates.json", number=number, buyer_reference="PU-04711"
        )
        assert deliver(app.client, ubl).status_code == 200
    by_whole = {}
    for item in app.client.get("/v1/expenses", headers=auth("support")).json()["items"]:
        by_whole[app.client.get(item["url"], headers=auth("support")).json()["draft"]["number"]] = item["id"]
    credit = supplier_document(
        validation_engine,
        "credit-note.json",
        number="CN-EXACT",
        buyer_reference="PU-04711",
        preceding_invoices=[{"number": exact, "issue_date": "2026-11-02"}],
    )
    assert deliver(app.client, credit, credit=True).status_code == 200
    search = {"number": "cn-exact"}
    [found] = app.client.get("/v1/expenses", params=search, headers=auth("support")).json()["items"]
    assert found["credited_expense_id"] == by_whole[exact]
