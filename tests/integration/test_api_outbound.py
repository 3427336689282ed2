"""The outbound routes on SQLite and PostgreSQL: submission exactly once, validation refusal, status and
timeline, UBL and evidence, support listing, retry rules, roles, problem+json."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sql_event

from gateway.bootstrap import Services
from gateway.errors import (
    DocumentNumberConflict,
    IdempotencyConflict,
    InvalidDocumentData,
    LaterResponseQueued,
    StoreError,
)
from gateway.model import BIS_CREDIT_NOTE, BIS_INVOICE, Invoice
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    DeliveryEvent,
    DeliveryStatus,
    Direction,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.outbound import OutboundSubmitter, Submission, SubmissionOutcome
from gateway.services.outbound_input import prepare_json_document, prepare_ubl_document
from gateway.validation import ValidationReport
from gateway.xmlcore import MAX_ATTRIBUTES_PER_TAG, MAX_NAME_BYTES, MAX_NAMESPACE_URI_BYTES
from tests.contract.store_builders import invoice_responses, new_id
from tests.integration.document_api import (  # noqa: F401 - fixtures
    KEYS,
    SELLER_ID,
    T0,
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
    problem_of,
)
from tests.unit.model.model_builders import SELLER, invoice_data, line

DATA = Path(__file__).resolve().parents[1] / "data" / "documents"
XML = {"Content-Type": "application/xml"}


#: The seller's BT-34 in the BIS examples (another company), and ours (``SELLER_ID``).
EXAMPLE_SELLER = b'<cbc:EndpointID schemeID="0088">9482348239847239874</cbc:EndpointID>'
OUR_SELLER = b'<cbc:EndpointID schemeID="0208">0739484052</cbc:EndpointID>'
#: Another Belgian company (a valid enterprise number that is neither the seller nor the buyer).
OTHER_COMPANY = "0450123451"


def example(artefacts_dir: Path, name: str) -> bytes:
    """A BIS example, sold by the cooperative: the gateway sends only in its name (its BT-34 is ours)."""
    xml = (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / name).read_bytes()
    assert xml.count(EXAMPLE_SELLER) == 1
    return xml.replace(EXAMPLE_SELLER, OUR_SELLER)


def body_of(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def post_invoice(docs: DocumentAPI, data: dict[str, Any] | None = None, **headers: str) -> Any:
    return docs.client.post(
        "/v1/outbound/invoices", content=body_of(data or invoice_data()), headers=headers or None
    )


def counts(docs: DocumentAPI) -> tuple[int, int]:
    """(outbound documents, queued jobs) in the store."""
    with docs.store.unit_of_work(read_only=True) as uow:
        from gateway.services import OutboundQuery

        documents = len(uow.outbound.search(OutboundQuery(limit=500)).items)
        jobs = uow.jobs.counts(now=T0 + timedelta(days=365))
    return documents, jobs.due + jobs.scheduled + jobs.leased


def move(docs: DocumentAPI, document_id: str, *events: DeliveryEvent, fail_job: bool = False) -> None:
    """Drive a document through worker events, as the delivery worker would."""
    with docs.store.unit_of_work() as uow:
        for event in events:
            uow.outbound.transition(document_id, event, at=docs.clock.now(), reason=f"test {event.value}")
        if fail_job:
            leases = uow.jobs.lease(now=docs.clock.now(), limit=10, lease_for=timedelta(minutes=5), token="t")
            for lease in leases:
                if lease.document_id == document_id:
                    uow.jobs.fail(document_id, "t", error="test")
                else:
                    uow.jobs.reschedule(lease.document_id, "t", due_at=lease.leased_until)
        uow.commit()


# -- acceptance --------------------------------------------------------------------------------------------


def test_accepted_invoice_gets_202_status_url_timeline_and_a_queued_job(docs: DocumentAPI) -> None:
    response = post_invoice(docs)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    assert body["duplicate"] is False
    assert body["status_url"] == f"/v1/outbound/{body['id']}"
    assert response.headers["location"] == body["status_url"]
    assert "idempotent-replayed" not in response.headers

    shown = docs.client.get(body["status_url"]).json()
    assert shown["status"] == "accepted"
    assert shown["document_number"] == "2026-0004711"
    assert shown["receiver"] == "0208:0412345614"
    assert shown["sender"] == "0208:0739484052"
    assert shown["seller_id"] == SELLER_ID
    assert shown["document_type"] == BIS_INVOICE.uri
    assert shown["kind"] == "invoice"
    assert shown["attempts"] == 0
    assert shown["as4_message_id"] is None
    assert shown["receipt"] is None
    assert shown["retry_allowed"] is False
    assert [(e["event"], e["from_status"], e["to_status"]) for e in shown["timeline"]] == [
        ("submitted", None, "accepted")
    ]
    assert shown["timeline"][0]["at"] == shown["created_at"]
    assert shown["next_job_due_at"] == shown["created_at"]
    with docs.store.unit_of_work(read_only=True) as uow:
        job = uow.jobs.get(body["id"])
    assert job is not None
    assert job.attempts == 0

    ubl = docs.client.get(f"{body['status_url']}/ubl")
    assert ubl.status_code == 200
    assert ubl.headers["content-type"].startswith("application/xml")
    assert ubl.content == prepare_json_document(Invoice.model_validate(invoice_data())).ubl


def test_credit_note_is_accepted_as_a_bis_credit_note(docs: DocumentAPI) -> None:
    body = (DATA / "credit-note.json").read_bytes()
    response = docs.client.post("/v1/outbound/credit-notes", content=body)
    assert response.status_code == 202, response.text
    shown = docs.client.get(response.json()["status_url"]).json()
    assert shown["kind"] == "credit-note"
    assert shown["document_type"] == BIS_CREDIT_NOTE.uri
    assert shown["document_number"] == "2026-C-000031"
    assert docs.client.get(f"{response.json()['status_url']}/ubl").content.startswith(b"<?xml")


def test_each_json_route_fixes_the_document_kind(docs: DocumentAPI) -> None:
    credit = (DATA / "credit-note.json").read_bytes()
    refused = docs.client.post("/v1/outbound/invoices", content=credit)
    assert refused.status_code == 422
    problem = problem_of(refused)
    assert problem["type"] == "/problems/invalid-document-data"
    assert any(error.startswith("kind") for error in problem["errors"])
    assert docs.client.post("/v1/outbound/credit-notes", content=body_of(invoice_data())).status_code == 422
    assert counts(docs) == (0, 0)


def test_ready_ubl_is_accepted_with_the_receiver_from_the_buyer_endpoint(
    docs: DocumentAPI, artefacts_dir: Path
) -> None:
    xml = example(artefacts_dir, "base-example.xml")
    response = docs.client.post("/v1/outbound/ubl", content=xml, headers=XML)
    assert response.status_code == 202, response.text
    shown = docs.client.get(response.json()["status_url"]).json()
    assert shown["kind"] == "ubl"
    assert shown["receiver"] == "0002:FR23342"
    assert shown["sender"] == SELLER_ID
    assert shown["document_number"] == "Snippet1"
    assert shown["document_type"] == BIS_INVOICE.uri
    assert shown["process"] == "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    assert docs.client.get(f"{response.json()['status_url']}/ubl").content == xml


def test_ready_ubl_credit_note_gets_the_credit_note_document_type(
    docs: DocumentAPI, artefacts_dir: Path
) -> None:
    xml = example(artefacts_dir, "base-creditnote-correction.xml")
    response = docs.client.post("/v1/outbound/ubl", content=xml, headers=XML)
    assert response.status_code == 202, response.text
    assert docs.client.get(response.json()["status_url"]).json()["document_type"] == BIS_CREDIT_NOTE.uri


def test_ready_ubl_number_and_receiver_are_read_whole_across_comments(docs: DocumentAPI) -> None:
    # A comment inside cbc:ID or cbc:EndpointID is schema-valid and invisible to validation (XPath string
    # value); the element's first text node alone gave BT-1 "2026-0004711" as "2026-" (so two invoices
    # of one number could both be sent) and BT-49 0208:0412345614 as 0208:0412 (another receiver).
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    number, receiver = b"<cbc:ID>2026-0004711</cbc:ID>", b'<cbc:EndpointID schemeID="0208">0412345614<'
    assert ubl.count(number) == ubl.count(receiver) == 1
    commented = ubl.replace(number, b"<cbc:ID>2026-<!-- x -->0004711</cbc:ID>").replace(
        receiver, b'<cbc:EndpointID schemeID="0208">0412<!-- x -->345614<'
    )
    response = docs.client.post("/v1/outbound/ubl", content=commented, headers=XML)
    assert response.status_code == 202, response.text
    shown = docs.client.get(response.json()["status_url"]).json()
    assert (shown["document_number"], shown["receiver"]) == ("2026-0004711", "0208:0412345614")
    # The same number without the comment is the same number: other bytes under it are a conflict.
    assert docs.client.post("/v1/outbound/ubl", content=ubl, headers=XML).status_code == 409
    assert counts(docs) == (1, 1)


@pytest.mark.parametrize(
    ("xml", "status", "kind"),
    [
        (b"<Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>", 422, "mapping"),
        (b"<Invoice", 400, "xml-input"),
        (b'<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', 400, "xml-input"),
    ],
)
def test_ubl_route_refuses_what_is_not_a_ubl_invoice(
    docs: DocumentAPI, xml: bytes, status: int, kind: str
) -> None:
    response = docs.client.post("/v1/outbound/ubl", content=xml, headers=XML)
    assert response.status_code == status
    assert problem_of(response)["type"] == f"/problems/{kind}"
    assert counts(docs) == (0, 0)


def with_declarations(ubl: bytes, total: int) -> bytes:
    """``ubl`` with namespace declarations added to its root's start tag up to ``total`` attributes and
    declarations there (declarations: the document stays XSD-valid)."""
    start = ubl.index(b"<Invoice ")
    has = ubl[start : ubl.index(b">", start)].count(b"=")
    declarations = b"".join(b' xmlns:p%d="urn:p%d"' % (n, n) for n in range(total - has))
    return ubl[:start] + b"<Invoice" + declarations + ubl[start + len(b"<Invoice") :]


@pytest.mark.parametrize("large", [False, True], ids=["tree read", "pull read (1 MB and more)"])
def test_ubl_route_refuses_an_element_with_too_many_attributes_before_parsing_it(
    docs: DocumentAPI, large: bool
) -> None:
    # libxml2 builds a whole start tag before any pruning parse reports it: 17 MB of ``a0='' a1=''`` on one
    # element took ~58 times its bytes before any check could refuse it (``xmlcore.start_tags``).
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    if large:  # the header's pull read (``HEADER_PULL_ABOVE_BYTES``)
        ubl = ubl.replace(b"</cbc:IssueDate>", b"</cbc:IssueDate><!--" + b"x" * 1_100_000 + b"-->", 1)
    response = docs.client.post(
        "/v1/outbound/ubl", content=with_declarations(ubl, MAX_ATTRIBUTES_PER_TAG + 1), headers=XML
    )
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/xml-limit"
    assert f"the limit is {MAX_ATTRIBUTES_PER_TAG} per element" in problem["detail"]
    assert counts(docs) == (0, 0)
    kept = docs.client.post(
        "/v1/outbound/ubl", content=with_declarations(ubl, MAX_ATTRIBUTES_PER_TAG), headers=XML
    )
    assert kept.status_code == 202, kept.text


@pytest.mark.parametrize("large", [False, True], ids=["tree read", "pull read (1 MB and more)"])
def test_ubl_route_refuses_a_namespace_uri_above_the_limit_before_parsing_it(
    docs: DocumentAPI, large: bool
) -> None:
    # libxml2 parses a URI of any length: 20 MB of it cost the receiver's SBD read 9 times its bytes.
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    if large:  # the header's pull read (``HEADER_PULL_ABOVE_BYTES``)
        ubl = ubl.replace(b"</cbc:IssueDate>", b"</cbc:IssueDate><!--" + b"x" * 1_100_000 + b"-->", 1)

    def declaring(uri_bytes: int) -> bytes:
        uri = b"urn:" + b"u" * (uri_bytes - 4)
        return ubl.replace(b"<Invoice ", b'<Invoice xmlns:long="' + uri + b'" ', 1)

    response = docs.client.post(
        "/v1/outbound/ubl", content=declaring(MAX_NAMESPACE_URI_BYTES + 1), headers=XML
    )
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/xml-limit"
    assert f"namespace URI of more than {MAX_NAMESPACE_URI_BYTES} bytes" in problem["detail"]
    assert counts(docs) == (0, 0)
    # Below it, the validation's parser judges: it allows 1,000 characters (``jdk.xml.maxXMLNameLimit``).
    longer = docs.client.post("/v1/outbound/ubl", content=declaring(1_001), headers=XML)
    assert problem_of(longer)["type"] == "/problems/document-invalid"
    kept = docs.client.post("/v1/outbound/ubl", content=declaring(1_000), headers=XML)
    assert kept.status_code == 202, kept.text


NAMING: dict[str, Callable[[bytes, bytes], bytes]] = {
    "element": lambda ubl, name: ubl.replace(b"</Invoice>", b"<" + name + b"/></Invoice>", 1),
    "attribute": lambda ubl, name: ubl.replace(b"<Invoice ", b"<Invoice " + name + b'="1" ', 1),
    "prefix": lambda ubl, name: ubl.replace(b"<Invoice ", b"<Invoice xmlns:" + name[6:] + b'="urn:p" ', 1),
}


@pytest.mark.parametrize("large", [False, True], ids=["tree read", "pull read (1 MB and more)"])
@pytest.mark.parametrize("kind", NAMING)
def test_ubl_route_refuses_a_long_name_before_parsing_it(docs: DocumentAPI, kind: str, large: bool) -> None:
    # libxml2 reads a name of up to 10 MB under huge_tree, and copies it: 9.9 MB cost the receiver's SBD read
    # 4 times its bytes, a UBL parse 1 to 2 times (``xmlcore.name_length``). 800 kB here, in this API's
    # body limit of 2 MiB (5 MB: tests/unit/test_xml_name_bound.py).
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    if large:  # the header's pull read (``HEADER_PULL_ABOVE_BYTES``)
        ubl = ubl.replace(b"</cbc:IssueDate>", b"</cbc:IssueDate><!--" + b"x" * 1_100_000 + b"-->", 1)
    response = docs.client.post("/v1/outbound/ubl", content=NAMING[kind](ubl, b"n" * 800_000), headers=XML)
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/xml-limit"
    assert f"namespace prefix name of more than {MAX_NAME_BYTES} bytes" in problem["detail"]
    assert f"the limit is {MAX_NAME_BYTES}" in problem["detail"]
    assert counts(docs) == (0, 0)


def test_below_the_name_limit_the_validation_s_parser_judges(docs: DocumentAPI) -> None:
    # It allows a prefix or local name of 1,000 characters (``jdk.xml.maxXMLNameLimit``): the bound is above.
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    declaring = NAMING["prefix"]
    at_limit = docs.client.post(
        "/v1/outbound/ubl", content=declaring(ubl, b"n" * MAX_NAME_BYTES), headers=XML
    )
    assert problem_of(at_limit)["type"] == "/problems/document-invalid"
    longer = docs.client.post("/v1/outbound/ubl", content=declaring(ubl, b"n" * (6 + 1_001)), headers=XML)
    assert problem_of(longer)["type"] == "/problems/document-invalid"
    kept = docs.client.post("/v1/outbound/ubl", content=declaring(ubl, b"n" * (6 + 1_000)), headers=XML)
    assert kept.status_code == 202, kept.text


@pytest.mark.parametrize("large", [False, True], ids=["tree read", "pull read (1 MB and more)"])
def test_ubl_route_refuses_a_utf_16_document_before_parsing_it_and_takes_iso_8859_1(
    docs: DocumentAPI, large: bool
) -> None:
    # The byte scans before the parse (attributes, names) read "<" and "=" as bytes: a UTF-16 name of
    # characters holding a "3C" byte left them no gap (``xmlcore.encoding``). Refused, never transcoded.
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    if large:  # the header's pull read (``HEADER_PULL_ABOVE_BYTES``), 1.2 MB in UTF-16
        ubl = ubl.replace(b"</cbc:IssueDate>", b"</cbc:IssueDate><!--" + b"x" * 600_000 + b"-->", 1)
    text = ubl.decode()
    assert text.startswith("<?xml version='1.0' encoding='UTF-8'?>")
    utf16 = text.replace("'UTF-8'", "'UTF-16'", 1).encode("utf-16")
    response = docs.client.post("/v1/outbound/ubl", content=utf16, headers=XML)
    assert response.status_code == 400, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/xml-encoding"
    assert problem["detail"].startswith("UBL document is encoded in UTF-16 (a byte order mark): ")
    assert counts(docs) == (0, 0)
    latin = text.replace("'UTF-8'", "'ISO-8859-1'", 1).encode("latin-1")
    kept = docs.client.post("/v1/outbound/ubl", content=latin, headers=XML)
    assert kept.status_code == 202, kept.text


# -- the seller is the cooperative -------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["invoices", "credit-notes"])
def test_json_document_of_another_seller_is_refused_and_nothing_stored(docs: DocumentAPI, route: str) -> None:
    # BT-34 of another company would be sent over AS4 from our access point in that company's name.
    seller = {**SELLER, "enterprise_number": OTHER_COMPANY, "vat_number": f"BE{OTHER_COMPANY}"}
    data = invoice_data(seller=seller)
    if route == "credit-notes":
        data.update(kind="credit_note", number="2026-C-1", preceding_invoices=[{"number": "2026-0004711"}])
    response = docs.client.post(f"/v1/outbound/{route}", content=body_of(data))
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/invalid-document-data"
    # BT-34 first, then the enterprise and VAT numbers (BT-30, BT-31) that name the other company too.
    assert problem["errors"] == [
        f"seller.endpoint: BT-34 seller electronic address 0208:{OTHER_COMPANY} is not the cooperative's "
        f"participant id {SELLER_ID}; the seller must be the cooperative "
        "(documents are sent in its name only)",
        f"seller.legal_registration_id: BT-30 seller legal registration identifier 0208:{OTHER_COMPANY} is "
        f"not the cooperative's ({SELLER_ID}); the seller must be the cooperative "
        "(documents are sent in its name only)",
        f"seller.vat_identifier: BT-31 seller VAT identifier BE{OTHER_COMPANY} is not the cooperative's "
        "(BE0739484052); the seller must be the cooperative (documents are sent in its name only)",
    ]
    assert counts(docs) == (0, 0)


def test_ubl_of_another_seller_is_refused_and_nothing_stored(docs: DocumentAPI) -> None:
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    assert ubl.count(OUR_SELLER) == 1
    other = ubl.replace(
        OUR_SELLER, f'<cbc:EndpointID schemeID="0208">{OTHER_COMPANY}</cbc:EndpointID>'.encode()
    )
    for key in ({}, {"Idempotency-Key": "other-seller"}):
        response = docs.client.post("/v1/outbound/ubl", content=other, headers={**XML, **key})
        assert response.status_code == 422, response.text
        problem = problem_of(response)
        assert problem["type"] == "/problems/invalid-document-data"
        [error] = problem["errors"]
        assert error.startswith(
            "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID: BT-34 seller electronic address "
            f"0208:{OTHER_COMPANY} is not the cooperative's participant id {SELLER_ID}"
        )
    assert counts(docs) == (0, 0)
    # The cooperative's own document under that number is still free to send.
    assert docs.client.post("/v1/outbound/ubl", content=ubl, headers=XML).status_code == 202


def test_ubl_with_the_cooperatives_vat_form_of_bt34_is_sent_in_its_name(docs: DocumentAPI) -> None:
    # 9925:BE0739484052 is the cooperative's VAT number: the same enterprise as 0208:0739484052.
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    vat_form = ubl.replace(OUR_SELLER, b'<cbc:EndpointID schemeID="9925">BE0739484052</cbc:EndpointID>')
    response = docs.client.post("/v1/outbound/ubl", content=vat_form, headers=XML)
    assert response.status_code == 202, response.text
    shown = docs.client.get(response.json()["status_url"]).json()
    assert (shown["sender"], shown["seller_id"]) == ("9925:BE0739484052", SELLER_ID)


def test_document_with_our_bt34_but_another_companys_vat_or_registration_is_refused(
    docs: DocumentAPI,
) -> None:
    # BT-34 alone does not make the document ours: BT-31 and BT-30 of another company would still state that
    # company as the seller, in an invoice sent from our access point.
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    vat = b"<cbc:CompanyID>BE0739484052</cbc:CompanyID>"
    legal = b'<cbc:CompanyID schemeID="0208">0739484052</cbc:CompanyID>'
    assert ubl.count(vat) == ubl.count(legal) == 1
    for other, field in (
        (ubl.replace(vat, f"<cbc:CompanyID>BE{OTHER_COMPANY}</cbc:CompanyID>".encode()), "PartyTaxScheme"),
        (ubl.replace(legal, legal.replace(b"0739484052", OTHER_COMPANY.encode())), "PartyLegalEntity"),
    ):
        response = docs.client.post("/v1/outbound/ubl", content=other, headers=XML)
        assert response.status_code == 422, response.text
        problem = problem_of(response)
        assert problem["type"] == "/problems/invalid-document-data"
        [error] = problem["errors"]
        assert error.startswith(f"cac:AccountingSupplierParty/cac:Party/cac:{field}/cbc:CompanyID: BT-3")
    # The JSON sugar: our BT-34 given, the enterprise and VAT numbers of another company.
    seller = {
        **SELLER,
        "endpoint": {"scheme": "0208", "value": "0739484052"},
        "enterprise_number": OTHER_COMPANY,
        "vat_number": f"BE{OTHER_COMPANY}",
    }
    response = docs.client.post("/v1/outbound/invoices", content=body_of(invoice_data(seller=seller)))
    assert response.status_code == 422, response.text
    errors = problem_of(response)["errors"]
    assert [error.split(":")[0] for error in errors] == [
        "seller.legal_registration_id",
        "seller.vat_identifier",
    ]
    assert counts(docs) == (0, 0)
    assert docs.client.post("/v1/outbound/ubl", content=ubl, headers=XML).status_code == 202


VAT_UNIT = "BE0799999976"  # a VAT unit (BTW-eenheid) the cooperative is a member of: its own VAT number


def _ubl_submit(submitter: OutboundSubmitter, ubl: bytes) -> Any:
    return submitter.submit(
        Submission("POST /v1/outbound/ubl", ubl), lambda: prepare_ubl_document(ubl, max_bytes=1_000_000)
    )


def test_a_vat_unit_member_sends_under_the_units_vat_number(docs: DocumentAPI) -> None:
    # A member of a VAT unit invoices under the unit's VAT number (BT-31), not BE and its enterprise number:
    # GATEWAY_SELLER_VAT_NUMBER, read where the submitter is built.
    settings = docs.services.settings.model_copy(update={"seller_vat_number": VAT_UNIT})
    member = Services(
        settings=settings,
        validation=docs.services.validation,
        store=docs.store,
        clock=docs.clock,
        ids=docs.ids,
    ).submitter
    ubl = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    vat = b"<cbc:CompanyID>BE0739484052</cbc:CompanyID>"
    unit = ubl.replace(vat, f"<cbc:CompanyID>{VAT_UNIT}</cbc:CompanyID>".encode())
    with pytest.raises(InvalidDocumentData, match="BT-31 seller VAT identifier BE0799999976"):
        _ubl_submit(docs.services.submitter, unit)  # without the setting: another enterprise's number
    assert _ubl_submit(member, unit).outcome is SubmissionOutcome.ACCEPTED
    # Another Belgian VAT number is still refused, and so is BE and the enterprise number as BT-31.
    for other in (f"BE{OTHER_COMPANY}", "BE0739484052"):
        refused = ubl.replace(vat, f"<cbc:CompanyID>{other}</cbc:CompanyID>".encode())
        with pytest.raises(InvalidDocumentData) as raised:
            _ubl_submit(member, refused)
        assert f"BT-31 seller VAT identifier {other} is not the cooperative's ({VAT_UNIT})" in str(
            raised.value
        )
    # The JSON sugar: the unit's VAT number beside the cooperative's enterprise number.
    data = invoice_data(seller={**SELLER, "vat_number": VAT_UNIT}, number="2026-0004712")
    assert _submit(member, data).outcome is SubmissionOutcome.ACCEPTED
    assert counts(docs) == (2, 2)


# -- validation refusal ------------------------------------------------------------------------------------


def test_invalid_document_is_refused_with_the_full_report_and_nothing_stored(docs: DocumentAPI) -> None:
    response = post_invoice(docs, invoice_data(lines=[line(unit_code="FOO")]))
    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["type"] == "/problems/document-invalid"
    assert problem["status"] == 422
    assert problem["instance"] == "/v1/outbound/invoices"
    assert "BR-CL-23" in problem["detail"]
    report = problem["report"]
    assert report["valid"] is False
    assert report["rule_set"] == "peppol-bis-billing-3.0.21"
    assert ("BR-CL-23", "fatal") in {(i["rule"], i["severity"]) for i in report["issues"]}
    assert counts(docs) == (0, 0)
    # The number stays free: the corrected document is accepted.
    assert post_invoice(docs).status_code == 202


def test_inconsistent_json_is_refused_before_validation(docs: DocumentAPI) -> None:
    data = invoice_data()
    del data["buyer_reference"]
    response = post_invoice(docs, data)
    assert response.status_code == 422
    assert any("PEPPOL-EN16931-R003" in e for e in problem_of(response)["errors"])
    assert docs.client.post("/v1/outbound/invoices", content=b"{not json").status_code == 422
    assert counts(docs) == (0, 0)


# -- idempotency -------------------------------------------------------------------------------------------


def test_same_idempotency_key_twice_returns_the_first_answer_and_one_document(docs: DocumentAPI) -> None:
    first = post_invoice(docs, None, **{"Idempotency-Key": "order-1"})
    again = post_invoice(docs, None, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert counts(docs) == (1, 1)


def test_same_key_with_another_body_or_route_is_a_conflict(docs: DocumentAPI) -> None:
    assert post_invoice(docs, None, **{"Idempotency-Key": "k-2"}).status_code == 202
    other = post_invoice(docs, invoice_data(number="2026-0004712"), **{"Idempotency-Key": "k-2"})
    assert other.status_code == 409
    assert problem_of(other)["type"] == "/problems/idempotency-conflict"
    elsewhere = docs.client.post(
        "/v1/outbound/credit-notes", content=body_of(invoice_data()), headers={"Idempotency-Key": "k-2"}
    )
    assert elsewhere.status_code == 409
    assert counts(docs) == (1, 1)


def test_idempotency_keys_are_scoped_per_api_client(docs: DocumentAPI) -> None:
    """Two clients choosing the same key: each gets its own document and replays only its own answer."""
    key = {"Idempotency-Key": "order-1"}
    ours = post_invoice(docs, None, **key)
    theirs = docs.client.post(
        "/v1/outbound/invoices",
        content=body_of(invoice_data(number="2026-0004712")),
        headers={**key, **auth("admin")},
    )
    assert (ours.status_code, theirs.status_code) == (202, 202), theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != ours.json()["id"]
    again = post_invoice(docs, None, **key)  # the same client's replay still works
    assert again.json() == ours.json()
    assert again.headers["idempotent-replayed"] == "true"
    their_again = docs.client.post(
        "/v1/outbound/invoices",
        content=body_of(invoice_data(number="2026-0004712")),
        headers={**key, **auth("admin")},
    )
    assert their_again.json() == theirs.json()
    assert their_again.headers["idempotent-replayed"] == "true"
    assert counts(docs) == (2, 2)


def test_a_refused_document_replays_its_refusal_under_its_key(docs: DocumentAPI) -> None:
    bad = invoice_data(lines=[line(unit_code="FOO")])
    first = post_invoice(docs, bad, **{"Idempotency-Key": "bad-1"})
    again = post_invoice(docs, bad, **{"Idempotency-Key": "bad-1"})
    assert first.status_code == again.status_code == 422
    assert problem_of(again) == problem_of(first)
    assert again.headers["idempotent-replayed"] == "true"
    assert counts(docs) == (0, 0)


def test_malformed_idempotency_key_is_refused(docs: DocumentAPI) -> None:
    response = post_invoice(docs, None, **{"Idempotency-Key": "has space"})
    assert response.status_code == 422
    assert problem_of(response)["type"] == "/problems/request-invalid"


def test_two_different_idempotency_keys_in_one_request_are_refused(docs: DocumentAPI) -> None:
    # Two field lines mean "k-1, k-2" once a proxy joins them (RFC 9110 §5.3), which the key's pattern
    # refuses; read apart, the first would act and the second be dropped unseen. Neither is guessed.
    response = docs.client.post(
        "/v1/outbound/invoices",
        content=body_of(invoice_data()),
        headers=[("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")],
    )
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/request-invalid"
    assert problem["errors"][0]["location"] == "header.Idempotency-Key"
    assert counts(docs) == (0, 0)
    # The same key repeated is one key.
    repeated = [("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-1")]
    assert (
        docs.client.post(
            "/v1/outbound/invoices", content=body_of(invoice_data()), headers=repeated
        ).status_code
        == 202
    )
    assert post_invoice(docs, None, **{"Idempotency-Key": "k-1"}).headers["idempotent-replayed"] == "true"


def test_repeat_of_a_number_without_key_returns_the_first_document(docs: DocumentAPI) -> None:
    first = post_invoice(docs)
    move(docs, first.json()["id"], DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED)
    again = post_invoice(docs)
    assert again.status_code == 200
    assert again.json() == {
        "id": first.json()["id"],
        "status": "delivered",
        "status_url": first.json()["status_url"],
        "duplicate": True,
    }
    # Even with a new key the number is not sent twice; the key then replays the duplicate answer.
    keyed = post_invoice(docs, None, **{"Idempotency-Key": "late-key"})
    assert keyed.status_code == 200
    assert keyed.json()["id"] == first.json()["id"]
    assert counts(docs) == (1, 1)  # the first document's job (left by this test's fake worker), no other


def test_another_body_under_a_stored_number_is_a_conflict(docs: DocumentAPI, artefacts_dir: Path) -> None:
    first = post_invoice(docs)
    changed = post_invoice(docs, invoice_data(lines=[line(price="200.00")]))
    assert changed.status_code == 409
    problem = problem_of(changed)
    assert problem["type"] == "/problems/document-number-conflict"
    assert first.json()["id"] in problem["detail"]
    # The same number as ready UBL (other bytes) conflicts as well.
    ubl = prepare_json_document(Invoice.model_validate(invoice_data(lines=[line(qty="2")]))).ubl
    assert docs.client.post("/v1/outbound/ubl", content=ubl, headers=XML).status_code == 409
    # The identical UBL posted on the UBL route is the same document.
    same = prepare_json_document(Invoice.model_validate(invoice_data())).ubl
    assert docs.client.post("/v1/outbound/ubl", content=same, headers=XML).json()["duplicate"] is True
    assert counts(docs) == (1, 1)


@pytest.mark.parametrize("key", [None, "race-key"])
def test_concurrent_identical_posts_create_one_document(docs: DocumentAPI, key: str | None) -> None:
    body = body_of(invoice_data())
    submitter = OutboundSubmitter(
        store=docs.store,
        validation=docs.services.validation,
        clock=docs.clock,
        ids=_LockedIDs(),
        seller_id=SELLER_ID,
    )
    barrier = threading.Barrier(6)
    results: list[Any] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait()
            results.append(
                submitter.submit(
                    Submission("POST /v1/outbound/invoices", body, key),
                    lambda: prepare_json_document(Invoice.model_validate_json(body)),
                )
            )
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({result.document_id for result in results}) == 1
    assert (
        sum(result.outcome is SubmissionOutcome.ACCEPTED and not result.replayed for result in results) == 1
    )
    assert counts(docs) == (1, 1)


class _StoringWhileValidating:
    """A validation engine that stores ``rival`` through another submitter while it validates: the number
    is taken between the submission's number check and its insert."""

    def __init__(self, docs: DocumentAPI, rival: Submission, prepare: Any) -> None:
        self._engine = docs.services.validation
        self._rival = OutboundSubmitter(
            store=docs.store, validation=self._engine, clock=docs.clock, ids=_LockedIDs(), seller_id=SELLER_ID
        )
        self._submission = rival
        self._prepare = prepare
        self.rival_outcomes: list[SubmissionOutcome] = []

    def validate(self, ubl: bytes, *, rule_set: str | None = None) -> ValidationReport:
        if not self.rival_outcomes:
            self.rival_outcomes.append(self._rival.submit(self._submission, self._prepare).outcome)
        return self._engine.validate(ubl, rule_set=rule_set)


