"""A supplier's invoice delivered to the cooperative whose buyer (BT-49, the buyer's electronic address) is
another company: the SBDH receiver must equal BT-49 (bis-billing.md §8), so the document was meant for
someone else or names its buyer wrongly. It is received (a receiver does not refuse a compliant invoice),
but it waits in triage with the reason, for support to check, instead of landing in the unit its buyer
reference names, being acknowledged (AB) to the supplier and approved for payment there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.services.receive import ReceiveOutcome
from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    COOP,
    SUPPLIER,
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
    supplier_message,
)
from tests.integration.test_expense_cycle import expenses, setup_units
from tests.integration.test_expense_workflow import seed_valid

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


def _for_another_buyer(engine: ValidationEngine, number: str) -> bytes:
    return supplier_document(
        engine, "be-zero-rated.json", number=number, buyer_reference="PU-04711", buyer=OTHER_BUYER
    )


def _in_triage_for_its_buyer(app: ExpenseApp, number: str) -> None:
    [expense] = expenses(app, "support")
    assert (expense["number"], expense["status"], expense["unit"]) == (number, "to_triage", None)
    assert "(BT-49) 0208:0123456749 is not the receiver" in expense["status_reason"]
    assert _responses(app) == []


def test_the_recovery_of_an_undrafted_document_checks_its_buyer(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # Stored valid without its expense (a crash before the draft): drafted at start-up from the stored row,
    # whose receiver is the cooperative.
    setup_units(app)
    seed_valid(app, _for_another_buyer(validation_engine, "ELSE-2"), receiver=COOP)
    assert app.services.expenses.recover() == 1
    _in_triage_for_its_buyer(app, "ELSE-2")


def _leave_pending(app: ExpenseApp, ubl: bytes) -> tuple[Any, bytes]:
    """Receive ``ubl`` as ``GATEWAY_AS4__AFTER_RECEIPT=worker`` does: its receipt, the document pending;
    the message's header fields and body."""
    message = supplier_message(ubl)
    receiver = app.services.receiver
    assert receiver is not None
    headers = tuple(message.headers.items())
    result = receiver.receive(headers, message.body, leave_pending=True)
    assert result.document_id is not None
    return headers, message.body


def test_a_worker_checks_the_buyer_of_the_document_it_finishes(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    _leave_pending(app, _for_another_buyer(validation_engine, "ELSE-3"))
    receiver = app.services.receiver
    assert receiver is not None
    assert receiver.finish_next_pending(claim_for=timedelta(minutes=5))
    _in_triage_for_its_buyer(app, "ELSE-3")


def test_the_start_up_recovery_checks_the_buyer_of_a_pending_document(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    _leave_pending(app, _for_another_buyer(validation_engine, "ELSE-4"))
    receiver = app.services.receiver
    assert receiver is not None
    assert receiver.recover_pending() == 1
    _in_triage_for_its_buyer(app, "ELSE-4")


def test_a_resend_that_finishes_a_pending_document_checks_its_buyer(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # The sender resends its MessageId while the document still awaits its verdict (not in worker mode):
    # the duplicate path finishes it.
    setup_units(app)
    headers, body = _leave_pending(app, _for_another_buyer(validation_engine, "ELSE-5"))
    receiver = app.services.receiver
    assert receiver is not None
    assert receiver.receive(headers, body).outcome is ReceiveOutcome.DUPLICATE_MESSAGE
    _in_triage_for_its_buyer(app, "ELSE-5")
