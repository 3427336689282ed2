"""Peppol reporting's C4 country of a sent document (BT-55), read without a tree of the whole document."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from gateway.model import BIS_CREDIT_NOTE, BIS_INVOICE, Invoice
from gateway.model.responses import MLS_DOCUMENT_TYPE
from gateway.services.conversion import parse_document_json
from gateway.services.outbound_input import PreparedDocument, prepare_json_document, prepare_ubl_document
from gateway.services.reporting_records import buyer_country, has_buyer_country

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"


def _ubl(name: str, **changes: object) -> bytes:
    document = {**json.loads((DOCUMENTS / name).read_bytes()), **changes}
    return prepare_json_document(parse_document_json(json.dumps(document).encode(), Invoice)).ubl


def test_buyer_country_of_documents() -> None:
    assert buyer_country(_ubl("be-domestic-mixed-rates.json")) == "BE"
    assert buyer_country(_ubl("export-us.json")) == "US"


def test_buyer_country_after_a_large_attachment() -> None:
    template = json.loads((DOCUMENTS / "attachment-pdf.json").read_bytes())
    big = {**template["attachments"][0], "content": base64.b64encode(b"%PDF" + bytes(3_000_000)).decode()}
    assert buyer_country(_ubl("attachment-pdf.json", attachments=[big])) == "BE"


def test_not_a_document() -> None:
    assert buyer_country(b"not xml") == "ZZ"
    assert buyer_country(b"<Invoice/>") == "ZZ"


def _prepared(name: str, **changes: object) -> PreparedDocument:
    document = {**json.loads((DOCUMENTS / name).read_bytes()), **changes}
    return prepare_json_document(parse_document_json(json.dumps(document).encode(), Invoice))


def test_submit_reads_the_buyer_country_the_delivery_would_read() -> None:
    # Stored with the document (outbound_documents.buyer_country) so that the worker does not parse it:
    # the JSON path takes it from the model, the UBL path from the tree it parsed; both equal the stored
    # UBL's BT-55 as the fallback reads it.
    for name, country in (("export-us.json", "US"), ("be-domestic-mixed-rates.json", "BE")):
        from_json = _prepared(name)
        from_ubl = prepare_ubl_document(from_json.ubl, max_bytes=10_000_000)
        assert from_json.buyer_country == from_ubl.buyer_country == buyer_country(from_json.ubl) == country


def test_a_posted_ubl_without_a_buyer_country_stores_zz() -> None:
    ubl = _prepared("export-us.json").ubl
    without = ubl.replace(b"<cbc:IdentificationCode>US</cbc:IdentificationCode>", b"")
    assert without != ubl
    assert prepare_ubl_document(without, max_bytes=10_000_000).buyer_country == "ZZ"


def test_only_invoices_and_credit_notes_have_a_buyer_country() -> None:
    assert has_buyer_country(BIS_INVOICE)
    assert has_buyer_country(BIS_CREDIT_NOTE)
    assert not has_buyer_country(MLS_DOCUMENT_TYPE)


def test_buyer_country_is_read_whole_across_a_comment() -> None:
    # As validation reads it (XPath string value): lxml's text alone stops at the comment ("B": ZZ).
    head, buyer = _ubl("export-us.json").split(b"<cac:AccountingCustomerParty>")
    country = b"<cbc:IdentificationCode>US</cbc:IdentificationCode>"
    assert buyer.index(country) < buyer.index(b"</cac:PostalAddress>")  # the buyer's BT-55 first
    commented = b"<cac:AccountingCustomerParty>".join(
        (head, buyer.replace(country, b"<cbc:IdentificationCode>U<!-- x -->S</cbc:IdentificationCode>", 1))
    )
    assert buyer_country(commented) == "US"
    assert prepare_ubl_document(commented, max_bytes=10_000_000).buyer_country == "US"