@pytest.mark.parametrize("key", [None, "late-key"])
def test_number_taken_between_check_and_insert_answers_the_stored_document(
    docs: DocumentAPI, key: str | None
) -> None:
    body = body_of(invoice_data())

    def prepare() -> Any:
        return prepare_json_document(Invoice.model_validate_json(body))

    validation = _StoringWhileValidating(docs, Submission("POST /v1/outbound/invoices", body), prepare)
    submitter = OutboundSubmitter(
        store=docs.store,
        validation=validation,  # type: ignore[arg-type]
        clock=docs.clock,
        ids=_LockedIDs(),
        seller_id=SELLER_ID,
    )
    result = submitter.submit(Submission("POST /v1/outbound/invoices", body, key), prepare)
    assert validation.rival_outcomes == [SubmissionOutcome.ACCEPTED]
    assert result.outcome is SubmissionOutcome.DUPLICATE
    assert counts(docs) == (1, 1)
    if key is not None:  # the key now replays the duplicate answer
        again = submitter.submit(Submission("POST /v1/outbound/invoices", body, key), prepare)
        assert (again.replayed, again.document_id) == (True, result.document_id)


def test_other_content_under_a_number_taken_during_validation_is_a_conflict(docs: DocumentAPI) -> None:
    body = body_of(invoice_data())
    rival = body_of(invoice_data(lines=[line(qty="2")]))
    validation = _StoringWhileValidating(
        docs,
        Submission("POST /v1/outbound/invoices", rival),
        lambda: prepare_json_document(Invoice.model_validate_json(rival)),
    )
    submitter = OutboundSubmitter(
        store=docs.store,
        validation=validation,  # type: ignore[arg-type]
        clock=docs.clock,
        ids=_LockedIDs(),
        seller_id=SELLER_ID,
    )
    with pytest.raises(DocumentNumberConflict):
        submitter.submit(
            Submission("POST /v1/outbound/invoices", body),
            lambda: prepare_json_document(Invoice.model_validate_json(body)),
        )
    assert counts(docs) == (1, 1)


