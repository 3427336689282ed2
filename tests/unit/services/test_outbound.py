"""Pure parts of the outbound use cases: request fingerprints, turning posted documents into what the store
keys them by, and the evidence archive."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from gateway.errors import InvalidDocumentData, MappingError, XMLInputError
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
from gateway.services.seller_identity import seller_identity_problems, seller_problem
from tests.unit.model.model_builders import make_credit_note, make_invoice

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ubl(
    *,
    root: str = "Invoice",
    number: str | None = "F-1",
    buyer: str | None = '<cbc:EndpointID schemeID="0208">0412345614</cbc:EndpointID>',
    seller: str = '<cbc:EndpointID schemeID="9925">BE0739484052</cbc:EndpointID>',
) -> bytes:
    ns = f"urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    cac = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    number_el = f"<cbc:ID> {number} </cbc:ID>" if number is not None else ""
    return (
        f'<{root} xmlns="{ns}" xmlns:cbc="{cbc}" xmlns:cac="{cac}">{number_el}'
        f"<cac:AccountingSupplierParty><cac:Party>{seller}</cac:Party></cac:AccountingSupplierParty>"
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


@pytest.mark.parametrize(
    ("buyer", "field"),
    [
        # A private person: the address becomes BT-49 EM and is e-mailed at the first attempt.
        ({"contact": {"email": "jörg@mail.example"}}, "buyer.contact.email"),
        ({"endpoint": {"value": "jörg@mail.example", "scheme": "EM"}}, "BT-49"),
    ],
)
def test_a_json_buyer_address_the_gateway_cannot_email_is_refused_naming_the_field(
    buyer: dict[str, object], field: str
) -> None:
    """A non-ASCII address was accepted and failed at send time: the SMTP adapter speaks no SMTPUTF8."""
    data = {"legal_name": "Jörg Peeters", "address": {"country": "BE"}, **buyer}
    with pytest.raises(InvalidDocumentData) as refused:
        prepare_json_document(make_invoice(buyer=data))
    assert any(field in problem and "ASCII only" in problem for problem in refused.value.problems), (
        refused.value.problems
    )


def test_a_json_peppol_buyer_with_an_ascii_contact_address_is_accepted() -> None:
    buyer = {
        "legal_name": "Klant NV",
        "endpoint": {"value": "0412345614", "scheme": "0208"},
        "contact": {"email": "O'Neil+facturen@klant.example"},
        "address": {"country": "BE"},
    }
    prepared = prepare_json_document(make_invoice(buyer=buyer))
    assert prepared.receiver == ParticipantID("0208", "0412345614")
    assert prepared.problems == ()


@pytest.mark.parametrize("email", ["jörg@klant.example", "facturen.klant.example"])
def test_a_json_peppol_buyer_is_not_refused_for_its_contact_address(email: str) -> None:
    """The document goes over Peppol: its BT-58 is not judged (only an e-mail fallback would use it, and
    fail then with the adapter's reason), so a valid invoice is not refused for it."""
    buyer = {
        "legal_name": "Klant NV",
        "endpoint": {"value": "0412345614", "scheme": "0208"},
        "contact": {"email": email},
        "address": {"country": "BE"},
    }
    prepared = prepare_json_document(make_invoice(buyer=buyer))
    assert prepared.receiver == ParticipantID("0208", "0412345614")
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
        (  # the SMTP adapter speaks no SMTPUTF8: it failed at send time
            ubl(buyer='<cbc:EndpointID schemeID="EM">jörg@mail.example</cbc:EndpointID>'),
            "BT-49 buyer electronic address: 'jörg@mail.example'",
        ),
        (ubl(buyer="<cbc:EndpointID>0412345614</cbc:EndpointID>"), "not a Peppol participant id"),
        (ubl(number=None), "BT-1 document number is missing"),
        (ubl(number="9" * (MAX_DOCUMENT_NUMBER_LENGTH + 1)), "longer than"),
    ],
)
def test_ubl_that_cannot_be_addressed_or_keyed_carries_a_problem(document: bytes, fragment: str) -> None:
    prepared = prepare_ubl_document(document, max_bytes=10_000)
    assert any(fragment in problem for problem in prepared.problems)


COOPERATIVE = ParticipantID.parse("0208:0739484052")


