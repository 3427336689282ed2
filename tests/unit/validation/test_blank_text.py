"""A large document found XSD-valid reaches Saxon without the whitespace between its elements
(gateway.validation.blank_text), and the findings stay those of the document as received."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.large import many_lines_invoice
from gateway.validation import ValidationEngine
from gateway.validation.blank_text import without_blank_text
from gateway.validation.streamed import streamed_document

INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<a>\n  <b>1</b>\n  <c/>\n  <d>\n    <e>x y</e>\n  </d>\n</a>",
            "<a><b>1</b><c/><d><e>x y</e></d></a>",
        ),
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n<a>\n <b/>\n</a>\n',
            '<?xml version="1.0" encoding="UTF-8"?><a><b/></a>\n',
        ),
        (
            "<a>\n <b>  </b>\n <c>\t</c>\n</a>",
            "<a><b>  </b><c>\t</c></a>",
        ),  # an element's own whitespace stays
        ("<a>\n <b c=\"1 &gt; 0\" d='/'>\n  <e/>\n </b>\n</a>", "<a><b c=\"1 &gt; 0\" d='/'><e/></b></a>"),
        ("<a>\n <b>&#10;</b>&#32;<c/>\n</a>", "<a><b>&#10;</b>&#32;<c/></a>"),  # references are not blank
        ("<a> x <b/> </a>", "<a> x <b/></a>"),  # never whitespace inside a text
    ],
)
def test_whitespace_between_elements_goes_and_values_stay(text: str, expected: str) -> None:
    assert without_blank_text(text.encode()) == expected.encode()
    assert without_blank_text(b"\xef\xbb\xbf" + text.encode()) == b"\xef\xbb\xbf" + expected.encode()


@pytest.mark.parametrize(
    "text",
    [
        "<a>\n <!-- c -->\n <b/>\n</a>",
        "<a>\n <b><![CDATA[ <x/> ]]></b>\n</a>",
        "<a>\n <?pi x?>\n <b/>\n</a>",
        "<!DOCTYPE a>\n<a>\n <b/>\n</a>",
        "<a>\n <b>1 > 0</b>\n <c/>\n</a>",  # a ">" that ends no tag
        "<a>\n <ext:UBLExtensions xmlns:ext='x'/>\n <b/>\n</a>",  # extension content may be mixed
        '<?xml version="1.0"',
    ],
)
def test_anything_that_could_look_like_a_tag_leaves_the_text_as_received(text: str) -> None:
    xml = text.encode()
    assert without_blank_text(xml) is xml


def _invoice_with_findings(lines: int) -> bytes:
    """An indented invoice of ``lines`` lines with findings on some of them (unit codes, a quantity that
    breaks the totals, an empty note) and whitespace in a value."""
    xml = many_lines_invoice(lines, tag="blank").ubl
    xml = xml.replace(b'unitCode="', b'unitCode="XX', 3)  # BR-CL-23 on the first lines
    xml = re.sub(rb"(<cbc:InvoicedQuantity[^>]*>)\d+", rb"\g<1>999", xml, count=1)  # BR-CO-10 / line totals
    return xml.replace(b"</cbc:Note>", b"</cbc:Note>\n  <cbc:Note>   </cbc:Note>", 1)


def _saxon_texts(engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the engine's Saxon runtime is given to parse, as text or as a file (the real parse still
    runs)."""
    runtime: Any = engine._runtime
    seen: list[str] = []
    parse, parse_file = runtime.parse, runtime.parse_file

    def recording(text: str) -> Any:
        seen.append(text)
        return parse(text)

    def recording_file(path: str) -> Any:
        seen.append(Path(path).read_bytes().decode("utf-8"))
        return parse_file(path)

    monkeypatch.setattr(runtime, "parse", recording)
    monkeypatch.setattr(runtime, "parse_file", recording_file)
    return seen


def test_a_large_valid_document_reaches_saxon_without_blank_text_and_reports_the_same(
    validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    xml = _invoice_with_findings(300)
    validation_engine.compiled()
    assert streamed_document(xml, validation_engine.compiled().xsd, max_bytes=10**8) is not None
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 0)
    tree = validation_engine.validate(xml)  # the tree path: Saxon reads the document as received
    seen = _saxon_texts(validation_engine, monkeypatch)
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 1)
    monkeypatch.setattr(validation_engine, "strip_blank_text", False)
    as_received = validation_engine.validate(xml)
    monkeypatch.setattr(validation_engine, "strip_blank_text", True)
    stripped = validation_engine.validate(xml)
    assert stripped == as_received == tree
    ids = {f.rule for f in tree.findings}
    assert {"BR-CL-23", "PEPPOL-EN16931-R008", "PEPPOL-EN16931-R120"} <= ids, ids
    assert any("][2]/*:InvoicedQuantity" in f.location for f in tree.findings)  # line 2
    assert len(seen) == 2
    assert ">\n  <" in seen[0]
    assert ">\n  <" not in seen[1]
    assert "<cbc:Note>   </cbc:Note>" in seen[1]
    assert len(seen[1]) < 0.85 * len(seen[0])


def test_text_in_element_only_content_never_takes_the_streamed_path(
    validation_engine: ValidationEngine,
) -> None:
    """The premise: an aggregate holding text is invalid, so it never reaches the stripping."""
    xml = many_lines_invoice(3, tag="blank").ubl.replace(b"<cac:InvoicePeriod>", b"<cac:InvoicePeriod>x", 1)
    assert streamed_document(xml, validation_engine.compiled().xsd, max_bytes=10**8) is None


def test_the_setting_reaches_the_engine(tmp_path: Path) -> None:
    from gateway.bootstrap.adapters import build_validation_engine
    from gateway.config import Settings

    assert build_validation_engine(Settings()).strip_blank_text is True
    off = Settings.model_validate({"validation": {"strip_blank_text": False}})
    assert build_validation_engine(off).strip_blank_text is False


def test_a_document_of_many_chunks_is_cleaned_as_one() -> None:
    from gateway.validation import blank_text

    xml = many_lines_invoice(400, tag="blank").ubl
    assert len(xml) > 4 * blank_text._CHUNK
    cleaned = without_blank_text(xml)
    assert cleaned == blank_text._without_blank(xml)
    assert b">\n" not in cleaned.rstrip()