class _LockedIDs:
    """Thread-safe fresh UUIDs for the race test."""

    def new_id(self) -> str:
        import uuid

        return str(uuid.uuid4())


def test_idempotency_conflict_is_raised_by_the_service(docs: DocumentAPI) -> None:
    submitter = OutboundSubmitter(
        store=docs.store,
        validation=docs.services.validation,
        clock=docs.clock,
        ids=docs.ids,
        seller_id=SELLER_ID,
    )
    data = invoice_data()
    submitter.submit(
        Submission("POST /v1/outbound/invoices", body_of(data), "svc-key"),
        lambda: prepare_json_document(Invoice.model_validate(data)),
    )
    with pytest.raises(IdempotencyConflict):
        submitter.submit(
            Submission("POST /v1/outbound/invoices", b"{}", "svc-key"), lambda: pytest.fail("parsed")
        )


# -- listing -----------------------------------------------------------------------------------------------


def _seed_listing(docs: DocumentAPI) -> list[str]:
    """Five invoices, oldest first: numbers N-1..N-5; N-4 to another buyer; N-2 delivered, N-3 failed."""
    ids = []
    for n in range(1, 6):
        data = invoice_data(number=f"N-{n}")
        if n == 4:
            data["buyer"] = {**data["buyer"], "enterprise_number": "0203201340", "vat_number": "BE0203201340"}
        response = post_invoice(docs, data)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    move(docs, ids[1], DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED)
    move(docs, ids[2], DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE)
    return ids


