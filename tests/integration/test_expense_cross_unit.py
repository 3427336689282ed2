"""Hostile members and suppliers across production units, on SQLite and PostgreSQL: a credit note routed to
one unit that credits (BT-25) another unit's invoice never tells that unit's member of the other invoice."""

from __future__ import annotations

import json
import re

from gateway.model import ParticipantID
from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    DOCUMENTS,
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


def test_assigning_a_paid_expense_to_its_own_unit_is_refused_not_answered_as_a_repeat(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    invoice = supplier_document(
        validation_engine, "be-zero-rated.json", number="S-1", buyer_reference="PU-04711"
    )
    deliver(app.client, invoice)
    [expense] = expenses(app, "member-a")
    assert post(app, "member-a", expense["id"], "approve").status_code == 200
    assert post(app, "support", expense["id"], "assign", {"unit": "PU-04711"}).status_code == 409
    assert post(app, "support", expense["id"], "mark-paid").status_code == 200
    refused = post(app, "support", expense["id"], "assign", {"unit": "PU-04711"})
    assert refused.status_code == 409, refused.text
    # Waiting for approval, the same unit again is a repeat: the current state, nothing recorded.
    deliver(
        app.client,
        supplier_document(validation_engine, "be-zero-rated.json", number="S-2", buyer_reference="PU-04711"),
    )
    waiting = next(e for e in expenses(app, "member-a") if e["number"] == "S-2")
    same = post(app, "support", waiting["id"], "assign", {"unit": "PU-04711"})
    assert same.status_code == 200
    assert same.json()["status"] == "to_approve"


def test_the_rendered_links_of_a_credit_note_reach_its_attachments_after_a_project_reference(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    """In a credit note an AdditionalDocumentReference of type 50 is the project reference (BT-11), not an
    attachment: the rendered page neither lists it as one nor shifts the download links of the others."""
    setup_units(app)
    attachments = json.loads((DOCUMENTS / "attachment-pdf.json").read_text(encoding="utf-8"))["attachments"]
    credit = supplier_document(
        validation_engine,
        "credit-note.json",
        number="CN-7",
        buyer_reference="PU-04711",
        attachments=attachments,
        project_reference="PRJ-42",
    )
    # The supplier writes the project reference first (any order of the references is valid).
    project = re.search(
        rb"<cac:AdditionalDocumentReference>\s*<cbc:ID>PRJ-42</cbc:ID>.*?"
        rb"</cac:AdditionalDocumentReference>\s*",
        credit,
        re.S,
    )
    assert project is not None
    credit = credit.replace(project.group(0), b"")
    first = credit.index(b"<cac:AdditionalDocumentReference>")
    credit = credit[:first] + project.group(0) + credit[first:]
    deliver(app.client, credit, credit=True)
    [expense] = expenses(app, "member-a")
    page = app.client.get(f"/v1/expenses/{expense['id']}/render", headers=auth("member-a"))
    assert page.status_code == 200
    links = re.findall(r'href="(/v1/expenses/[^"]+/attachments/\d+)"', page.text)
    assert links == [f"/v1/expenses/{expense['id']}/attachments/1"], links
    download = app.client.get(links[0], headers=auth("member-a"))
    assert download.status_code == 200
    assert download.content.startswith(b"%PDF")
    assert "PRJ-42" in page.text


def test_an_invoice_whose_seller_is_not_its_sender_is_triaged_under_the_sender(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # BT-34 says 0208:0412345614 (the sample's supplier), but the access point sent it for another
    # participant: it names a unit, yet goes to triage, kept under the sender it was vouched for.
    setup_units(app)
    claimed = supplier_document(
        validation_engine, "be-zero-rated.json", number="C-1", buyer_reference="PU-04711"
    )
    impostor = ParticipantID.parse("0208:0200068636")
    deliver(app.client, claimed, sender=impostor)
    honest = supplier_document(
        validation_engine, "be-zero-rated.json", number="C-2", buyer_reference="PU-04711"
    )
    deliver(app.client, honest, sender=ParticipantID.parse("9925:BE0412345614"))  # the same enterprise
    by_number = {e["number"]: e for e in expenses(app, "support")}
    assert by_number["C-1"]["status"] == "to_triage"
    assert "(BT-34) 0208:0412345614 is not the sender" in by_number["C-1"]["status_reason"]
    assert by_number["C-2"]["status"] == "to_approve"
    with app.store.unit_of_work(read_only=True) as uow:
        keys = {
            e.number: e.supplier_key for e in (uow.expenses.get(x["id"]) for x in by_number.values()) if e
        }
    assert keys == {"C-1": impostor.key, "C-2": "0208:0412345614"}
