"""Hostile members and suppliers across production units, on SQLite and PostgreSQL: a credit note routed to
one unit that credits (BT-25) another unit's invoice never tells that unit's member of the other invoice."""

from __future__ import annotations

from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)
from tests.integration.test_expense_cycle import expenses, post, setup_units


def test_a_credit_note_crediting_another_unit_s_invoice_does_not_name_it_to_the_member(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    invoice = supplier_document(
        validation_engine, "be-zero-rated.json", number="X-1", buyer_reference="PU-00123"
    )
    deliver(app.client, invoice)
    credit = supplier_document(
        validation_engine,
        "credit-note.json",
        number="CN-9",
        buyer_reference="PU-04711",
        preceding_invoices=[{"number": "X-1", "issue_date": "2026-01-01"}],
    )
    deliver(app.client, credit, credit=True)
    [other] = expenses(app, "member-b")
    [mine] = expenses(app, "member-a")
    assert mine["kind"] == "credit_note"
    # Support (who sees both) gets the link; the member of the credit note's unit does not, anywhere.
    linked = {e["id"]: e["credited_expense_id"] for e in expenses(app, "support")}
    assert linked[mine["id"]] == other["id"]
    assert mine["credited_expense_id"] is None
    detail = app.client.get(mine["url"], headers=auth("member-a"))
    assert detail.status_code == 200
    assert detail.json()["credited_expense_id"] is None
    assert other["id"] not in detail.text
    acted = post(app, "member-a", mine["id"], "approve")
    assert acted.status_code == 200, acted.text
    assert acted.json()["credited_expense_id"] is None
    again = post(app, "member-a", mine["id"], "approve")  # a repeat answers the current state
    assert again.status_code == 200
    assert again.json()["credited_expense_id"] is None
    assert other["id"] not in app.client.get("/v1/expenses", headers=auth("member-a")).text
    # Support acting on it gets the link back.
    moved = post(app, "support", mine["id"], "mark-paid")
    assert moved.status_code == 200
    assert moved.json()["credited_expense_id"] == other["id"]
