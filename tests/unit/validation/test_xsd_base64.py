"""The XSD layer refuses attachment content outside ``xs:base64Binary``'s lexical space, as the schema
(and Xerces at the receiving access point) does: libxml2 lets some such text through (``!!!!``,
``QUJ!`` a thousand times, a no-break space)."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
from lxml import etree

from gateway.model import document
from gateway.model.document import is_xsd_base64
from gateway.validation import Layer, Severity, ValidationEngine
from gateway.validation.report import XSD_RULE
from gateway.validation.streamed import DEFAULT_STREAM_ABOVE_BYTES
from tests.base64_rule import schema_compact

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
BINARY = f"{{{CBC}}}EmbeddedDocumentBinaryObject"
#: Not base64, and libxml2 (lxml's XMLSchema) finds nothing wrong with it.
LIBXML2_ACCEPTS = ["!!!!", "@@@@", "QUJD" * 10 + "!", "QUJ!" * 1000, "QUJD\u00a0"]
#: Not base64, and libxml2 says so itself (one finding, not two).
LIBXML2_REFUSES = ["QUJ!" * 10, "QR==", "QQ==QUJD", "Q", "QUJD===="]
VALID = ["QUJD", "QUI=", "QQ==", "QQ= =", " Q U\nJ\tD ", base64.b64encode(b"%PDF-1.4" * 300).decode()]


@pytest.fixture(scope="module")
def base_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()


def _with_attachment(
    example: bytes, content: str, *, reference: str = "AdditionalDocumentReference"
) -> bytes:
    root = etree.fromstring(example)
    element = etree.Element(f"{{{CAC}}}{reference}")
    etree.SubElement(element, f"{{{CBC}}}ID").text = "att-1"
    attachment = etree.SubElement(element, f"{{{CAC}}}Attachment")
    binary = etree.SubElement(attachment, BINARY, mimeCode="application/pdf", filename="a.pdf")
    binary.text = content
    anchor = (
        "AccountingSupplierParty"
        if reference == "AdditionalDocumentReference"
        else "AdditionalDocumentReference"
    )
    found = root.find(f"{{{CAC}}}{anchor}")
    if found is None:
        found = root.find(f"{{{CAC}}}AccountingSupplierParty")
    found.addprevious(element)
    return etree.tostring(root)


def _line(xml: bytes) -> str:
    return f"line {etree.fromstring(xml).find(f'.//{BINARY}').sourceline}"


def _xsd(engine: ValidationEngine, xml: bytes) -> list[tuple[str, Severity, Layer, str, str]]:
    return [
        (f.rule, f.severity, f.layer, f.message, f.location)
        for f in engine.validate(xml).findings
        if f.layer is Layer.XSD
    ]


@pytest.mark.parametrize("content", LIBXML2_ACCEPTS, ids=lambda c: repr(c[:12]))
def test_content_libxml2_accepts_is_a_fatal_xsd_finding(
    validation_engine: ValidationEngine, base_example: bytes, content: str
) -> None:
    xml = _with_attachment(base_example, content)
    [(rule, severity, layer, message, location)] = _xsd(validation_engine, xml)
    assert (rule, severity, layer, location) == (XSD_RULE, Severity.FATAL, Layer.XSD, _line(xml))
    assert message.startswith(f"Element '{BINARY}': ")
    assert "xs:base64Binary" in message


@pytest.mark.parametrize("content", LIBXML2_REFUSES, ids=lambda c: repr(c[:12]))
def test_content_libxml2_refuses_is_reported_once(
    validation_engine: ValidationEngine, base_example: bytes, content: str
) -> None:
    xml = _with_attachment(base_example, content)
    [(rule, severity, _, message, location)] = _xsd(validation_engine, xml)
    assert (rule, severity, location) == (XSD_RULE, Severity.FATAL, _line(xml))
    assert "xs:base64Binary" not in message  # libxml2's own message


@pytest.mark.parametrize("content", VALID, ids=lambda c: repr(c[:12]))
def test_base64_with_blanks_between_characters_is_valid(
    validation_engine: ValidationEngine, base_example: bytes, content: str
) -> None:
    assert _xsd(validation_engine, _with_attachment(base_example, content)) == []


def test_an_attachment_of_another_document_reference_is_checked(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    # Every cac:Attachment of UBL may hold one (DocumentReferenceType), not only BT-125's.
    xml = _with_attachment(base_example, "QUJ!" * 1000, reference="ContractDocumentReference")
    assert [location for *_, location in _xsd(validation_engine, xml)] == [_line(xml)]


def test_a_large_document_with_a_corrupt_attachment_is_refused(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    # From DEFAULT_STREAM_ABOVE_BYTES up the engine first tries the pull parse; a document that may embed
    # an attachment takes the tree path, where the check runs.
    content = "QUJ!" * 300_000
    xml = _with_attachment(base_example, content)
    assert len(xml) >= DEFAULT_STREAM_ABOVE_BYTES == validation_engine.stream_above_bytes
    [(rule, severity, _, message, location)] = _xsd(validation_engine, xml)
    assert (rule, severity, location) == (XSD_RULE, Severity.FATAL, _line(xml))
    assert "xs:base64Binary" in message
    valid = _with_attachment(base_example, content.replace("!", "D"))
    assert _xsd(validation_engine, valid) == []


@pytest.mark.parametrize("slice_chars", [4, 8, 12])
def test_slices_judge_every_text_as_the_whole(monkeypatch: pytest.MonkeyPatch, slice_chars: int) -> None:
    monkeypatch.setattr(document, "_BASE64_SLICE", slice_chars)
    rnd = random.Random(slice_chars)
    accepted = 0
    for alphabet in ("AB+/=a9 \n=é-", "AB==", "AQ= ", "Ab=\t", "AAAAAAAb9+/=\n\u00a0\x0b\x1c"):
        for length in range(41):
            for _ in range(100):
                text = "".join(rnd.choice(alphabet) for _ in range(length))
                expected = schema_compact(text) is not None
                accepted += expected
                assert is_xsd_base64(text) == expected, repr(text)
    for length in range(60):
        encoded = base64.b64encode(rnd.randbytes(length)).decode()
        assert is_xsd_base64("\r\n".join(encoded[i : i + 7] for i in range(0, len(encoded), 7)))
    assert accepted > 500
