"""An invoice and a credit note may carry the same number (numbers are unique per seller and per document
type, migration 0016), through the real app on SQLite and PostgreSQL: both are accepted and delivered over
AS4 to a loopback access point, a true duplicate in either series is still idempotent (same bytes) or
refused (other content), and the buyer's Invoice Response reaches the one its DocumentTypeCode names."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import dev_pki
from delivery_support import ReceiverAP, SettableClock, serve

from gateway.model import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    CreditNote,
    Invoice,
    ParticipantID,
)
from gateway.model.identifiers import INVOICE_RESPONSE_PROCESS
from gateway.model.message import DeliveryEvent, DeliveryStatus
from gateway.model.responses import InvoiceResponse, ResponseCode, ResponseParty, StatusReason
from gateway.services.conversion import parse_document_json
from gateway.services.outbound import OutboundSubmitter, Submission, SubmissionOutcome
from gateway.services.outbound_input import prepare_json_document
from gateway.transport.directory import load_directory
from gateway.ubl.application_response import build_invoice_response
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    docs_fixture,
    problem_of,
)
from tests.integration.test_api_business_responses import _receive
from tests.integration.test_delivery import Sender
from tests.unit.model.model_builders import invoice_data

NUMBER = "2026-0017"
BUYER = ParticipantID.parse("0208:0412345614")  # the buyer (BT-49) of invoice_data()
US = ParticipantID.parse("0208:0739484052")
XML = {"Content-Type": "application/xml"}
INVOICE = invoice_data(number=NUMBER)
CREDIT_NOTE = invoice_data(kind="credit_note", number=NUMBER, preceding_invoices=[{"number": NUMBER}])


def _post(docs: DocumentAPI, route: str, data: dict[str, Any]) -> Any:
    return docs.client.post(f"/v1/outbound/{route}", content=json.dumps(data).encode())


def _submitted(docs: DocumentAPI) -> tuple[str, str]:
    """The invoice and the credit note numbered alike, each accepted as a new document."""
    invoice = _post(docs, "invoices", INVOICE)
    credit_note = _post(docs, "credit-notes", CREDIT_NOTE)
    assert invoice.status_code == 202, invoice.text
    assert credit_note.status_code == 202, credit_note.text  # 409 when numbers were unique per seller only
    assert invoice.json()["duplicate"] is credit_note.json()["duplicate"] is False
    return invoice.json()["id"], credit_note.json()["id"]


def _delivered(docs: DocumentAPI, tmp_path: Path) -> tuple[str, str]:
    """Both submitted, then sent by one worker round over AS4 to a loopback access point serving the buyer
    for invoices and credit notes."""
    invoice_id, credit_note_id = _submitted(docs)
    p = dev_pki()
    clock = SettableClock(docs.clock.at + timedelta(minutes=1))
    receiver = ReceiverAP(key=p.receiver, trust=p.trust, served=frozenset({BUYER}), clock=clock.now)
    with serve(receiver) as url:
        entry = {
            "document_types": [BIS_INVOICE.uri, BIS_CREDIT_NOTE.uri],
            "process": BIS_BILLING_PROCESS.uri,
            "url": url,
            "certificate": p.pki.aps["POP000002"].cert_pem.decode("ascii"),
        }
        path = tmp_path / "directory.json"
        path.write_text(json.dumps({str(BUYER): [entry]}))
        sender = Sender(docs.store, load_directory(path), clock=clock)
        results = sender.round()
    assert {(r.document_id, r.status) for r in results} == {
        (invoice_id, DeliveryStatus.DELIVERED),
        (credit_note_id, DeliveryStatus.DELIVERED),
    }
    return invoice_id, credit_note_id


def test_an_invoice_and_a_credit_note_of_one_number_are_both_accepted_and_delivered(
    docs: DocumentAPI, tmp_path: Path
) -> None:
    invoice_id, credit_note_id = _delivered(docs, tmp_path)
    assert invoice_id != credit_note_id
    for document_id, kind, document_type in (
        (invoice_id, "invoice", BIS_INVOICE),
        (credit_note_id, "credit-note", BIS_CREDIT_NOTE),
    ):
        shown = docs.client.get(f"/v1/outbound/{document_id}").json()
        assert (shown["status"], shown["kind"], shown["document_type"]) == (
            "delivered",
            kind,
            document_type.uri,
        )
        assert shown["document_number"] == NUMBER
    # The number search lists both (newest first), as a list like any other search.
    listed = docs.client.get("/v1/outbound", params={"number": NUMBER})
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [credit_note_id, invoice_id]


def test_a_true_duplicate_in_either_series_is_still_idempotent_or_refused(docs: DocumentAPI) -> None:
    invoice_id, credit_note_id = _submitted(docs)
    # The same document again: the earlier answer, nothing new stored.
    for route, data, document_id in (
        ("invoices", INVOICE, invoice_id),
        ("credit-notes", CREDIT_NOTE, credit_note_id),
    ):
        again = _post(docs, route, data)
        assert again.status_code == 200, again.text
        assert (again.json()["id"], again.json()["duplicate"]) == (document_id, True)
    # Another document under a number its series holds: refused, whichever way it is posted.
    for route, data in (("invoices", INVOICE), ("credit-notes", CREDIT_NOTE)):
        other = _post(docs, route, {**data, "buyer_reference": "PO-2"})
        assert other.status_code == 409, other.text
        assert problem_of(other)["type"] == "/problems/document-number-conflict"
    # Posted as UBL, each is still its own series' document (the kind records the route, not the series).
    for document_id in (invoice_id, credit_note_id):
        ubl = docs.client.get(f"/v1/outbound/{document_id}/ubl").content
        same = docs.client.post("/v1/outbound/ubl", content=ubl, headers=XML)
        assert same.status_code == 200, same.text
        assert (same.json()["id"], same.json()["duplicate"]) == (document_id, True)
        changed = ubl.replace(b"<cbc:BuyerReference>PO-1<", b"<cbc:BuyerReference>PO-3<")
        assert changed != ubl
        assert docs.client.post("/v1/outbound/ubl", content=changed, headers=XML).status_code == 409
    assert len(docs.client.get("/v1/outbound", params={"number": NUMBER}).json()["items"]) == 2


def _invoice_response(docs: DocumentAPI, response_id: str, code: ResponseCode, type_code: str | None) -> None:
    """The buyer's Invoice Response about ``NUMBER`` with ``type_code`` (None: without DocumentTypeCode)
    received and applied as the receiver applies it."""
    t111 = InvoiceResponse(
        id=response_id,
        issued=docs.clock.now(),
        sender=ResponseParty(BUYER, "Buyer"),
        receiver=ResponseParty(US, "Coop"),
        code=code,
        document_id=NUMBER,
        document_type_code=type_code or "380",
        reasons=(StatusReason.PRICES_INCORRECT,) if code is ResponseCode.REJECTED else (),
    )
    body = build_invoice_response(t111)
    if type_code is None:
        element = b"<cbc:DocumentTypeCode>380</cbc:DocumentTypeCode>"
        assert element in body
        body = body.replace(element, b"")
    _receive(
        docs, body, document_type=INVOICE_RESPONSE, process=INVOICE_RESPONSE_PROCESS, at=docs.clock.now()
    )


def _answers(docs: DocumentAPI, document_id: str) -> list[str]:
    timeline = docs.client.get(f"/v1/outbound/{document_id}").json()["timeline"]
    return [e["detail"]["response_id"] for e in timeline if e["event"] == "response-received"]


def test_an_invoice_response_reaches_the_document_its_type_code_names(
    docs: DocumentAPI, tmp_path: Path
) -> None:
    invoice_id, credit_note_id = _delivered(docs, tmp_path)
    _invoice_response(docs, "IR-CN", ResponseCode.REJECTED, "381")
    _invoice_response(docs, "IR-INV", ResponseCode.ACCEPTED, "380")
    # Without a type code the number names both: the answer is ignored rather than applied to a guess.
    _invoice_response(docs, "IR-NONE", ResponseCode.PAID, None)
    assert (_answers(docs, invoice_id), _answers(docs, credit_note_id)) == (["IR-INV"], ["IR-CN"])
    assert (
        docs.client.get(f"/v1/outbound/{credit_note_id}").json()["status_reason"] == "rejected by buyer (PRI)"
    )
    assert docs.client.get(f"/v1/outbound/{invoice_id}").json()["status_reason"] == "accepted by buyer"


def _sent_credit_note(docs: DocumentAPI) -> str:
    """The credit note posted, sent and receipted (the delivery test above covers how): its id."""
    credit_note = _post(docs, "credit-notes", CREDIT_NOTE)
    assert credit_note.status_code == 202, credit_note.text
    document_id = str(credit_note.json()["id"])
    at = docs.clock.now()
    with docs.store.unit_of_work() as uow:
        uow.outbound.transition(document_id, DeliveryEvent.SEND_STARTED, at=at, as4_message_id="m-1@gw")
        uow.outbound.transition(document_id, DeliveryEvent.RECEIPT_RECEIVED, at=at)
        uow.commit()
    return document_id


def test_an_invoice_response_naming_the_other_series_reaches_the_only_document_of_its_number(
    docs: DocumentAPI,
) -> None:
    # Buyers' systems write 380 whatever they answer (so does every official T111 example): with no
    # invoice of that number, the answer is the credit note's.
    document_id = _sent_credit_note(docs)
    _invoice_response(docs, "IR-380", ResponseCode.ACCEPTED, "380")
    assert _answers(docs, document_id) == ["IR-380"]


def test_an_invoice_response_without_a_type_code_reaches_the_only_document_of_its_number(
    docs: DocumentAPI,
) -> None:
    document_id = _sent_credit_note(docs)
    _invoice_response(docs, "IR-NONE", ResponseCode.ACCEPTED, None)
    assert _answers(docs, document_id) == ["IR-NONE"]


def test_an_invoice_response_without_a_type_code_reaches_the_document_of_its_number_sent_to_its_sender(
    docs: DocumentAPI,
) -> None:
    # Numbered in separate series, an invoice and a credit note share a number by chance and go to two
    # buyers: an answer without a type code from one of them names the one document sent to it.
    other_buyer = {**INVOICE["buyer"], "enterprise_number": "0202239951", "vat_number": "BE0202239951"}
    invoice = _post(docs, "invoices", {**INVOICE, "buyer": other_buyer})
    credit_note = _post(docs, "credit-notes", CREDIT_NOTE)  # to BUYER, who sends the answers
    assert invoice.status_code == credit_note.status_code == 202, (invoice.text, credit_note.text)
    at = docs.clock.now()
    with docs.store.unit_of_work() as uow:  # both sent and receipted
        for n, document_id in enumerate((invoice.json()["id"], credit_note.json()["id"])):
            uow.outbound.transition(
                document_id, DeliveryEvent.SEND_STARTED, at=at, as4_message_id=f"m-{n}@gw"
            )
            uow.outbound.transition(document_id, DeliveryEvent.RECEIPT_RECEIVED, at=at)
        uow.commit()
    _invoice_response(docs, "IR-NONE", ResponseCode.ACCEPTED, None)
    assert (_answers(docs, invoice.json()["id"]), _answers(docs, credit_note.json()["id"])) == (
        [],
        ["IR-NONE"],
    )


def test_two_posts_of_one_number_at_once_give_one_new_document_per_series(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both posts read the number as free before either writes (a barrier after the read): the unique
    # (seller, type, number) index refuses the second insert, which then reads the first and answers it as
    # a duplicate. An invoice and a credit note of that number, posted at once, are both new documents.
    barrier = threading.Barrier(2, timeout=30)
    earlier = OutboundSubmitter._earlier_answer

    def read_then_wait(self: OutboundSubmitter, prepared: Any) -> Any:
        answer = earlier(self, prepared)
        barrier.wait()
        return answer

    monkeypatch.setattr(OutboundSubmitter, "_earlier_answer", read_then_wait)

    def post_at_once(*posts: tuple[str, type[Any], dict[str, Any]]) -> list[SubmissionOutcome]:
        def submit(route: str, schema: type[Any], data: dict[str, Any]) -> SubmissionOutcome:
            body = json.dumps(data).encode()
            return docs.services.submitter.submit(
                Submission(route=route, body=body),
                lambda: prepare_json_document(parse_document_json(body, schema)),
            ).outcome

        with ThreadPoolExecutor(2) as pool:
            return sorted(pool.map(lambda post: submit(*post), posts))

    invoice = ("POST /v1/outbound/invoices", Invoice, INVOICE)
    credit_note = ("POST /v1/outbound/credit-notes", CreditNote, CREDIT_NOTE)
    assert post_at_once(invoice, invoice) == [SubmissionOutcome.ACCEPTED, SubmissionOutcome.DUPLICATE]
    assert post_at_once(credit_note, credit_note) == [
        SubmissionOutcome.ACCEPTED,
        SubmissionOutcome.DUPLICATE,
    ]
    other = (invoice[0], Invoice, invoice_data(number="2026-0018"))
    other_credit = (
        credit_note[0],
        CreditNote,
        invoice_data(kind="credit_note", number="2026-0018", preceding_invoices=[{"number": NUMBER}]),
    )
    assert post_at_once(other, other_credit) == [
        SubmissionOutcome.ACCEPTED,
        SubmissionOutcome.ACCEPTED,
    ]
    with docs.store.unit_of_work(read_only=True) as uow:
        found = uow.outbound.find_by_number(str(US), NUMBER, (BIS_INVOICE, BIS_CREDIT_NOTE))
    assert len(found) == 2
