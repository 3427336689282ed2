"""``GET /v1/expenses?number=`` on SQLite and PostgreSQL, over invoices received through /as4: the supplier's
number as ``GET /v1/inbound?number=`` finds it (any case, ``*`` for a prefix, the same 422s), a member only
in their units."""

from __future__ import annotations

import pytest

from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)
from tests.integration.test_expense_cycle import setup_units


def _received(app: ExpenseApp, engine: ValidationEngine) -> None:
    """SUP-2026-7 and sup-2026-70 for De Eik (PU-04711), SUP-2026-71 for Het Graan (PU-00123)."""
    setup_units(app)
    for number, unit in (
        ("SUP-2026-7", "PU-04711"),
        ("sup-2026-70", "PU-04711"),
        ("SUP-2026-71", "PU-00123"),
    ):
        ubl = supplier_document(engine, "be-zero-rated.json", number=number, buyer_reference=unit)
        assert deliver(app.client, ubl).status_code == 200


def _numbers(app: ExpenseApp, number: str, who: str = "support", **filters: str) -> list[str]:
    answer = app.client.get("/v1/expenses", params={"number": number, **filters}, headers=auth(who))
    assert answer.status_code == 200, answer.text
    return [item["number"] for item in answer.json()["items"]]


def test_an_expense_is_found_by_its_number_in_any_case_or_by_a_prefix(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    _received(app, validation_engine)
    assert _numbers(app, "sup-2026-7") == ["SUP-2026-7"]  # not sup-2026-70
    assert _numbers(app, "SUP-2026-70") == ["sup-2026-70"]
    assert _numbers(app, " SUP-2026-7* ") == ["SUP-2026-71", "sup-2026-70", "SUP-2026-7"]
    assert _numbers(app, "SUP-2026-8") == []
    # A member: their units' only, whatever the search names.
    assert _numbers(app, "SUP-2026-7*", "member-a") == ["sup-2026-70", "SUP-2026-7"]
    assert _numbers(app, "SUP-2026-71", "member-a") == []
    assert _numbers(app, "SUP-2026-71", "member-b") == ["SUP-2026-71"]
    # With the other filters (AND) and its cursor.
    first = app.client.get("/v1/expenses?number=sup-2026-7*&limit=2", headers=auth("support")).json()
    assert [item["number"] for item in first["items"]] == ["SUP-2026-71", "sup-2026-70"]
    rest = app.client.get(
        "/v1/expenses",
        params={"number": "sup-2026-7*", "limit": 2, "cursor": first["next_cursor"]},
        headers=auth("support"),
    ).json()
    assert [item["number"] for item in rest["items"]] == ["SUP-2026-7"]
    assert rest["next_cursor"] is None
    assert _numbers(app, "sup-2026-7*", unit="PU-00123", status="to_approve") == ["SUP-2026-71"]
    assert _numbers(app, "sup-2026-7*", supplier="0208:0412345614") == [
        "SUP-2026-71",
        "sup-2026-70",
        "SUP-2026-7",
    ]
    assert _numbers(app, "sup-2026-7*", supplier="0088:5798000000001") == []
    assert _numbers(app, "sup-2026-7*", status="approved") == []


@pytest.mark.parametrize("number", ["", " ", "*", " * ", "INV\x01", "INV-1\x7f*", "N" * 201, "N" * 201 + "*"])
def test_a_number_that_cannot_be_one_is_a_422_invalid_identifier(app: ExpenseApp, number: str) -> None:
    answer = app.client.get("/v1/expenses", params={"number": number}, headers=auth("member-a"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith("invalid-identifier"), answer.json()


def test_two_hundred_characters_are_a_number_and_the_openapi_says_the_search(app: ExpenseApp) -> None:
    assert app.client.get(
        "/v1/expenses", params={"number": "N" * 200 + "*"}, headers=auth("support")
    ).json() == {
        "items": [],
        "next_cursor": None,
    }
    schema = app.client.get("/openapi.json", headers=auth("admin")).json()
    [number] = [p for p in schema["paths"]["/v1/expenses"]["get"]["parameters"] if p["name"] == "number"]
    assert "ignoring case" in number["description"]
