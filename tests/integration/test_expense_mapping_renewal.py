"""A supplier's remembered unit (its mapping) that names a unit since deactivated sends the supplier's next
documents naming no unit to triage; support's assignment there must replace it, or every later document of
that supplier would wait in triage again until the mapping expired."""

from __future__ import annotations

from typing import Any

from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)
from tests.integration.test_expense_cycle import expenses, post, setup_units


def _unnamed(app: ExpenseApp, engine: ValidationEngine, number: str) -> dict[str, Any]:
    """Deliver a document of the supplier naming no unit; its expense as support sees it."""
    deliver(app.client, supplier_document(engine, "be-zero-rated.json", number=number, buyer_reference=None))
    [item] = [e for e in expenses(app, "support") if e["number"] == number]
    body: dict[str, Any] = app.client.get(item["url"], headers=auth("support")).json()
    return body


def test_an_assignment_from_triage_replaces_a_mapping_to_a_deactivated_unit(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    first = _unnamed(app, validation_engine, "M-1")
    assert post(app, "support", first["id"], "assign", {"unit": "PU-00123"}).status_code == 200
    assert _unnamed(app, validation_engine, "M-2")["routing"]["rule"] == "supplier-mapping"

    closed = app.client.put(
        "/v1/units/PU-00123", json={"name": "Bakkerij Het Graan", "active": False}, headers=auth("admin")
    )
    assert closed.status_code == 200, closed.text
    stranded = _unnamed(app, validation_engine, "M-3")
    assert stranded["status"] == "to_triage"
    assert "PU00123, which is not an active unit" in stranded["status_reason"]
    assert post(app, "support", stranded["id"], "assign", {"unit": "PU-04711"}).status_code == 200

    # The supplier's next document naming no unit follows support's new choice.
    after = _unnamed(app, validation_engine, "M-4")
    assert (after["status"], after["unit"], after["routing"]["rule"]) == (
        "to_approve",
        "PU04711",
        "supplier-mapping",
    )
