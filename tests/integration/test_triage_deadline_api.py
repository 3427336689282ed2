"""GET /v1/expenses and /v1/expenses/{id} say when the supplier's first Invoice Response (AB) of an expense
in triage is due (``first_response_due``: the end of the third Belgian working day after receipt, in
Brussels); null once the expense has a unit (its AB went then)."""

from __future__ import annotations

from datetime import datetime

from gateway.model.first_response import first_response_due
from gateway.model.units import ProductionUnit
from gateway.services.units import save_units
from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)


def test_the_listing_and_the_expense_say_when_the_first_response_is_due(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    save_units(app.store, [ProductionUnit("PU-04711", "De Eik")], clock=app.services.clock)
    for number, reference in (("API-DUE-1", None), ("API-DUE-2", "PU-04711")):
        ubl = supplier_document(
            validation_engine, "be-zero-rated.json", number=number, buyer_reference=reference
        )
        deliver(app.client, ubl)
    listed = app.client.get("/v1/expenses", headers=auth("support"))
    assert listed.status_code == 200
    items = {item["number"]: item for item in listed.json()["items"]}
    triaged, routed = items["API-DUE-1"], items["API-DUE-2"]
    assert (triaged["status"], routed["status"]) == ("to_triage", "to_approve")
    received = app.client.get("/v1/inbound?number=API-DUE-1", headers=auth("support")).json()["items"][0]
    due = first_response_due(datetime.fromisoformat(received["received_at"]))
    assert datetime.fromisoformat(triaged["first_response_due"]) == due.at
    assert routed["first_response_due"] is None
    shown = app.client.get(triaged["url"], headers=auth("support")).json()
    assert datetime.fromisoformat(shown["first_response_due"]) == due.at
    # Once assigned, nothing is awaited any more: the AB went with the assignment.
    assigned = app.client.post(f"{triaged['url']}/assign", json={"unit": "PU-04711"}, headers=auth("support"))
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["first_response_due"] is None
