"""saxon_text: Saxon reads the received bytes when they are the tree's UTF-8 XML 1.0 text, else the tree."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from lxml import etree

import gateway.validation.engine as engine_module
from gateway.validation import ValidationEngine
from gateway.validation.saxon_text import saxon_text
from gateway.xmlcore import parse_xml

# "Ã©" in ISO-8859-1 is the bytes of "é" in UTF-8: read as UTF-8 it would silently change.
DOC = (
    '<?xml version="1.0" encoding="{enc}"?>\n<a xmlns="urn:x">\n  <b c="1">Ã© &amp; <![CDATA[x<y]]></b>\n</a>'
)
BIG_BASE64 = base64.b64encode(b"%PDF-1.4 " * 4000).decode()


@pytest.fixture(scope="module")
def base_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()


def _serialised(data: bytes) -> str:
    return etree.tostring(parse_xml(data).getroottree(), encoding="unicode")


@pytest.mark.parametrize("declared", ["UTF-8", "utf-8"])
def test_utf8_bytes_are_read_as_received(declared: str) -> None:
    data = DOC.format(enc=declared).encode("utf-8")
    assert saxon_text(parse_xml(data), data) == data.decode("utf-8")


def test_a_byte_order_mark_is_dropped() -> None:
    data = b"\xef\xbb\xbf" + DOC.format(enc="UTF-8").encode("utf-8")
    text = saxon_text(parse_xml(data), data)
    assert text == data[3:].decode("utf-8")


@pytest.mark.parametrize(
    "data",
    [
        DOC.format(enc="ISO-8859-1").encode("iso-8859-1"),  # the declaration must be honoured
        DOC.format(enc="windows-1252").encode("cp1252"),  # UTF-16 is refused before (``xmlcore.encoding``)
        DOC.format(enc="UTF-8").replace('version="1.0"', 'version="1.1"').encode("utf-8"),
    ],
    ids=["latin-1", "windows-1252", "xml-1.1"],
)
def test_other_encodings_and_versions_take_the_serialised_tree(data: bytes) -> None:
    assert saxon_text(parse_xml(data), data) == _serialised(data)


def test_a_changed_tree_takes_the_serialised_tree() -> None:
    data = DOC.format(enc="UTF-8").encode("utf-8")
    root = parse_xml(data)
    root[0].text = "changed"
    assert "changed" in saxon_text(root, None)
    assert saxon_text(root, bytearray(data)) == etree.tostring(root.getroottree(), encoding="unicode")


def test_the_engine_reports_the_same_whichever_text_saxon_reads(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    # A wrong ProfileID (PEPPOL-EN16931-R007) and a non-ASCII name, in UTF-8 and in ISO-8859-1.
    text = (
        base_example.decode("utf-8")
        .replace("urn:fdc:peppol.eu:2017:poacc:billing:01:1.0", "urn:other")
        .replace("<cbc:Name>", "<cbc:Name>Ã© ", 1)
    )
    utf8 = text.encode("utf-8")
    latin1 = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("iso-8859-1")
    assert b'encoding="ISO-8859-1"' in latin1
    as_utf8, as_latin1 = validation_engine.validate(utf8), validation_engine.validate(latin1)
    assert any(f.rule == "PEPPOL-EN16931-R007" for f in as_utf8.findings)
    assert as_utf8 == as_latin1


def test_stubbed_attachments_are_not_read_from_the_received_bytes(
    validation_engine: ValidationEngine, base_example: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def spy(root: etree._Element, received: bytes | None) -> str:
        seen.append(saxon_text(root, received))
        return seen[-1]

    monkeypatch.setattr(engine_module, "saxon_text", spy)
    attachment = (
        "<cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID><cac:Attachment>"
        f'<cbc:EmbeddedDocumentBinaryObject mimeCode="application/pdf" filename="a.pdf">{BIG_BASE64}'
        "</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>"
    )
    data = base_example.replace(
        b"<cac:AccountingSupplierParty>", attachment.encode() + b"<cac:AccountingSupplierParty>", 1
    )
    assert validation_engine.validate(data).findings == ()
    assert len(seen) == 1
    assert BIG_BASE64[:100] not in seen[0]
    validation_engine.validate(base_example)
    assert seen[-1] == base_example.decode("utf-8")
