"""Pure parts of the outbound use cases: request fingerprints, turning posted documents into what the store
keys them by, and the evidence archive."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from gateway.errors import MappingError, XMLInputError
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, DocumentTypeID, ParticipantID
from gateway.model.identifiers import EmailReceiver
from gateway.model.message import (
    AS4MessageRecord,
    AS4Signal,
    DeliveryStatus,
    Direction,
    DocumentContent,
    DocumentKind,
    OutboundDocument,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.outbound import Submission
from gateway.services.outbound_input import (
    MAX_DOCUMENT_NUMBER_LENGTH,
    prepare_json_document,
    prepare_ubl_document,
)
from gateway.services.outbound_queries import OutboundEvidence, evidence_archive
from tests.unit.model.model_builders import make_credit_note, make_invoice

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ubl(
    *,
    root: str = "Invoice",
    number: str | None = "F-1",
    buyer: str | None = '<cbc:EndpointID schemeID="0208">0412345614</cbc:EndpointID>',
) -> bytes:
    ns = f"urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    cac = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    number_el = f"<cbc:ID> {number} </cbc:ID>" if number is not None else ""
    return (
        f'<{root} xmlns="{ns}" xmlns:cbc="{cbc}" xmlns:cac="{cac}">{number_el}'
        "<cac:AccountingSupplierParty><cac:Party>"
        '<cbc:EndpointID schemeID="9925">BE0739484052</cbc:EndpointID>'
        "</cac:Party></cac:AccountingSupplierParty>"
        f"<cac:AccountingCustomerParty><cac:Party>{buyer or ''}</cac:Party></cac:AccountingCustomerParty>"
        f"</{root}>"
    ).encode()


def test_fingerprint_covers_route_and_body() -> None:
    base = Submission("POST /v1/outbound/invoices", b"{}", "k")
    assert base.fingerprint == Submission("POST /v1/outbound/invoices", b"{}", "other-key").fingerprint
    assert base.fingerprint != Submission("POST /v1/outbound/credit-notes", b"{}", "k").fingerprint
    assert base.fingerprint != Submission("POST /v1/outbound/invoices", b"{ }", "k").fingerprint
    assert base.fingerprint == hashlib.sha256(b"POST /v1/outbound/invoices\n{}").hexdigest()


def test_json_invoice_and_credit_note_are_keyed_by_number_and_endpoints() -> None:
    invoice = prepare_json_document(make_invoice())
    assert (invoice.kind, invoice.document_type, invoice.number) == (
        DocumentKind.INVOICE,
        BIS_INVOICE,
        "2026-0004711",
    )
    assert invoice.receiver == ParticipantID("0208", "0412345614")
    assert invoice.sender == ParticipantID("0208", "0739484052")
    assert invoice.problems == ()
    assert invoice.ubl.startswith(b"<?xml")
    credit = prepare_json_document(make_credit_note())
    assert (credit.kind, credit.document_type) == (DocumentKind.CREDIT_NOTE, BIS_CREDIT_NOTE)


def test_json_buyer_endpoint_that_is_no_peppol_id_is_a_problem() -> None:
    buyer = {
        "legal_name": "Klant NV",
        "endpoint": {"value": "O0013000093", "scheme": "AN"},  # ODETTE: neither Peppol nor e-mail
        "address": {"country": "BE"},
    }
    prepared = prepare_json_document(make_invoice(buyer=buyer))
    assert prepared.receiver is None
    assert len(prepared.problems) == 1
    assert "BT-49" in prepared.problems[0]


def test_json_buyer_endpoint_under_em_is_an_email_receiver() -> None:
    buyer = {
        "legal_name": "Klant NV",
        "endpoint": {"value": "facturen@klant.example", "scheme": "EM"},
        "address": {"country": "BE"},
    }
    prepared = prepare_json_document(make_invoice(buyer=buyer))
    assert prepared.receiver == EmailReceiver("facturen@klant.example")
    assert prepared.problems == ()


def test_ubl_receiver_number_sender_and_type_come_from_the_document() -> None:
    prepared = prepare_ubl_document(ubl(), max_bytes=10_000)
    assert prepared.kind is DocumentKind.UBL
    assert prepared.document_type == BIS_INVOICE
    assert prepared.number == "F-1"
    assert prepared.receiver == ParticipantID("0208", "0412345614")
    assert prepared.sender == ParticipantID("9925", "BE0739484052")
    assert prepared.problems == ()
    assert prepared.ubl == ubl()  # kept byte for byte
    assert prepare_ubl_document(ubl(root="CreditNote"), max_bytes=10_000).document_type == BIS_CREDIT_NOTE


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (ubl(buyer=None), "BT-49 buyer electronic address is missing"),
        (
            ubl(buyer='<cbc:EndpointID schemeID="AN">O0013000093</cbc:EndpointID>'),
            "not a Peppol participant id",
        ),
        (
            ubl(buyer='<cbc:EndpointID schemeID="EM">two@b.example, three@c.example</cbc:EndpointID>'),
            "is not one e-mail address",
        ),
        (ubl(buyer="<cbc:EndpointID>0412345614</cbc:EndpointID>"), "not a Peppol participant id"),
        (ubl(number=None), "BT-1 document number is missing"),
        (ubl(number="9" * (MAX_DOCUMENT_NUMBER_LENGTH + 1)), "longer than"),
    ],
)
def test_ubl_that_cannot_be_addressed_or_keyed_carries_a_problem(document: bytes, fragment: str) -> None:
    prepared = prepare_ubl_document(document, max_bytes=10_000)
    assert any(fragment in problem for problem in prepared.problems)


def test_ubl_buyer_under_em_is_an_email_receiver() -> None:
    prepared = prepare_ubl_document(
        ubl(buyer='<cbc:EndpointID schemeID="EM">a@b.example</cbc:EndpointID>'), max_bytes=10_000
    )
    assert prepared.receiver == EmailReceiver("a@b.example")
    assert prepared.problems == ()


def test_ubl_of_another_kind_or_too_large_is_refused() -> None:
    with pytest.raises(MappingError):
        prepare_ubl_document(ubl(root="Order"), max_bytes=10_000)
    with pytest.raises(XMLInputError):
        prepare_ubl_document(ubl(), max_bytes=100)


def _evidence(signal: bool = True) -> OutboundEvidence:
    document = OutboundDocument(
        id="00000000-0000-0000-0000-000000000001",
        kind=DocumentKind.INVOICE,
        seller_id="0208:0739484052",
        document_number="F-1",
        sender=ParticipantID("0208", "0739484052"),
        receiver=ParticipantID("0208", "0412345614"),
        document_type=DocumentTypeID(BIS_INVOICE.value),
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.DELIVERED,
        created_at=AT,
        updated_at=AT,
        as4_message_id="m/1@x",
    )
    answer = AS4Signal(SignalKind.ERROR, RawHTTPMessage((), b"\x00err"), AT, ebms_error_code="EBMS:0004")
    record = AS4MessageRecord(
        "m/1@x",
        Direction.OUT,
        RawHTTPMessage((("Content-Type", "application/octet-stream"),), b"\x01\x02"),
        AT,
        document.id,
        signal=answer if signal else None,
    )
    return OutboundEvidence(document, DocumentContent(b"<Invoice/>", {"valid": True}), (), (record,))


def test_evidence_archive_is_deterministic_and_self_describing() -> None:
    data = evidence_archive(_evidence())
    assert data == evidence_archive(_evidence())
    archive = zipfile.ZipFile(io.BytesIO(data))
    folder = "messages/1-m_1@x"  # the slash of the message id cannot make a folder
    assert archive.read(f"{folder}/request-body.bin") == b"\x01\x02"
    assert archive.read(f"{folder}/signal-body.bin") == b"\x00err"
    assert json.loads(archive.read(f"{folder}/signal.json"))["ebms_error_code"] == "EBMS:0004"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["status"] == "delivered"
    assert manifest["messages"][0]["folder"] == folder


def test_evidence_archive_without_signal_has_no_signal_files() -> None:
    archive = zipfile.ZipFile(io.BytesIO(evidence_archive(_evidence(signal=False))))
    assert not [name for name in archive.namelist() if "signal" in name]
    assert json.loads(archive.read("manifest.json"))["messages"][0]["signal"] is None
