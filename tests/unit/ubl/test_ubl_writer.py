"""UBL writer: XSD order for Invoice and CreditNote, no empty elements, determinism, BIS placements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from pydantic import TypeAdapter

from gateway.errors import MappingError
from gateway.model import (
    BIS_BILLING_CUSTOMIZATION,
    BIS_BILLING_PROFILE,
    CreditNote,
    Document,
    Invoice,
    complete_document,
)
from gateway.ubl import read_ubl, write_ubl
from gateway.xmlcore import NS

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"
ADAPTER: TypeAdapter[Invoice | CreditNote] = TypeAdapter(Document)


def load(name: str) -> Invoice | CreditNote:
    return complete_document(ADAPTER.validate_python(json.loads((DOCUMENTS / f"{name}.json").read_text())))


@pytest.fixture(scope="module")
def schemas(artefacts_dir: Path) -> dict[str, etree.XMLSchema]:
    maindoc = artefacts_dir / "ubl-2.1" / "xsd" / "maindoc"
    return {
        kind: etree.XMLSchema(etree.parse(str(maindoc / f"UBL-{kind}-2.1.xsd")))
        for kind in ("Invoice", "CreditNote")
    }


# Every sample converts: private-person too (its e-mail becomes BT-49 with scheme EM).
CONVERTIBLE = sorted(DOCUMENTS.glob("*.json"))


@pytest.mark.parametrize("path", CONVERTIBLE, ids=lambda p: p.stem)
def test_every_sample_is_xsd_valid_and_has_no_empty_element(
    path: Path, schemas: dict[str, etree.XMLSchema]
) -> None:
    doc = load(path.stem)
    root = etree.fromstring(write_ubl(doc))
    schema = schemas[etree.QName(root).localname]
    assert schema.validate(root), schema.error_log
    empty = [root.getroottree().getpath(e) for e in root.iter() if len(e) == 0 and not (e.text or "").strip()]
    assert empty == []  # PEPPOL-EN16931-R008


def test_output_is_deterministic() -> None:
    doc = load("be-domestic-mixed-rates")
    assert write_ubl(doc) == write_ubl(doc)
    assert write_ubl(doc) == write_ubl(read_ubl(write_ubl(doc)))


def test_header_identifiers_and_endpoints() -> None:
    root = etree.fromstring(write_ubl(load("be-domestic-mixed-rates")))
    ns = dict(NS)
    assert root.findtext("cbc:CustomizationID", namespaces=ns) == BIS_BILLING_CUSTOMIZATION
    assert root.findtext("cbc:ProfileID", namespaces=ns) == BIS_BILLING_PROFILE
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=ns) == "380"
    endpoint = root.find("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID", ns)
    assert endpoint is not None
    assert (endpoint.get("schemeID"), endpoint.text) == ("0208", "0739484052")
    assert root.findtext(
        "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", namespaces=ns
    ) == ("BE0739484052")
    assert root.find("cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification", ns) is None  # no BT-29
    assert root.findtext("cac:PaymentMeans/cbc:PaymentID", namespaces=ns) == "+++000/4711/02627+++"
    for el in root.iter("{{{}}}TaxAmount".format(NS["cbc"]), "{{{}}}PayableAmount".format(NS["cbc"])):
        assert el.get("currencyID") == "EUR"


def test_credit_note_shape() -> None:
    doc = load("credit-note")
    assert isinstance(doc, CreditNote)
    doc = doc.model_copy(update={"project_reference": "PRJ-1", "due_date": doc.issue_date})
    with pytest.raises(MappingError, match="BT-9"):
        write_ubl(doc)
    doc = doc.model_copy(update={"payment_means": load("be-domestic-mixed-rates").payment_means})
    root = etree.fromstring(write_ubl(doc))
    ns = dict(NS)
    assert etree.QName(root).localname == "CreditNote"
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=ns) == "381"
    assert root.find("cbc:DueDate", ns) is None
    assert root.findtext("cac:PaymentMeans/cbc:PaymentDueDate", namespaces=ns) == "2026-11-10"
    assert (
        root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=ns)
        == "2026-0004711"
    )
    assert root.find("cac:CreditNoteLine/cbc:CreditedQuantity", ns) is not None
    ref = root.find("cac:AdditionalDocumentReference[cbc:DocumentTypeCode='50']", ns)
    assert ref is not None
    assert ref.findtext("cbc:ID", namespaces=ns) == "PRJ-1"
    again = read_ubl(write_ubl(doc))
    assert (again.project_reference, again.due_date) == ("PRJ-1", doc.issue_date)


def test_sales_order_without_purchase_order_writes_na() -> None:
    doc = load("be-exempt-vatex").model_copy(update={"sales_order_reference": "SO-9"})
    root = etree.fromstring(write_ubl(doc))
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=dict(NS)) == "NA"
    assert read_ubl(write_ubl(doc)).purchase_order_reference is None


def test_embedded_attachment() -> None:
    root = etree.fromstring(write_ubl(load("attachment-pdf")))
    obj = root.find(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", dict(NS)
    )
    assert obj is not None
    assert obj.get("mimeCode") == "application/pdf"
    assert obj.get("filename") == "prestatiestaat-2026-10.pdf"
    assert obj.text
    assert obj.text.startswith("JVBERi0")
