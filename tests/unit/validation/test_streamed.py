"""Large documents validated without an lxml tree (gateway.validation.streamed) report exactly what the
tree path reports: the same findings on valid and invalid documents, and the tree path whenever the
streamed check cannot vouch for a document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import XMLInputError
from gateway.validation import ValidationEngine, ValidationReport
from gateway.validation.streamed import streamed_document

EXAMPLES = ("peppol-bis-billing-3.0.21", "examples")
INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def _examples(artefacts_dir: Path) -> list[tuple[str, bytes]]:
    folder = artefacts_dir.joinpath(*EXAMPLES)
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.xml"))]


def _mutants(base: bytes) -> Iterator[tuple[str, bytes]]:
    """Invalid or unusual variants of a valid invoice: each must take the tree path."""
    yield "element out of order", base.replace(b"<cbc:IssueDate>", b"<cbc:Foo>x</cbc:Foo><cbc:IssueDate>", 1)
    yield "bad date", base.replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>31-12-", 1)
    yield (
        "two errors",
        base.replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>x", 1).replace(
            b"<cbc:DocumentCurrencyCode", b"<cbc:Bar/><cbc:DocumentCurrencyCode", 1
        ),
    )
    yield "unknown root", f'<Order xmlns="{INV}"/>'.encode()
    # xs:ID (the xmldsig / XAdES ``Id`` attributes, validated in lax extension content) must be unique:
    # libxml2 checks that only on a tree, a pull parse's validation lets a duplicate pass.
    ds = b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"'
    yield (
        "duplicate xs:ID",
        base.replace(
            b"<cbc:CustomizationID",
            b'<ext:UBLExtensions xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:'
            b'CommonExtensionComponents-2"><ext:UBLExtension><ext:ExtensionContent>'
            b"<ds:Object " + ds + b' Id="x1">a</ds:Object></ext:ExtensionContent></ext:UBLExtension>'
            b"<ext:UBLExtension><ext:ExtensionContent><ds:Object " + ds + b'\n Id = "x1">b</ds:Object>'
            b"</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions><cbc:CustomizationID",
            1,
        ),
    )
    yield "latin-1", base.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1)
    yield (
        "large attachment",
        base.replace(
            b"</cac:AccountingSupplierParty>",
            b"</cac:AccountingSupplierParty>",
            1,
        ).replace(
            b"<cac:AccountingSupplierParty>",
            b"<cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID><cac:Attachment>"
            b'<cbc:EmbeddedDocumentBinaryObject mimeCode="application/pdf" filename="a.pdf">'
            + b"QUJD"
            * 2000
            + b"</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>"
            b"<cac:AccountingSupplierParty>",
            1,
        ),
    )


@pytest.fixture(scope="module")
def base_example(artefacts_dir: Path) -> bytes:
    return artefacts_dir.joinpath(*EXAMPLES, "base-example.xml").read_bytes()


def _both(engine: ValidationEngine, xml: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    monkeypatch.setattr(engine, "stream_above_bytes", 0)
    tree = _report(engine, xml)
    monkeypatch.setattr(engine, "stream_above_bytes", 1)
    streamed = _report(engine, xml)
    return tree, streamed


def _report(engine: ValidationEngine, xml: bytes) -> ValidationReport | str:
    try:
        return engine.validate(xml)
    except XMLInputError as exc:
        return f"XMLInputError: {exc}"


def test_valid_examples_take_the_streamed_path_with_the_same_findings(
    validation_engine: ValidationEngine, artefacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xsd = validation_engine.compiled().xsd
    taken = 0
    for name, xml in _examples(artefacts_dir):
        tree, streamed = _both(validation_engine, xml, monkeypatch)
        assert streamed == tree, name
        text = streamed_document(xml, xsd, max_bytes=validation_engine.max_bytes)
        if isinstance(tree, ValidationReport) and not any(f.layer.value == "xsd" for f in tree.findings):
            assert text is not None, name
            taken += 1
    assert taken >= 5


def test_invalid_documents_report_the_tree_paths_messages_and_lines(
    validation_engine: ValidationEngine, base_example: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    xsd = validation_engine.compiled().xsd
    for name, xml in _mutants(base_example):
        assert streamed_document(xml, xsd, max_bytes=validation_engine.max_bytes) is None, name
        tree, streamed = _both(validation_engine, xml, monkeypatch)
        assert streamed == tree, name
    tree, _ = _both(validation_engine, next(_mutants(base_example))[1], monkeypatch)
    assert isinstance(tree, ValidationReport)
    assert [f.location for f in tree.findings if f.layer.value == "xsd"] == ["line 8"]


@pytest.mark.parametrize(
    "xml",
    [
        b"<a><b></a>",
        b'<!DOCTYPE Invoice [<!ENTITY x "y">]><Invoice xmlns="' + INV.encode() + b'">&x;</Invoice>',
        b"<Invoice>&undefined;</Invoice>",
        b"",
    ],
)
def test_unreadable_input_raises_the_tree_paths_error(
    validation_engine: ValidationEngine, xml: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, streamed = _both(validation_engine, xml, monkeypatch)
    assert isinstance(tree, str)
    assert tree.startswith("XMLInputError")
    assert streamed == tree


def test_the_streamed_text_is_the_received_document(
    validation_engine: ValidationEngine, base_example: bytes
) -> None:
    xsd = validation_engine.compiled().xsd
    streamed = streamed_document(b"\xef\xbb\xbf" + base_example, xsd, max_bytes=10**8)
    assert streamed is not None
    assert streamed.saxon_text() == base_example.decode()
    assert (
        streamed_document(base_example, xsd, max_bytes=len(base_example) - 1) is None
    )  # the tree refuses it


def test_on_parsed_is_not_called_without_a_tree(
    validation_engine: ValidationEngine, base_example: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 1)
    assert validation_engine.validate(base_example, on_parsed=seen.append).findings == ()
    assert seen == []
    broken = base_example.replace(b"<cbc:IssueDate>", b"<cbc:Foo>x</cbc:Foo><cbc:IssueDate>", 1)
    validation_engine.validate(broken, on_parsed=seen.append)
    assert len(seen) == 1  # an invalid document takes the tree path, and hands its tree on


def test_a_bom_contradicting_the_declared_encoding_reads_as_the_tree_path_reads_it(
    validation_engine: ValidationEngine, base_example: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A UTF-8 BOM before a declaration naming ISO-8859-1: libxml2 (the XSD, the tree path, the official
    # reference's parse) reads UTF-8, Saxon reading the bytes from a file honoured the declaration, so
    # "SE1234567890é" (13 characters, SE-R-001 wants 14) was 14 characters there and SE-R-001 silently
    # passed on the streamed path of a document from 1 MiB up.
    vat = "<cbc:CompanyID>SE1234567890é</cbc:CompanyID>".encode()
    xml = base_example.replace(b"<cbc:CompanyID>GB1232434</cbc:CompanyID>", vat, 1).replace(
        b"<cbc:IdentificationCode>GB<", b"<cbc:IdentificationCode>SE<", 1
    )
    padding = b"x" * validation_engine.stream_above_bytes  # a long note: the document is streamed as it is
    xml = b"\xef\xbb\xbf" + xml.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1).replace(
        b"Payment within 10 days", b"Payment within 10 days" + padding, 1
    )
    streamed = validation_engine.validate(xml)
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 0)
    tree = validation_engine.validate(xml)
    assert "SE-R-001" in {f.rule for f in tree.findings}
    assert streamed == tree