@pytest.mark.parametrize(
    "given",
    [
        ("0208", "0739484052"),
        ("9925", "BE0739484052"),  # the cooperative's VAT number: the same enterprise
        ("9925", "be0739484052"),  # participant ids compare case-insensitively
    ],
)
def test_seller_is_the_cooperative_in_either_belgian_form(given: tuple[str, str]) -> None:
    scheme, value = given
    endpoint = f'<cbc:EndpointID schemeID="{scheme}">{value}</cbc:EndpointID>'
    prepared = prepare_ubl_document(ubl(seller=endpoint), max_bytes=10_000)
    assert prepared.sender == ParticipantID(scheme, value)
    assert seller_problem(prepared, COOPERATIVE) is None
    # Configured in the VAT form, the enterprise number form is the same seller too.
    assert seller_problem(prepared, ParticipantID.parse("9925:BE0739484052")) is None
    assert ParticipantID(scheme, value).same_enterprise(COOPERATIVE)


@pytest.mark.parametrize(
    ("endpoint", "address"),
    [
        ('<cbc:EndpointID schemeID="0208">0450123451</cbc:EndpointID>', "0208:0450123451"),
        ('<cbc:EndpointID schemeID="9925">BE0450123451</cbc:EndpointID>', "9925:BE0450123451"),
        ('<cbc:EndpointID schemeID="0088">0739484052</cbc:EndpointID>', "0088:0739484052"),  # not KBO
        ('<cbc:EndpointID schemeID="9925">NL0739484052</cbc:EndpointID>', "9925:NL0739484052"),
        ('<cbc:EndpointID schemeID="EM">invoices@coop.example</cbc:EndpointID>', "EM:invoices@coop.example"),
        ("<cbc:EndpointID>0739484052</cbc:EndpointID>", "0739484052"),  # no participant id at all
    ],
)
def test_seller_of_another_company_or_of_no_participant_is_a_problem(endpoint: str, address: str) -> None:
    prepared = prepare_ubl_document(ubl(seller=endpoint), max_bytes=10_000)
    assert prepared.seller_address == address
    problem = seller_problem(prepared, COOPERATIVE)
    assert problem == (
        f"cac:AccountingSupplierParty/cac:Party/cbc:EndpointID: BT-34 seller electronic address {address} "
        "is not the cooperative's participant id 0208:0739484052; the seller must be the cooperative "
        "(documents are sent in its name only)"
    )


def test_document_without_seller_address_is_sent_under_the_configured_id() -> None:
    prepared = prepare_ubl_document(ubl(seller=""), max_bytes=10_000)
    assert (prepared.sender, prepared.seller_address) == (None, None)
    assert seller_problem(prepared, COOPERATIVE) is None


def test_json_seller_of_another_company_names_the_json_field() -> None:
    seller = {
        "legal_name": "Houthandel Verbeke BV",
        "enterprise_number": "0450123451",
        "vat_number": "BE0450123451",
        "address": {"city": "Aalst", "country": "BE"},
    }
    prepared = prepare_json_document(make_invoice(seller=seller))
    problem = seller_problem(prepared, COOPERATIVE)
    assert problem is not None
    assert problem.startswith("seller.endpoint: BT-34 seller electronic address 0208:0450123451 is not")
    assert seller_problem(prepare_json_document(make_invoice()), COOPERATIVE) is None


#: The cooperative's BT-34 followed by ``{}``: the seller's other identifiers (BT-29 to BT-32), in XSD order.
OUR_PARTY = '<cbc:EndpointID schemeID="0208">0739484052</cbc:EndpointID>{}'


def _tax(company_id: str, scheme: str = "VAT") -> str:
    return (
        f"<cac:PartyTaxScheme><cbc:CompanyID>{company_id}</cbc:CompanyID>"
        f"<cac:TaxScheme><cbc:ID>{scheme}</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
    )


def _legal(company_id: str, scheme: str | None = "0208") -> str:
    scheme_id = f' schemeID="{scheme}"' if scheme is not None else ""
    return (
        "<cac:PartyLegalEntity><cbc:RegistrationName>Samenwerking CV</cbc:RegistrationName>"
        f"<cbc:CompanyID{scheme_id}>{company_id}</cbc:CompanyID></cac:PartyLegalEntity>"
    )


def _party_id(value: str, scheme: str = "0208") -> str:
    return f'<cac:PartyIdentification><cbc:ID schemeID="{scheme}">{value}</cbc:ID></cac:PartyIdentification>'


SUPPLIER = "cac:AccountingSupplierParty/cac:Party/"


