"""binary_stub: large attachments replaced by a placeholder for the Schematron layers only."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from lxml import etree

from gateway.validation import Layer, ValidationEngine
from gateway.validation.binary_stub import STUB_MIN_CHARS, stub_binary_objects

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
LARGE_BASE64 = base64.b64encode(b"%PDF-1.4 " * 2000).decode()


@pytest.fixture(scope="module")
def base_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()


INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def _objects(*contents: str | None) -> list[etree._Element]:
    """Attachments of an invoice (BT-125), one per content."""
    root = etree.Element(f"{{{INV}}}Invoice", nsmap={"cbc": CBC, "cac": CAC})
    found = []
    for content in contents:
        reference = etree.SubElement(root, f"{{{CAC}}}AdditionalDocumentReference")
        attachment = etree.SubElement(reference, f"{{{CAC}}}Attachment")
        found.append(etree.SubElement(attachment, f"{{{CBC}}}EmbeddedDocumentBinaryObject"))
        found[-1].text = content
    return found


def test_large_content_becomes_a_placeholder_of_the_same_emptiness() -> None:
    objects = _objects(LARGE_BASE64, " \n" * STUB_MIN_CHARS, "QUJD", None)
    assert stub_binary_objects(objects[0].getroottree().getroot()) == 2
    assert [e.text for e in objects] == ["A", " ", "QUJD", None]


def test_elements_with_children_and_other_elements_are_left_alone() -> None:
    [binary] = _objects(LARGE_BASE64)
    binary.append(etree.Comment("x"))
    root = binary.getroottree().getroot()
    other = etree.SubElement(root, f"{{{CBC}}}Note")
    other.text = LARGE_BASE64
    assert stub_binary_objects(root) == 0
    assert binary.text == LARGE_BASE64
    assert other.text == LARGE_BASE64


def test_min_chars_zero_stubs_every_non_empty_content() -> None:
    objects = _objects("QUJD", " ", "")
    assert stub_binary_objects(objects[0].getroottree().getroot(), min_chars=0) == 2
    assert [e.text for e in objects] == ["A", " ", ""]


def _with_attachment(example: bytes, content: str) -> bytes:
    root = etree.fromstring(example)
    reference = etree.Element(f"{{{CAC}}}AdditionalDocumentReference")
    etree.SubElement(reference, f"{{{CBC}}}ID").text = "att-1"
    attachment = etree.SubElement(reference, f"{{{CAC}}}Attachment")
    binary = etree.SubElement(attachment, f"{{{CBC}}}EmbeddedDocumentBinaryObject")
    binary.set("mimeCode", "application/pdf")
    binary.set("filename", "a.pdf")
    binary.text = content
    root.find(f"{{{CAC}}}AccountingSupplierParty").addprevious(reference)
    return etree.tostring(root)


def test_the_xsd_layer_still_checks_the_base64(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    valid = validation_engine.validate(_with_attachment(base_example, LARGE_BASE64))
    assert valid.findings == ()
    invalid = validation_engine.validate(_with_attachment(base_example, "QUJ" * 3001))
    assert [f.layer for f in invalid.findings] == [Layer.XSD]
    assert "EmbeddedDocumentBinaryObject" in invalid.findings[0].message


def test_blank_large_content_is_still_an_empty_element(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    report = validation_engine.validate(_with_attachment(base_example, " " * (STUB_MIN_CHARS + 1)))
    assert "PEPPOL-EN16931-R008" in {f.rule for f in report.findings}


def test_content_elsewhere_than_an_attachment_is_left_alone(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    # Only an attachment's content is unread by every rule. Inside a cbc:PrimaryAccountNumberID (an
    # invalid document, which the Schematron layers still read) BR-51 tests the string-length of its
    # value, the content included: the placeholder made that warning vanish from the report.
    card = (
        "<cac:CardAccount><cbc:PrimaryAccountNumberID><cbc:EmbeddedDocumentBinaryObject>"
        + LARGE_BASE64
        + "</cbc:EmbeddedDocumentBinaryObject></cbc:PrimaryAccountNumberID>"
        "<cbc:NetworkID>VISA</cbc:NetworkID></cac:CardAccount>"
    )
    payment = b"<cbc:PaymentID>Snippet1</cbc:PaymentID>"
    xml = base_example.replace(payment, payment + card.encode(), 1)
    assert xml != base_example
    assert "BR-51" in {f.rule for f in validation_engine.validate(xml, layers=[Layer.CEN]).findings}
    misplaced = etree.Element(f"{{{INV}}}Invoice")
    etree.SubElement(misplaced, f"{{{CBC}}}EmbeddedDocumentBinaryObject").text = LARGE_BASE64
    assert stub_binary_objects(misplaced) == 0
    amount = etree.Element(f"{{{CBC}}}TaxAmount")  # a root whose name ends in "Amount": UBL-DT-01 reads it
    [binary] = _objects(LARGE_BASE64)
    amount.append(binary.getparent().getparent())  # type: ignore[union-attr]
    assert stub_binary_objects(amount) == 0
