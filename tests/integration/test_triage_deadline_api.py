"""GET /v1/expenses and /v1/expenses/{id} say when the supplier's first Invoice Response (AB) of an expense
in triage is due (``first_response_due``: the end of the third Belgian working day after receipt, in
Brussels); null once the expense has a unit (its AB went then). ``order=oldest`` lists by the document's
receipt, oldest first (the most urgent first responses lead), paged by a cursor that keeps its order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from gateway.model.expense import ExpenseStatus
from gateway.model.first_response import first_response_due
from gateway.model.units import ProductionUnit
from gateway.services.units import save_units
from gateway.validation import ValidationEngine
from tests.contract.store_builders import received_expense
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


#: The hour (on the day after receipts) each expense, by receipt, was drafted at.
DRAFTED = (2, 0, 4, 1, 3)


def _received_and_drafted_apart(app: ExpenseApp) -> tuple[str, list[str]]:
    """Five expenses in triage under a fresh number prefix, drafted in an order (``DRAFTED``) that is
    neither their documents' receipt order nor its reverse; the prefix and the numbers by receipt, oldest
    first."""
    prefix = f"ORD{uuid.uuid4().hex[:8]}"
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    numbers = [f"{prefix}-{n}" for n in range(5)]
    for n, number in enumerate(numbers):
        received_expense(
            app.store,
            status=ExpenseStatus.TO_TRIAGE,
            received=start + timedelta(hours=n),
            drafted=start + timedelta(days=1, hours=DRAFTED[n]),
            number=number,
        )
    return prefix, numbers


def _pages(app: ExpenseApp, params: dict[str, str]) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        asked = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        listed = app.client.get("/v1/expenses", params=asked, headers=auth("support"))
        assert listed.status_code == 200, listed.text
        body = listed.json()
        pages.append([item["number"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_order_oldest_lists_by_receipt_across_pages(app: ExpenseApp) -> None:
    prefix, numbers = _received_and_drafted_apart(app)
    oldest = _pages(app, {"number": f"{prefix}*", "order": "oldest"})
    assert oldest == [numbers[0:2], numbers[2:4], numbers[4:5]]
    # The default stays newest first by creation.
    newest = _pages(app, {"number": f"{prefix}*"})
    by_creation = sorted(range(5), key=lambda n: DRAFTED[n], reverse=True)
    assert [n for page in newest for n in page] == [numbers[n] for n in by_creation]
    assert _pages(app, {"number": f"{prefix}*", "order": "newest"}) == newest


def test_a_cursor_of_one_order_is_refused_in_the_other(app: ExpenseApp) -> None:
    prefix, _ = _received_and_drafted_apart(app)
    search = {"number": f"{prefix}*", "limit": "2"}
    for made, used in (({"order": "oldest"}, {}), ({}, {"order": "oldest"})):
        first = app.client.get("/v1/expenses", params={**search, **made}, headers=auth("support")).json()
        assert first["next_cursor"]
        mixed = app.client.get(
            "/v1/expenses", params={**search, **used, "cursor": first["next_cursor"]}, headers=auth("support")
        )
        assert mixed.status_code == 400, mixed.text
        assert mixed.headers["content-type"].startswith("application/problem+json")
        assert mixed.json()["type"] == "/problems/invalid-cursor"
        assert "order" in mixed.json()["detail"]


def test_an_unknown_order_is_refused(app: ExpenseApp) -> None:
    refused = app.client.get("/v1/expenses", params={"order": "urgent"}, headers=auth("support"))
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