@pytest.mark.parametrize(
    ("identifiers", "field", "stated"),
    [
        (
            _tax("BE0450123451"),
            "cac:PartyTaxScheme/cbc:CompanyID",
            "BT-31 seller VAT identifier BE0450123451",
        ),
        (_tax("be 0450.123.451"), "cac:PartyTaxScheme/cbc:CompanyID", "BT-31 seller VAT identifier"),
        # Another number in full-width digits or with a zero-width space; ours with a trailing letter.
        (_tax("BE\uff10\uff14\uff15\uff10123451"), "cac:PartyTaxScheme/cbc:CompanyID", "BT-31"),
        (_tax("BE0450\u200b123451"), "cac:PartyTaxScheme/cbc:CompanyID", "BT-31"),
        (_tax("BE0739484052X"), "cac:PartyTaxScheme/cbc:CompanyID", "BT-31"),
        # Every occurrence is read, not the first only: a seller has several BT-29, a BT-31 and a BT-32.
        (_party_id("0739484052") + _party_id("0450123451"), "cac:PartyIdentification/cbc:ID", "BT-29"),
        (_tax("BE0739484052", "TAX") + _tax("BE0450123451"), "cac:PartyTaxScheme/cbc:CompanyID", "BT-31"),
        (_tax("BE0450123451", "TAX"), "cac:PartyTaxScheme/cbc:CompanyID", "BT-32 seller tax registration"),
        (_legal("0450123451"), "cac:PartyLegalEntity/cbc:CompanyID", "BT-30 seller legal registration"),
        (_legal("0450123451", "0208 "), "cac:PartyLegalEntity/cbc:CompanyID", "BT-30"),  # R043 misses it
        (
            _party_id("0450123451"),
            "cac:PartyIdentification/cbc:ID",
            "BT-29 seller identifier 0208:0450123451",
        ),
        (_tax("BE0739484052") + _legal("0450123451"), "cac:PartyLegalEntity/cbc:CompanyID", "BT-30"),
    ],
)
def test_ubl_seller_ids_of_another_belgian_enterprise_are_problems(
    identifiers: str, field: str, stated: str
) -> None:
    prepared = prepare_ubl_document(ubl(seller=OUR_PARTY.format(identifiers)), max_bytes=10_000)
    assert seller_problem(prepared, COOPERATIVE) is None  # BT-34 is ours
    [problem] = seller_identity_problems(prepared, COOPERATIVE)
    assert problem.startswith(f"{SUPPLIER}{field}: {stated}")
    assert "the seller must be the cooperative (documents are sent in its name only)" in problem
    # Configured in the VAT form, the cooperative is the same enterprise: the same problem.
    assert seller_identity_problems(prepared, ParticipantID.parse("9925:BE0739484052")) == (problem,)


@pytest.mark.parametrize(
    "identifiers",
    [
        _tax("BE0739484052") + _legal("0739484052"),
        _tax("BE 0739.484.052") + _legal(" 0739484052 ") + _party_id("0739484052"),
        _tax("be739484052"),  # the legacy 9-digit form
        _tax("BE\u0660\u0667\u0663\u0669484052"),  # ours, in Arabic-Indic digits: read as a reader sees it
        _tax("BE0739484052") + _tax("BE0739484052", "TAX"),
        _tax("GB1232434") + _legal("GB983294", None),  # the BIS examples' seller: not Belgian ids
        _tax("NL123456789B01"),  # a foreign VAT registration of the cooperative
        _legal("0450123451", None),  # no scheme: not said to be an enterprise number
        _legal("7300010000001", "0088"),
        _party_id("2123456789"),  # an establishment unit number (first digit 2 to 8), not an enterprise
        _party_id("0450123451", "SEPA"),
    ],
)
def test_ubl_seller_ids_of_the_cooperative_or_not_belgian_are_no_problem(identifiers: str) -> None:
    prepared = prepare_ubl_document(ubl(seller=OUR_PARTY.format(identifiers)), max_bytes=10_000)
    assert seller_identity_problems(prepared, COOPERATIVE) == ()


def test_a_long_seller_id_is_quoted_shortened_in_its_problem() -> None:
    vat = "BE" + "\uff10" * 100_000
    prepared = prepare_ubl_document(ubl(seller=OUR_PARTY.format(_tax(vat))), max_bytes=1_000_000)
    [problem] = seller_identity_problems(prepared, COOPERATIVE)
    assert f"BT-31 seller VAT identifier {vat[:64]}... (100002 characters) is not" in problem
    assert len(problem) < 400


def test_a_long_seller_address_is_quoted_shortened_in_its_problem() -> None:
    # BT-34 (its value and its schemeID) can be as long as the document, as the other seller ids can.
    value, scheme = "9" * 100_000, "0" * 50
    endpoint = f'<cbc:EndpointID schemeID="{scheme}">{value}</cbc:EndpointID>'
    prepared = prepare_ubl_document(ubl(seller=endpoint), max_bytes=1_000_000)
    problem = seller_problem(prepared, COOPERATIVE)
    assert problem is not None
    assert f"BT-34 seller electronic address {scheme}:{value[:13]}... (100051 characters) is not" in problem
    assert len(problem) < 400


