"""The expense cycle over HTTP on SQLite and PostgreSQL: supplier invoices and a credit note received through
the real /as4 endpoint land as drafts of the right production unit (or in triage, with the reason) with the
exact VAT breakdown, payment details and attachments of their UBL; members approve, reject and query only
their units' expenses; support triages and marks paid; duplicates are flagged; every action is idempotent,
audited, announced by webhook and reported to the InvoiceResponder in its unit of work."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.model import ParticipantID
from gateway.store.tables import webhook_outbox
from gateway.ubl import read_ubl
from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    COOP,
    DOCUMENTS,
    SUPPLIER,
    SUPPLIER_IBAN,
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)

UNITS = [
    {"code": "PU-04711", "name": "Schrijnwerkerij De Eik", "members": []},
    {"code": "PU-00123", "name": "Bakkerij Het Graan", "members": ["member-c"]},
]


def setup_units(app: ExpenseApp) -> None:
    response = app.client.put("/v1/units", json=UNITS, headers=auth("admin"))
    assert response.status_code == 200, response.text
    assert [u["key"] for u in response.json()] == ["PU04711", "PU00123"]


def expenses(app: ExpenseApp, who: str, query: str = "") -> list[dict[str, Any]]:
    response = app.client.get(f"/v1/expenses?{query}", headers=auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def only(app: ExpenseApp, who: str, query: str = "") -> dict[str, Any]:
    [item] = expenses(app, who, query)
    detail = app.client.get(item["url"], headers=auth(who))
    assert detail.status_code == 200, detail.text
    body: dict[str, Any] = detail.json()
    return body


def post(app: ExpenseApp, who: str, expense_id: str, action: str, body: Any = None) -> Any:
    return app.client.post(f"/v1/expenses/{expense_id}/{action}", json=body, headers=auth(who))


def test_invoice_lands_routed_with_the_exact_draft_and_is_approved_then_paid(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    ubl = supplier_document(
        validation_engine,
        "be-domestic-mixed-rates.json",
        number="F-2026-1001",
        buyer_reference="Ref pu 04711 site",
    )
    deliver(app.client, ubl)
    expense = only(app, "member-a")
    model = read_ubl(ubl)
    assert (expense["status"], expense["unit"], expense["kind"]) == ("to_approve", "PU04711", "invoice")
    assert expense["routing"]["rule"] == "buyer-reference"
    assert "PU04711 found in BT-10" in expense["routing"]["reason"]
    draft = expense["draft"]
    # The VAT breakdown per category and rate, exactly as the UBL states it (the deductible input VAT).
    assert model.vat_breakdown is not None
    assert len(model.vat_breakdown) >= 2
    assert draft["vat_breakdown"] == [
        {
            "category": b.category.value,
            "rate": str(b.rate),
            "taxable": str(b.taxable_amount),
            "vat": str(b.tax_amount),
            "exemption_reason_code": b.exemption_reason_code,
            "exemption_reason": b.exemption_reason,
        }
        for b in model.vat_breakdown
    ]
    assert model.totals is not None
    assert expense["amount"] == str(model.totals.payable_amount)
    assert draft["totals"]["vat"] == str(model.totals.vat_total)
    assert draft["supplier"]["peppol_id"] == str(SUPPLIER)
    assert draft["supplier"]["vat"] == "BE0412345614"
    assert draft["payment"]["iban"] == SUPPLIER_IBAN
    assert draft["payment"]["structured_communication"].startswith("+++")
    assert draft["payment"]["due_date"] == "2026-12-02"
    assert len(draft["lines"]) == len(model.lines)
    stored = app.client.get(expense["ubl_url"], headers=auth("member-a")).content
    assert stored == app.client.get(expense["inbound_url"] + "/ubl", headers=auth("support")).content
    assert read_ubl(stored) == model
    evidence = app.client.get(expense["evidence_url"], headers=auth("member-a")).json()
    assert evidence["message_id"] == expense["as4_message_id"]
    assert evidence["signal"]["kind"] == "receipt"
    assert base64.b64decode(evidence["signal"]["raw"]["body_base64"]).count(b"Receipt") >= 1
    assert app.client.get(expense["evidence_url"], headers=auth("member-b")).status_code == 404
    assert app.client.get(expense["inbound_url"], headers=auth("support")).json()["status"] == "valid"
    assert app.responder.codes() == ["AB"]

    # Another unit's member neither sees nor acts; the invoicing system has no access at all.
    eid = expense["id"]
    assert expenses(app, "member-b") == []
    assert problem_of(app.client.get(f"/v1/expenses/{eid}", headers=auth("member-b")))["status"] == 404
    assert problem_of(post(app, "member-b", eid, "approve"))["status"] == 404
    assert app.client.get("/v1/expenses", headers=auth("sender")).status_code == 403
    # Support reads everything but does not approve.
    assert problem_of(post(app, "support", eid, "approve"))["status"] == 403

    first = post(app, "member-a", eid, "approve")
    again = post(app, "member-a", eid, "approve")
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == again.json()["status"] == "approved"
    paid = post(app, "support", eid, "mark-paid")
    assert paid.json()["status"] == "paid"
    late = post(app, "member-a", eid, "approve")
    assert late.status_code == 409
    assert problem_of(late)["type"] == "/problems/status-conflict"
    detail = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-a")).json()
    trail = [(e["action"], e["actor"], e["from_status"], e["to_status"]) for e in detail["events"]]
    assert trail == [
        ("created", "gateway", None, "received"),
        ("route", "gateway", "received", "to_approve"),
        ("approve", "member-a", "to_approve", "approved"),
        ("mark-paid", "helpdesk", "approved", "paid"),
    ]
    assert app.responder.codes() == ["AB", "AP", "PD"]
    assert detail["events"][2]["detail"] == {"response_document_id": "response-2"}
    with app.store.engine.connect() as connection:
        types = [row.payload["type"] for row in connection.execute(select(webhook_outbox))]
    assert types.count("expense.approve") == 1
    assert {"expense.created", "expense.route", "expense.approve", "expense.mark-paid"} <= set(types)


def test_attachments_query_answer_reject(app: ExpenseApp, validation_engine: ValidationEngine) -> None:
    setup_units(app)
    ubl = supplier_document(
        validation_engine, "attachment-pdf.json", number="F-2026-1002", buyer_reference="PU04711"
    )
    deliver(app.client, ubl)
    expense = only(app, "member-a")
    sample = json.loads((DOCUMENTS / "attachment-pdf.json").read_text())
    pdf = base64.b64decode(sample["attachments"][0]["content"])
    [link] = expense["attachment_urls"]
    got = app.client.get(link, headers=auth("member-a"))
    assert got.status_code == 200
    assert got.content == pdf
    assert got.headers["content-type"] == "application/pdf"
    assert [a["embedded"] for a in expense["draft"]["attachments"]] == [True, False]
    assert got.headers["x-content-type-options"] == "nosniff"  # never rendered in our origin
    assert got.headers["content-security-policy"] == "sandbox"
    assert app.client.get(link, headers=auth("member-b")).status_code == 404
    assert (
        app.client.get(f"/v1/expenses/{expense['id']}/attachments/2", headers=auth("member-a")).status_code
        == 404
    )
    # The member reads the supplier's invoice as a page: its number, and a link to the same attachment.
    page = app.client.get(f"/v1/expenses/{expense['id']}/render?lang=en", headers=auth("member-a"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "F-2026-1002" in page.text
    assert f'href="{link}"' in page.text
    pdf_page = app.client.get(f"/v1/expenses/{expense['id']}/render?format=pdf", headers=auth("member-a"))
    assert pdf_page.headers["content-type"] == "application/pdf"
    assert pdf_page.content.startswith(b"%PDF")
    assert app.client.get(f"/v1/expenses/{expense['id']}/render", headers=auth("member-b")).status_code == 404

    eid = expense["id"]
    assert problem_of(post(app, "member-a", eid, "query", {"question": " "}))["status"] == 422
    asked = post(app, "member-a", eid, "query", {"question": "Which order is this?", "reason_codes": ["REF"]})
    assert asked.json()["status"] == "under_query"
    assert asked.json()["status_reason"] == "Which order is this?"
    assert post(app, "member-a", eid, "approve").status_code == 409
    assert (
        post(app, "member-a", eid, "answer", {"answer": "order 4500012345"}).json()["status"] == "to_approve"
    )
    bad = post(app, "member-a", eid, "reject", {"reason": "wrong price", "reason_codes": ["PPD"]})
    assert problem_of(bad)["status"] == 422
    rejected = post(app, "member-a", eid, "reject", {"reason": "wrong price", "reason_codes": ["pri"]})
    assert rejected.json()["status"] == "rejected"
    uq, re_ = app.responder.requests[1], app.responder.requests[2]
    assert (uq.status, uq.reason_codes, uq.note) == ("UQ", ("REF",), "Which order is this?")
    assert (re_.status, re_.reason_codes, re_.note) == ("RE", ("PRI",), "wrong price")
    assert app.responder.codes() == ["AB", "UQ", "RE"]


def test_unroutable_goes_to_triage_support_assigns_and_the_supplier_is_remembered(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    deliver(
        app.client,
        supplier_document(validation_engine, "be-zero-rated.json", number="F-1", buyer_reference=None),
    )
    assert expenses(app, "member-a") == expenses(app, "member-b") == []
    [triaged] = expenses(app, "support", "status=to_triage")
    assert triaged["unit"] is None
    assert triaged["status_reason"] == "no unit code in the document and no supplier mapping"
    # Not routed to a unit: no acknowledgement yet (bis-billing.md §9: AB when routed to an activity).
    assert app.responder.codes() == []
    eid = triaged["id"]
    # A member may not assign: 403 first, before the expense is looked up (it does not see it either).
    assert problem_of(post(app, "member-b", eid, "assign", {"unit": "PU-00123"}))["status"] == 403
    unknown = post(app, "support", eid, "assign", {"unit": "PU-55555"})
    assert problem_of(unknown)["type"] == "/problems/expense-request-invalid"
    assigned = post(app, "support", eid, "assign", {"unit": "pu00123"})
    assert (assigned.json()["status"], assigned.json()["unit"]) == ("to_approve", "PU00123")
    assert post(app, "support", eid, "assign", {"unit": "PU-00123"}).status_code == 200  # same: no event
    # Assigned from triage it is routed to a unit: AB now, once, kept on the assign's audit entry.
    assert app.responder.codes() == ["AB"]
    assert app.responder.requests[0].note is None
    # member-b by its key's units, member-c by the unit's member list.
    assert [e["id"] for e in expenses(app, "member-b")] == [eid]
    assert [e["id"] for e in expenses(app, "member-c")] == [eid]
    detail = app.client.get(f"/v1/expenses/{eid}", headers=auth("member-b")).json()
    assert [e["action"] for e in detail["events"]] == ["created", "triage", "assign"]
    assert detail["events"][2]["invoice_response"] == {
        "code": "AB",
        "sent": True,
        "document_id": "response-1",
    }
    # A reassignment is no routing news for the supplier: no second AB.
    moved = post(app, "support", eid, "assign", {"unit": "PU-04711"})
    assert (moved.json()["status"], moved.json()["unit"]) == ("to_approve", "PU04711")
    assert app.responder.codes() == ["AB"]
    assert post(app, "support", eid, "assign", {"unit": "PU-00123"}).status_code == 200

    # The next document of this supplier naming no unit follows the remembered mapping.
    deliver(
        app.client,
        supplier_document(validation_engine, "be-zero-rated.json", number="F-2", buyer_reference=None),
    )
    second = next(e for e in expenses(app, "member-b") if e["number"] == "F-2")
    full = app.client.get(second["url"], headers=auth("member-b")).json()
    assert (full["status"], full["routing"]["rule"]) == ("to_approve", "supplier-mapping")
    assert "helpdesk" in full["routing"]["reason"]
    assert app.responder.codes() == ["AB", "AB"]  # routed on receipt: acknowledged on receipt

    # Conflicting hints go to triage with both candidates.
    conflicting = supplier_document(
        validation_engine,
        "be-zero-rated.json",
        number="F-3",
        buyer_reference="PU-04711",
        notes=["for PU00123"],
    )
    deliver(app.client, conflicting)
    [conflict] = [e for e in expenses(app, "support", "status=to_triage")]
    routing = app.client.get(conflict["url"], headers=auth("support")).json()["routing"]
    assert {c["unit"] for c in routing["candidates"]} == {"PU04711", "PU00123"}
    assert routing["reason"].startswith("conflicting hints")
    assert app.responder.codes() == ["AB", "AB"]


def test_duplicate_is_flagged_and_credit_note_is_linked_and_invalid_is_not_routed(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    setup_units(app)
    invoice = supplier_document(
        validation_engine, "be-domestic-mixed-rates.json", number="2026-0004711", buyer_reference="PU-04711"
    )
    deliver(app.client, invoice)
    deliver(app.client, invoice)  # the supplier sends it again in a new AS4 message
    [expense] = expenses(app, "member-a")
    assert len(expense["duplicates"]) == 1
    assert app.client.get("/v1/inbound", headers=auth("support")).json()["items"][0]["status"] == "valid"
    credit = supplier_document(
        validation_engine, "credit-note.json", number="CN-1", buyer_reference="PU-04711"
    )
    deliver(app.client, credit, credit=True)
    [credit_note] = expenses(app, "member-a", "status=to_approve&supplier=0208:0412345614")[:1]
    assert credit_note["kind"] == "credit_note"
    assert credit_note["amount"].startswith("-")
    assert credit_note["credited_expense_id"] == expense["id"]
    # An invalid document is kept with its report and never becomes an expense.
    broken = invoice.replace(b"F-", b"F-").replace(
        b"<cbc:ID>2026-0004711</cbc:ID>", b"<cbc:ID>X-9</cbc:ID>", 1
    )
    broken = broken.replace(b"<cbc:PayableAmount", b"<cbc:PayableAmount", 1)
    total_at = broken.index(b"<cbc:PayableAmount")
    end = broken.index(b"</cbc:PayableAmount>", total_at)
    start = broken.index(b">", total_at) + 1
    broken = broken[:start] + b"1.00" + broken[end:]
    deliver(app.client, broken)
    invalid = app.client.get("/v1/inbound?status=invalid", headers=auth("support")).json()["items"]
    assert len(invalid) == 1
    assert len(expenses(app, "support")) == 2
    board = app.client.get("/v1/expenses/board", headers=auth("member-a")).json()
    assert board["counts"]["to_approve"] == 2
    assert board["invalid_received"] is None  # members do not see received documents
    assert app.client.get("/v1/expenses/board", headers=auth("support")).json()["invalid_received"] == 1


def official(artefacts_dir: Path, name: str, reference: str) -> bytes:
    """An official example addressed to the cooperative (its BT-49: the SBDH receiver must equal it) with
    ``reference`` as its buyer reference."""
    ubl = (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / name).read_bytes()
    buyer = b'<cbc:EndpointID schemeID="0002">FR23342</cbc:EndpointID>'
    assert ubl.count(buyer) == 1
    ubl = ubl.replace(buyer, f'<cbc:EndpointID schemeID="{COOP.icd}">{COOP.value}</cbc:EndpointID>'.encode())
    return re.sub(rb"<cbc:BuyerReference>[^<]*</cbc:BuyerReference>", reference.encode(), ubl, count=1)


def test_official_examples_with_unit_codes(app: ExpenseApp, artefacts_dir: Path) -> None:
    setup_units(app)
    invoice = official(
        artefacts_dir, "base-example.xml", "<cbc:BuyerReference>PU-00123 kitchen</cbc:BuyerReference>"
    )
    credit = official(
        artefacts_dir, "base-creditnote-correction.xml", "<cbc:BuyerReference>pu00123</cbc:BuyerReference>"
    )
    seller = ParticipantID.parse("0088:9482348239847239874")  # the examples' BT-34, their sender too
    deliver(app.client, invoice, sender=seller)
    deliver(app.client, credit, credit=True, sender=seller)
    listed = {e["kind"]: e for e in expenses(app, "member-b")}
    assert set(listed) == {"invoice", "credit_note"}
    assert {e["supplier_id"] for e in listed.values()} == {"0088:9482348239847239874"}
    assert listed["credit_note"]["credited_expense_id"] == listed["invoice"]["id"]
    for kind, ubl in (("invoice", invoice), ("credit_note", credit)):
        model = read_ubl(ubl)
        sign = -1 if kind == "credit_note" else 1
        detail = app.client.get(listed[kind]["url"], headers=auth("member-b")).json()
        assert detail["routing"]["rule"] == "buyer-reference"
        assert model.vat_breakdown is not None
        assert [
            (b["category"], b["rate"], b["taxable"], b["vat"]) for b in detail["draft"]["vat_breakdown"]
        ] == [
            (b.category.value, str(b.rate), str(b.taxable_amount * sign), str(b.tax_amount * sign))
            for b in model.vat_breakdown
        ]