def test_list_filters_by_status_receiver_number_and_since(docs: DocumentAPI) -> None:
    ids = _seed_listing(docs)
    headers = auth("support")

    def listed(query: str) -> list[str]:
        response = docs.client.get(f"/v1/outbound?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert listed("") == ids[::-1]
    assert listed("status=delivered") == [ids[1]]
    assert listed("status=failed") == [ids[2]]
    assert listed("status=accepted") == [ids[4], ids[3], ids[0]]
    assert listed("receiver=0208:0203201340") == [ids[3]]
    assert listed("number=N-5") == [ids[4]]
    assert listed("number=N-5&status=failed") == []
    created = docs.client.get(f"/v1/outbound/{ids[3]}").json()["created_at"]
    assert listed(f"since={created.replace('+', '%2B')}") == [ids[4], ids[3]]
    item = docs.client.get("/v1/outbound?status=failed", headers=headers).json()["items"][0]
    assert item["status_reason"] == "test permanent-failure"
    assert item["status_url"] == f"/v1/outbound/{ids[2]}"


def test_list_pages_with_a_keyset_cursor(docs: DocumentAPI) -> None:
    ids = _seed_listing(docs)
    seen: list[str] = []
    url = "/v1/outbound?limit=2"
    pages = 0
    while True:
        page = docs.client.get(url).json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/v1/outbound?limit=2&cursor={page['next_cursor']}"
    assert pages == 3
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        ("cursor=not-a-cursor", 400, "invalid-cursor"),
        ("receiver=nonsense", 422, "invalid-identifier"),
        ("status=lost", 422, "request-invalid"),
        ("since=2026-11-02T09:00:00", 422, "request-invalid"),
        ("limit=0", 422, "request-invalid"),
        ("limit=501", 422, "request-invalid"),
    ],
)
def test_list_refuses_bad_parameters_with_problem_json(
    docs: DocumentAPI, query: str, status: int, kind: str
) -> None:
    response = docs.client.get(f"/v1/outbound?{query}")
    assert response.status_code == status
    assert problem_of(response)["type"] == f"/problems/{kind}"