def test_seller_ids_are_not_checked_for_a_seller_without_belgian_enterprise_number() -> None:
    prepared = prepare_ubl_document(
        ubl(seller=OUR_PARTY.format(_tax("BE0450123451") + _legal("0450123451"))), max_bytes=10_000
    )
    assert seller_identity_problems(prepared, ParticipantID.parse("0088:7300010000001")) == ()


VAT_UNIT = "BE0799999976"  # a VAT unit (BTW-eenheid) the cooperative is a member of: its own VAT number


def test_a_vat_unit_members_bt31_is_the_units_vat_number() -> None:
    # A member of a VAT unit invoices under the unit's VAT number, not BE and its enterprise number.
    unit = prepare_ubl_document(
        ubl(seller=OUR_PARTY.format(_tax("BE 0799.999.976") + _legal("0739484052"))), max_bytes=10_000
    )
    assert seller_identity_problems(unit, COOPERATIVE, VAT_UNIT) == ()
    assert seller_identity_problems(unit, ParticipantID.parse("9925:BE0739484052"), VAT_UNIT) == ()
    [problem] = seller_identity_problems(unit, COOPERATIVE)  # the unit's number, not configured: refused
    assert problem.startswith(f"{SUPPLIER}cac:PartyTaxScheme/cbc:CompanyID: BT-31")
    # Another Belgian VAT number is still refused, and so is BE and the enterprise number as BT-31 now.
    for vat in ("BE0450123451", "BE0739484052"):
        other = prepare_ubl_document(ubl(seller=OUR_PARTY.format(_tax(vat))), max_bytes=10_000)
        [problem] = seller_identity_problems(other, COOPERATIVE, VAT_UNIT)
        assert problem.startswith(
            f"{SUPPLIER}cac:PartyTaxScheme/cbc:CompanyID: BT-31 seller VAT identifier {vat} is not the "
            f"cooperative's ({VAT_UNIT});"
        )
    # BT-32 follows the enterprise number: the member's own registration, stated beside the unit's number.
    own = prepare_ubl_document(
        ubl(seller=OUR_PARTY.format(_tax(VAT_UNIT) + _tax("BE0739484052", "TAX"))), max_bytes=10_000
    )
    assert seller_identity_problems(own, COOPERATIVE, VAT_UNIT) == ()
    unit_as_bt32 = prepare_ubl_document(ubl(seller=OUR_PARTY.format(_tax(VAT_UNIT, "TAX"))), max_bytes=10_000)
    [problem] = seller_identity_problems(unit_as_bt32, COOPERATIVE, VAT_UNIT)
    assert (
        f"BT-32 seller tax registration identifier {VAT_UNIT} is not the cooperative's (BE0739484052)"
        in problem
    )
    # The unit's number is no enterprise number of the cooperative: BT-30 under 0208 with it is refused.
    legal = prepare_ubl_document(ubl(seller=OUR_PARTY.format(_legal("0799999976"))), max_bytes=10_000)
    assert len(seller_identity_problems(legal, COOPERATIVE, VAT_UNIT)) == 1


def test_json_seller_ids_of_another_enterprise_name_the_json_fields() -> None:
    endpoint = {"scheme": "0208", "value": "0739484052"}
    seller = {
        "legal_name": "Samenwerking CV",
        "endpoint": endpoint,
        "enterprise_number": "0450123451",
        "vat_number": "BE0450123451",
        "identifiers": [{"value": "0450123451", "scheme": "0208"}],
        "tax_registration": {"value": "BE0450123451"},
        "address": {"city": "Brussel", "country": "BE"},
    }
    prepared = prepare_json_document(make_invoice(seller=seller))
    assert seller_problem(prepared, COOPERATIVE) is None
    problems = seller_identity_problems(prepared, COOPERATIVE)
    assert [problem.split(":")[0] for problem in problems] == [
        "seller.identifiers[0]",
        "seller.legal_registration_id",
        "seller.vat_identifier",
        "seller.tax_registration",
    ]
    assert problems[2].startswith(
        "seller.vat_identifier: BT-31 seller VAT identifier BE0450123451 is not the cooperative's "
        "(BE0739484052)"
    )
    assert seller_identity_problems(prepare_json_document(make_invoice()), COOPERATIVE) == ()


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
