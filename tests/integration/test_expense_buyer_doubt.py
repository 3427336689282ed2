"""A supplier's invoice delivered to the cooperative whose buyer (BT-49, the buyer's electronic address) is
another company: the SBDH receiver must equal BT-49 (bis-billing.md §8), so the document was meant for
someone else or names its buyer wrongly. It is received (a receiver does not refuse a compliant invoice),
but it waits in triage with the reason, for support to check, instead of landing in the unit its buyer
reference names, being acknowledged (AB) to the supplier and approved for payment there."""

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
from tests.integration.test_expense_cycle import expenses, setup_units

OTHER_BUYER: dict[str, Any] = {
    "legal_name": "Andere Vennootschap NV",
    "enterprise_number": "0123456749",
    "vat_number": "BE0123456749",
    "address": {"street": "Marktplein 1", "city": "Leuven", "postal_code": "3000", "country": "BE"},
}


def _responses(app: ExpenseApp) -> list[dict[str, Any]]:
    listed = app.client.get("/v1/outbound?limit=100", headers=auth("admin"))
    assert listed.status_code == 200, listed.text
    return [d for d in listed.json()["items"] if d["kind"] == "invoice-response"]


def test_an_invoice_for_another_buyer_waits_in_triage(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    ubl = supplier_document(
        validation_engine,
        "be-zero-rated.json",
        number="ELSE-1",
        buyer_reference="PU-04711",
        buyer=OTHER_BUYER,
    )
    assert b'<cbc:EndpointID schemeID="0208">0123456749</cbc:EndpointID>' in ubl
    assert deliver(app.client, ubl).status_code == 200
    [expense] = expenses(app, "support")
    assert (expense["number"], expense["status"], expense["unit"]) == ("ELSE-1", "to_triage", None)
    assert "(BT-49) 0208:0123456749 is not the receiver" in expense["status_reason"]
    assert expenses(app, "member-a") == []  # not in the unit its buyer reference names
    assert _responses(app) == []  # no AB: nobody has taken it on


def test_an_invoice_for_us_under_our_vat_number_is_routed(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # 9925:BE<KBO> and 0208:<KBO> name one enterprise: no doubt.
    setup_units(app)
    ubl = supplier_document(
        validation_engine, "be-zero-rated.json", number="OURS-1", buyer_reference="PU-04711"
    )
    ubl = ubl.replace(
        b'<cbc:EndpointID schemeID="0208">0739484052</cbc:EndpointID>',
        b'<cbc:EndpointID schemeID="9925">BE0739484052</cbc:EndpointID>',
    )
    assert b"BE0739484052</cbc:EndpointID>" in ubl
    assert deliver(app.client, ubl).status_code == 200
    [expense] = expenses(app, "support")
    assert (expense["status"], expense["unit"]) == ("to_approve", "PU04711")