def test_unknown_document_is_404_problem(docs: DocumentAPI) -> None:
    for suffix in ("", "/ubl", "/evidence"):
        response = docs.client.get(f"/v1/outbound/00000000-0000-0000-0000-00000000dead{suffix}")
        assert response.status_code == 404
        assert problem_of(response)["type"] == "/problems/not-found"


# -- retry -------------------------------------------------------------------------------------------------


def test_retry_of_a_failed_document_requeues_it(docs: DocumentAPI) -> None:
    document_id = post_invoice(docs).json()["id"]
    move(docs, document_id, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    assert counts(docs) == (1, 0)
    shown = docs.client.get(f"/v1/outbound/{document_id}", headers=auth("support")).json()
    assert shown["retry_allowed"] is True

    response = docs.client.post(f"/v1/outbound/{document_id}/retry", headers=auth("support"))
    assert response.status_code == 202, response.text
    shown = response.json()
    assert shown["status"] == "retrying"
    assert shown["status_reason"] == "retry requested by support-client"
    last = shown["timeline"][-1]
    assert (last["event"], last["from_status"], last["to_status"]) == (
        "retry-requested",
        "failed",
        "retrying",
    )
    assert last["detail"] == {"requested_by": "support-client", "previous_reason": "test permanent-failure"}
    assert shown["next_job_due_at"] == shown["next_attempt_at"] == last["at"]
    assert counts(docs) == (1, 1)


def test_retry_allowed_is_false_for_a_caller_whose_role_may_not_retry(docs: DocumentAPI) -> None:
    # The offer is for this caller: the sender's key reads the document but POST .../retry answers it 403,
    # so it is not offered one; support and admin, whom the retry route admits, are.
    document_id = post_invoice(docs).json()["id"]
    move(docs, document_id, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    url = f"/v1/outbound/{document_id}"
    offers = {role: docs.client.get(url, headers=auth(role)).json()["retry_allowed"] for role in KEYS}
    assert offers == {"sender": False, "support": True, "admin": True}
    assert docs.client.post(f"{url}/retry", headers=auth("sender")).status_code == 403
    assert docs.client.get(url, headers=auth("sender")).json()["status"] == "failed"


def test_retry_of_a_retrying_document_brings_the_attempt_forward(docs: DocumentAPI) -> None:
    document_id = post_invoice(docs).json()["id"]
    later = docs.clock.at + timedelta(hours=1)
    with docs.store.unit_of_work() as uow:
        uow.outbound.transition(document_id, DeliveryEvent.SEND_STARTED, at=docs.clock.now())
        lease = uow.jobs.lease(now=docs.clock.now(), limit=1, lease_for=timedelta(minutes=5), token="w")[0]
        uow.outbound.transition(
            document_id, DeliveryEvent.RETRYABLE_FAILURE, at=docs.clock.now(), next_attempt_at=later
        )
        uow.jobs.reschedule(lease.document_id, "w", due_at=later, error="HTTP 503")
        uow.commit()
    response = docs.client.post(f"/v1/outbound/{document_id}/retry", headers=auth("admin"))
    assert response.status_code == 202
    due = response.json()["next_job_due_at"]
    assert due == response.json()["timeline"][-1]["at"]
    assert due < later.isoformat()


@pytest.mark.parametrize(
    "events",
    [(), (DeliveryEvent.SEND_STARTED,), (DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED)],
)
def test_retry_is_refused_unless_failed_or_retrying(
    docs: DocumentAPI, events: tuple[DeliveryEvent, ...]
) -> None:
    document_id = post_invoice(docs).json()["id"]
    move(docs, document_id, *events)
    before = docs.client.get(f"/v1/outbound/{document_id}").json()
    response = docs.client.post(f"/v1/outbound/{document_id}/retry", headers=auth("support"))
    assert response.status_code == 409
    assert problem_of(response)["type"] == "/problems/status-conflict"
    assert docs.client.get(f"/v1/outbound/{document_id}").json() == before


def test_retry_of_a_response_with_a_later_one_queued_is_a_409_of_its_own(
    docs: DocumentAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(_self: object, document_id: str, *, requested_by: str) -> None:
        raise LaterResponseQueued(
            DeliveryStatus.FAILED, DeliveryEvent.RETRY_REQUESTED, document_id, "later-response"
        )

    monkeypatch.setattr(OutboundSubmitter, "request_retry", refused)  # a frozen dataclass
    response = docs.client.post("/v1/outbound/earlier-response/retry", headers=auth("support"))
    assert response.status_code == 409
    problem = problem_of(response)
    assert problem["type"] == "/problems/later-response-queued"
    assert "later-response" in problem["detail"]


def _responses(docs: DocumentAPI, count: int) -> list[str]:
    """``count`` Invoice Responses to one received document, each queued behind the one before it."""
    with docs.store.unit_of_work() as uow:
        queued = invoice_responses(uow, new_id(), count)
        uow.commit()
    return queued


def test_a_failed_response_with_a_later_one_queued_is_not_offered_for_retry(docs: DocumentAPI) -> None:
    # The offer follows the rule request_retry applies (LaterResponseQueued): no retry_allowed then a 409.
    ab, _ap = _responses(docs, 2)
    (alone,) = _responses(docs, 1)
    for failed in (ab, alone):
        move(docs, failed, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    shown = docs.client.get(f"/v1/outbound/{ab}", headers=auth("support")).json()
    assert (shown["status"], shown["retry_allowed"]) == ("failed", False)
    refused = docs.client.post(f"/v1/outbound/{ab}/retry", headers=auth("support"))
    assert problem_of(refused)["type"] == "/problems/later-response-queued"
    # A failed response with no later one is offered, and retried.
    assert docs.client.get(f"/v1/outbound/{alone}", headers=auth("support")).json()["retry_allowed"] is True
    retried = docs.client.post(f"/v1/outbound/{alone}/retry", headers=auth("support"))
    assert (retried.status_code, retried.json()["status"]) == (202, "retrying")


def test_a_response_waiting_for_an_earlier_one_names_it_while_it_waits(docs: DocumentAPI) -> None:
    ab, ap = _responses(docs, 2)
    invoice_id = post_invoice(docs).json()["id"]

    def waiting_for(document_id: str) -> object:
        return docs.client.get(f"/v1/outbound/{document_id}").json()["waiting_for_document_id"]

    assert (waiting_for(ab), waiting_for(ap), waiting_for(invoice_id)) == (None, ab, None)
    move(docs, ab, DeliveryEvent.SEND_STARTED, DeliveryEvent.RETRYABLE_FAILURE)
    assert waiting_for(ap) == ab  # AB retrying: AP still waits
    move(docs, ab, DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED)
    assert waiting_for(ap) is None  # AB delivered: AP goes at its next attempt
    # Once the earlier one failed for good, the later one waits no more either.
    xb, xp = _responses(docs, 2)
    move(docs, xb, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    assert waiting_for(xp) is None
    # Nor does a later one that is final itself.
    _yb, yp = _responses(docs, 2)
    move(docs, yp, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    assert waiting_for(yp) is None


def test_the_detail_of_an_ordinary_invoice_reads_nothing_about_responses(docs: DocumentAPI) -> None:
    # Only an Invoice Response needs the lookups behind retry_allowed and waiting_for_document_id.
    invoice_id = post_invoice(docs).json()["id"]
    move(docs, invoice_id, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    ab, _ap = _responses(docs, 2)
    move(docs, ab, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)

    def selects(document_id: str) -> list[str]:
        seen: list[str] = []

        def statement(_conn: object, _cursor: object, text: str, *_args: object) -> None:
            if text.lstrip().upper().startswith("SELECT"):
                seen.append(text)

        sql_event.listen(docs.store.engine, "before_cursor_execute", statement)
        try:
            assert docs.client.get(f"/v1/outbound/{document_id}").status_code == 200
        finally:
            sql_event.remove(docs.store.engine, "before_cursor_execute", statement)
        return seen

    # The document, its timeline, its job and its messages; the failed response's later one on top.
    assert len(selects(invoice_id)) == 4
    assert len(selects(ab)) > 4


def test_retry_of_an_unknown_document_is_404(docs: DocumentAPI) -> None:
    response = docs.client.post("/v1/outbound/nope/retry", headers=auth("support"))
    assert response.status_code == 404


# -- evidence ----------------------------------------------------------------------------------------------

REQUEST = RawHTTPMessage(
    (
        ("Content-Type", 'multipart/related; type="application/soap+xml"; boundary=b1'),
        ("MIME-Version", "1.0"),
    ),
    b"--b1\r\nContent-Type: application/soap+xml\r\n\r\n<S12:Envelope/>\r\n--b1--\r\n\x00\xff",
)
RECEIPT = RawHTTPMessage(
    (("Content-Type", "application/soap+xml"),), b"<S12:Envelope>signed receipt</S12:Envelope>"
)
SUMMARY = {"ref_to_message_id": "m-1@gateway", "timestamp": "2026-11-02T09:00:30Z", "signer": "CN=POP000001"}


def _seed_delivery(docs: DocumentAPI) -> str:
    document_id = str(post_invoice(docs).json()["id"])
    with docs.store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord("m-1@gateway", Direction.OUT, REQUEST, docs.clock.now(), document_id, "sbdh-1")
        )
        uow.outbound.transition(
            document_id, DeliveryEvent.SEND_STARTED, at=docs.clock.now(), as4_message_id="m-1@gateway"
        )
        signal = AS4Signal(SignalKind.RECEIPT, RECEIPT, docs.clock.now(), receipt_summary=SUMMARY)
        uow.messages.record_signal("m-1@gateway", Direction.OUT, signal)
        uow.outbound.transition(document_id, DeliveryEvent.RECEIPT_RECEIVED, at=docs.clock.now())
        # The gateway sending to itself: the same message id received (IN) must not show as evidence.
        uow.messages.add(AS4MessageRecord("m-1@gateway", Direction.IN, REQUEST, docs.clock.now(), None))
        uow.commit()
    return document_id


def test_status_shows_as4_message_id_and_receipt_summary(docs: DocumentAPI) -> None:
    document_id = _seed_delivery(docs)
    shown = docs.client.get(f"/v1/outbound/{document_id}", headers=auth("support")).json()
    assert shown["status"] == "delivered"
    assert shown["attempts"] == 1
    assert shown["as4_message_id"] == "m-1@gateway"
    assert shown["receipt"]["kind"] == "receipt"
    assert shown["receipt"]["receipt"] == SUMMARY
    assert [e["event"] for e in shown["timeline"]] == ["submitted", "send-started", "receipt-received"]


def test_evidence_json_holds_the_exact_bytes_sent_and_received(docs: DocumentAPI) -> None:
    document_id = _seed_delivery(docs)
    response = docs.client.get(f"/v1/outbound/{document_id}/evidence", headers=auth("support"))
    assert response.status_code == 200
    evidence = response.json()
    assert evidence["as4_message_id"] == "m-1@gateway"
    ubl = docs.client.get(f"/v1/outbound/{document_id}/ubl").content
    assert evidence["ubl_sha256"] == hashlib.sha256(ubl).hexdigest()
    [message] = evidence["messages"]
    assert base64.b64decode(message["request"]["body_base64"]) == REQUEST.body
    assert message["request"]["body_sha256"] == hashlib.sha256(REQUEST.body).hexdigest()
    assert [tuple(h) for h in message["request"]["headers"]] == list(REQUEST.headers)
    assert base64.b64decode(message["signal"]["raw"]["body_base64"]) == RECEIPT.body
    assert message["signal"]["receipt"] == SUMMARY
    assert [e["event"] for e in evidence["timeline"]][-1] == "receipt-received"


@pytest.mark.parametrize("how", [{"params": {"format": "zip"}}, {"headers": {"Accept": "application/zip"}}])
def test_evidence_zip_for_auditors(docs: DocumentAPI, how: dict[str, Any]) -> None:
    document_id = _seed_delivery(docs)
    response = docs.client.get(f"/v1/outbound/{document_id}/evidence", **how)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f"evidence-{document_id}.zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    folder = "messages/1-m-1@gateway"
    assert {
        "README.txt",
        "document.xml",
        "validation-report.json",
        "timeline.json",
        "manifest.json",
        f"{folder}/request-headers.txt",
        f"{folder}/request-body.mime",
        f"{folder}/signal-headers.txt",
        f"{folder}/signal-body.xml",
        f"{folder}/signal.json",
        f"{folder}/signals/1-receipt/headers.txt",
        f"{folder}/signals/1-receipt/body.xml",
        f"{folder}/signals/1-receipt/signal.json",
    } == names
    assert archive.read(f"{folder}/request-body.mime") == REQUEST.body
    assert archive.read(f"{folder}/signal-body.xml") == RECEIPT.body
    assert archive.read("document.xml") == docs.client.get(f"/v1/outbound/{document_id}/ubl").content
    assert archive.read(f"{folder}/request-headers.txt").startswith(b"Content-Type: multipart/related")
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["document_id"] == document_id
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert set(manifest["sha256"]) == names - {"manifest.json"}


ERROR_500 = RawHTTPMessage(
    (("Content-Type", "application/soap+xml"), ("X-Status", "500")),
    b"<S12:Envelope>eb:Error EBMS:0004 temporarily unavailable</S12:Envelope>\x00",
)


def _seed_retried_delivery(docs: DocumentAPI) -> str:
    """A delivery answered first by a retryable ebMS error, then (retry) by a receipt."""
    document_id = str(post_invoice(docs).json()["id"])
    with docs.store.unit_of_work() as uow:
        uow.messages.add(
            AS4MessageRecord("m-1@gateway", Direction.OUT, REQUEST, docs.clock.now(), document_id, "sbdh-1")
        )
        uow.outbound.transition(
            document_id, DeliveryEvent.SEND_STARTED, at=docs.clock.now(), as4_message_id="m-1@gateway"
        )
        error = AS4Signal(SignalKind.ERROR, ERROR_500, docs.clock.now(), ebms_error_code="EBMS:0004")
        uow.messages.record_signal("m-1@gateway", Direction.OUT, error)
        uow.outbound.transition(document_id, DeliveryEvent.RETRYABLE_FAILURE, at=docs.clock.now())
        uow.outbound.transition(document_id, DeliveryEvent.SEND_STARTED, at=docs.clock.now())
        signal = AS4Signal(SignalKind.RECEIPT, RECEIPT, docs.clock.now(), receipt_summary=SUMMARY)
        uow.messages.record_signal("m-1@gateway", Direction.OUT, signal)
        uow.outbound.transition(document_id, DeliveryEvent.RECEIPT_RECEIVED, at=docs.clock.now())
        uow.commit()
    return document_id


def test_evidence_json_lists_every_signal_received_oldest_first(docs: DocumentAPI) -> None:
    document_id = _seed_retried_delivery(docs)
    evidence = docs.client.get(f"/v1/outbound/{document_id}/evidence", headers=auth("support")).json()
    [message] = evidence["messages"]
    history = message["signals"]
    assert [(s["kind"], s["ebms_error_code"]) for s in history] == [("error", "EBMS:0004"), ("receipt", None)]
    assert [base64.b64decode(s["raw"]["body_base64"]) for s in history] == [ERROR_500.body, RECEIPT.body]
    assert history[0]["raw"]["body_sha256"] == hashlib.sha256(ERROR_500.body).hexdigest()
    assert [tuple(h) for h in history[0]["raw"]["headers"]] == list(ERROR_500.headers)
    assert history[1]["receipt"] == SUMMARY
    # Compatibility: ``signal`` is still the latest one.
    assert base64.b64decode(message["signal"]["raw"]["body_base64"]) == RECEIPT.body
    assert message["signal"]["kind"] == "receipt"


def test_evidence_zip_holds_one_folder_per_signal_listed_in_the_manifest(docs: DocumentAPI) -> None:
    document_id = _seed_retried_delivery(docs)
    response = docs.client.get(f"/v1/outbound/{document_id}/evidence", params={"format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    folder = "messages/1-m-1@gateway"
    assert archive.read(f"{folder}/signals/1-error/body.xml") == ERROR_500.body
    assert archive.read(f"{folder}/signals/2-receipt/body.xml") == RECEIPT.body
    assert archive.read(f"{folder}/signals/1-error/headers.txt") == (
        b"Content-Type: application/soap+xml\r\nX-Status: 500\r\n"
    )
    assert archive.read(f"{folder}/signal-body.xml") == RECEIPT.body  # the latest, as before
    manifest = json.loads(archive.read("manifest.json"))
    [listed] = manifest["messages"]
    assert [(s["folder"], s["kind"], s["ebms_error_code"]) for s in listed["signals"]] == [
        (f"{folder}/signals/1-error", "error", "EBMS:0004"),
        (f"{folder}/signals/2-receipt", "receipt", None),
    ]
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert set(manifest["sha256"]) == set(archive.namelist()) - {"manifest.json"}


def test_evidence_of_an_undelivered_document_is_empty_but_present(docs: DocumentAPI) -> None:
    document_id = post_invoice(docs).json()["id"]
    evidence = docs.client.get(f"/v1/outbound/{document_id}/evidence").json()
    assert evidence["messages"] == []
    assert evidence["status"] == "accepted"


# -- roles -------------------------------------------------------------------------------------------------

DOC = "00000000-0000-0000-0000-000000000001"
ROUTES = [
    ("POST", "/v1/outbound/invoices", {"sender", "admin"}),
    ("POST", "/v1/outbound/credit-notes", {"sender", "admin"}),
    ("POST", "/v1/outbound/ubl", {"sender", "admin"}),
    ("GET", "/v1/outbound", {"sender", "support", "admin"}),
    ("GET", f"/v1/outbound/{DOC}", {"sender", "support", "admin"}),
    ("GET", f"/v1/outbound/{DOC}/ubl", {"sender", "support", "admin"}),
    ("GET", f"/v1/outbound/{DOC}/evidence", {"sender", "support", "admin"}),
    ("POST", f"/v1/outbound/{DOC}/retry", {"support", "admin"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
def test_every_route_checks_key_and_role(
    docs: DocumentAPI, method: str, path: str, allowed: set[str]
) -> None:
    post_invoice(docs)  # document DOC exists
    body = b"{}" if method == "POST" else None
    anonymous = docs.client.request(method, path, content=body, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert problem_of(anonymous)["status"] == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert (
        docs.client.request(method, path, content=body, headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    for role in ("sender", "support", "admin"):
        response = docs.client.request(method, path, content=body, headers=auth(role))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, role
            assert problem_of(response)["type"] == "/problems/http-403"


def test_openapi_documents_every_route(docs: DocumentAPI) -> None:
    spec = docs.client.get("/openapi.json").json()
    for method, path, _ in ROUTES:
        template = path.replace(DOC, "{document_id}")
        operation = spec["paths"][template][method.lower()]
        assert operation["summary"]
        assert operation["description"]
    invoice_body = spec["paths"]["/v1/outbound/invoices"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert "seller" in invoice_body["schema"]["properties"]
    assert "$defs" not in json.dumps(invoice_body)
    evidence = spec["paths"]["/v1/outbound/{document_id}/evidence"]["get"]["responses"]["200"]
    assert "application/zip" in evidence["content"]
    assert "zip" in evidence["description"]


# -- the service's unit of work ----------------------------------------------------------------------------


class _EnqueueFails:
    def enqueue(self, document_id: str, *, due_at: object) -> None:
        raise StoreError("queue unavailable")


class _StoreWithBrokenQueue:
    """The real store, except that queueing a job fails inside the unit of work."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def unit_of_work(self, *, read_only: bool = False) -> Any:
        return _BrokenQueueUnitOfWork(self.store.unit_of_work(read_only=read_only))

    def close(self) -> None:
        self.store.close()


class _BrokenQueueUnitOfWork:
    def __init__(self, uow: Any) -> None:
        self.uow = uow

    def __enter__(self) -> Any:
        entered = self.uow.__enter__()
        entered.jobs = _EnqueueFails()
        return entered

    def __exit__(self, *exc: object) -> None:
        self.uow.__exit__(*exc)


def _submitter(docs: DocumentAPI, **changes: Any) -> OutboundSubmitter:
    values: dict[str, Any] = {
        "store": docs.store,
        "validation": docs.services.validation,
        "clock": docs.clock,
        "ids": docs.ids,
        "seller_id": SELLER_ID,
    }
    values.update(changes)
    return OutboundSubmitter(**values)


def _submit(submitter: OutboundSubmitter, data: dict[str, Any], key: str | None = None) -> Any:
    return submitter.submit(
        Submission("POST /v1/outbound/invoices", body_of(data), key),
        lambda: prepare_json_document(Invoice.model_validate(data)),
    )


def test_document_timeline_job_and_key_are_one_unit_of_work(docs: DocumentAPI) -> None:
    broken = _submitter(docs, store=_StoreWithBrokenQueue(docs.store))
    with pytest.raises(StoreError):
        _submit(broken, invoice_data(), key="atomic")
    assert counts(docs) == (0, 0)
    with docs.store.unit_of_work(read_only=True) as uow:
        assert uow.idempotency.get("", "atomic") is None
    # Nothing half-written blocks the retry of the same request.
    assert _submit(_submitter(docs), invoice_data(), key="atomic").outcome is SubmissionOutcome.ACCEPTED


def test_status_changes_queue_webhooks_in_the_same_unit_of_work(docs: DocumentAPI) -> None:
    submitter = _submitter(docs, webhook_url="https://hooks.example/gateway")
    result = _submit(submitter, invoice_data())
    move(docs, result.document_id, DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE, fail_job=True)
    submitter.request_retry(result.document_id, requested_by="helpdesk")
    with docs.store.unit_of_work() as uow:
        leases = uow.outbox.lease(now=docs.clock.now(), limit=10, lease_for=timedelta(minutes=1), token="x")
    payloads = sorted((lease.message.payload for lease in leases), key=lambda p: p["created_at"])
    assert [(p["data"]["event"], p["data"]["status"]) for p in payloads] == [
        ("submitted", "accepted"),
        ("retry-requested", "retrying"),
    ]
    assert {lease.message.target for lease in leases} == {"default"}  # never the URL
    assert all(lease.message.document_id == result.document_id for lease in leases)


class _AlwaysValid:
    def validate(self, xml: bytes, *, rule_set: str | None = None) -> ValidationReport:
        return ValidationReport("test-rules", ())


def test_valid_document_without_a_peppol_or_email_receiver_is_refused(docs: DocumentAPI) -> None:
    # BIS validation normally catches this (PEPPOL-EN16931-CL008); the gateway never relies on it. The EAS
    # code AN (ODETTE) is neither a Peppol participant id nor an e-mail address (EM is e-mailed).
    data = invoice_data()
    data["buyer"] = {**data["buyer"], "endpoint": {"value": "O0013000093", "scheme": "AN"}}
    submitter = _submitter(docs, validation=_AlwaysValid())
    with pytest.raises(InvalidDocumentData, match="BT-49"):
        _submit(submitter, data, key="no-receiver")
    assert counts(docs) == (0, 0)
    response = post_invoice(docs, data)
    assert response.status_code == 422  # the real rules refuse it with the report
    assert "PEPPOL-EN16931-CL008" in problem_of(response)["detail"]


# -- HEAD --------------------------------------------------------------------------------------------------


def test_head_answers_like_get_without_a_body_and_still_needs_a_key(docs: DocumentAPI) -> None:
    document_id = post_invoice(docs).json()["id"]
    for path in (f"/v1/outbound/{document_id}/ubl", f"/v1/outbound/{document_id}", "/healthz"):
        got, head = docs.client.get(path), docs.client.head(path)
        assert (head.status_code, head.content) == (200, b""), path
        assert head.headers["content-length"] == str(len(got.content)) != "0", path
        assert head.headers["content-type"] == got.headers["content-type"], path
    anonymous = docs.client.head(f"/v1/outbound/{document_id}/ubl", headers={"Authorization": ""})
    assert (anonymous.status_code, anonymous.content) == (401, b"")
    assert docs.client.head("/as4").status_code == 405  # a POST-only route stays POST-only
