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


def _objects(*contents: str | None) -> etree._Element:
    root = etree.Element("Doc", nsmap={"cbc": CBC})
    for content in contents:
        etree.SubElement(root, f"{{{CBC}}}EmbeddedDocumentBinaryObject").text = content
    return root


def test_large_content_becomes_a_placeholder_of_the_same_emptiness() -> None:
    root = _objects(LARGE_BASE64, " \n" * STUB_MIN_CHARS, "QUJD", None)
    assert stub_binary_objects(root) == 2
    assert [e.text for e in root] == ["A", " ", "QUJD", None]


def test_elements_with_children_and_other_elements_are_left_alone() -> None:
    root = _objects(LARGE_BASE64)
    root[0].append(etree.Comment("x"))
    other = etree.SubElement(root, f"{{{CBC}}}Note")
    other.text = LARGE_BASE64
    assert stub_binary_objects(root) == 0
    assert root[0].text == LARGE_BASE64
    assert other.text == LARGE_BASE64


def test_min_chars_zero_stubs_every_non_empty_content() -> None:
    root = _objects("QUJD", " ", "")
    assert stub_binary_objects(root, min_chars=0) == 2
    assert [e.text for e in root] == ["A", " ", ""]


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
