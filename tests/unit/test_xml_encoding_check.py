"""XML in an encoding the byte scans cannot read is refused before them (``gateway.xmlcore.encoding``).

The scans of ``start_tags`` and ``name_length`` read ``<``, ``=``, quotes and blanks as bytes: in UTF-16 a
long name of characters holding a ``3C`` byte (U+4E3C) never leaves a ``<``-free gap, and libxml2 parsed it;
a start tag of thousands of attributes holds no ``=`` byte the attribute count sees as one. Such documents,
UTF-32 and EBCDIC ones are refused by every reader of outside bytes; UTF-8 and the ASCII-compatible
encodings still pass."""

from __future__ import annotations

import timeit
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.errors import XMLEncodingRefused, XMLInputError
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbd_stream import stream_sbd
from gateway.xmlcore import (
    MAX_ATTRIBUTES_PER_TAG,
    MAX_NAME_BYTES,
    check_start_tags,
    parse_xml,
    root_name,
    root_skeleton,
)
from gateway.xmlcore.encoding import check_encoding

MAX = 50_000_000
READERS: dict[str, Callable[[bytes], object]] = {
    "check_start_tags": lambda data: check_start_tags(data, what="doc"),
    "parse_xml": lambda data: parse_xml(data, max_bytes=MAX, what="doc"),
    "root_name": lambda data: root_name(data, what="doc"),
    "root_skeleton": lambda data: root_skeleton(data, keep=lambda _: True, what="doc", max_bytes=MAX),
    "read_sbd": lambda data: read_sbd(data, max_bytes=MAX),
    "stream_sbd": lambda data: stream_sbd(data, max_bytes=MAX),
}
DECLARED = '<?xml version="1.0" encoding="{}"?>'
#: 1 MB of name in UTF-16: 500,000 characters U+4E3C, each written ``3C 4E`` (little-endian).
LONG_NAME = "\u4e3c" * 500_000


def utf16_long_name(codec: str = "utf-16") -> bytes:
    return (DECLARED.format("UTF-16") + f"<Invoice><{LONG_NAME}>1</{LONG_NAME}></Invoice>").encode(codec)


@pytest.mark.parametrize("reader", READERS)
def test_a_utf16_name_of_1_mb_leaving_no_gap_is_refused_before_any_parse(reader: str) -> None:
    data = utf16_long_name()
    assert data.startswith(b"\xff\xfe")
    # The gap the name scan looks for is not there: a "<" byte every 2 bytes of the name.
    assert max(len(gap) for gap in data.split(b"<")) < MAX_NAME_BYTES
    with pytest.raises(
        XMLEncodingRefused, match=r"is encoded in UTF-16 \(a byte order mark\): the gateway reads"
    ):
        READERS[reader](data)


def test_a_utf16_start_tag_of_thousands_of_attributes_is_refused() -> None:
    attributes = "".join(f" \u4e3d{n}='1'" for n in range(5_000))  # U+4E3D: bytes "3D 4E", an "=" in each
    data = f"<Invoice{attributes}/>".encode("utf-16")
    with pytest.raises(XMLEncodingRefused, match="UTF-16"):
        check_start_tags(data, what="doc")
    assert MAX_ATTRIBUTES_PER_TAG < 5_000


def _other(text: str, codec: str, bom: bytes = b"") -> bytes:
    return bom + text.encode(codec, "xmlcharrefreplace")


BODY = "<Invoice a='1'>\u00e9</Invoice>"
REFUSED: dict[str, tuple[bytes, str]] = {
    "utf-16-le, bom": (_other(DECLARED.format("UTF-16") + BODY, "utf-16-le", b"\xff\xfe"), "UTF-16 (a byte"),
    "utf-16-be, bom": (_other(DECLARED.format("UTF-16") + BODY, "utf-16-be", b"\xfe\xff"), "UTF-16 (a byte"),
    "utf-16-le, no bom": (_other(DECLARED.format("UTF-16") + BODY, "utf-16-le"), "UTF-16 (NUL bytes"),
    "utf-16-be, no bom": (_other(DECLARED.format("UTF-16") + BODY, "utf-16-be"), "UTF-16 (NUL bytes"),
    "utf-16, bom, no declaration": (BODY.encode("utf-16"), "UTF-16 (a byte"),
    "utf-32-le, bom": (
        _other(DECLARED.format("UTF-32") + BODY, "utf-32-le", b"\xff\xfe\0\0"),
        "UTF-32 (a byte",
    ),
    "utf-32-be, bom": (
        _other(DECLARED.format("UTF-32") + BODY, "utf-32-be", b"\0\0\xfe\xff"),
        "UTF-32 (a byte",
    ),
    "utf-32-le, no bom": (_other(DECLARED.format("UTF-32") + BODY, "utf-32-le"), "UTF-32 (NUL bytes"),
    "utf-32-be, no declaration": (BODY.encode("utf-32-be"), "UTF-32 (NUL bytes"),
    "a utf-8 bom, then utf-16": (b"\xef\xbb\xbf" + BODY.encode("utf-16-le"), "UTF-16 (NUL bytes"),
    "cp500 declared": (_other(DECLARED.format("cp500") + BODY, "cp500"), "EBCDIC"),
    "IBM037 declared": (_other(DECLARED.format("IBM037") + BODY, "cp037"), "EBCDIC"),
    # Read by libxml2 (iconv) in the bytes of an ASCII-compatible start: "<" may be "+ADw-" in UTF-7.
    "utf-7 declared": (_other(DECLARED.format("UTF-7") + BODY, "utf-7"), "'UTF-7' (its XML declaration)"),
    "shift_jis declared": (_other(DECLARED.format("Shift_JIS") + BODY, "shift_jis"), "'Shift_JIS'"),
    "utf-16 declared, utf-8 bytes": (_other(DECLARED.format("UTF-16") + BODY, "utf-8"), "'UTF-16'"),
    "single quotes": (_other("<?xml version='1.0' encoding='UTF-16'?>" + BODY, "utf-8"), "'UTF-16'"),
    "an unknown encoding": (_other(DECLARED.format("x-bogus") + BODY, "utf-8"), "'x-bogus'"),
    "a utf-8 bom, utf-16 declared": (
        b"\xef\xbb\xbf" + _other(DECLARED.format("UTF-16") + BODY, "utf-8"),
        "'UTF-16'",
    ),
    "encoding after 300 blanks": (
        _other('<?xml version="1.0"' + " " * 300 + 'encoding="UTF-16"?>' + BODY, "utf-8"),
        "an XML declaration longer than 256 bytes",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_other_encodings_are_refused_naming_what_the_gateway_reads(case: str) -> None:
    data, refusal = REFUSED[case]
    with pytest.raises(XMLEncodingRefused) as refused:
        parse_xml(data, what="invoice")
    assert refusal in str(refused.value)
    if "declaration longer" not in refusal:
        assert str(refused.value).startswith("invoice is encoded in ")
        assert str(refused.value).endswith(
            "the gateway reads XML in UTF-8 (or an ASCII-compatible single-byte encoding: US-ASCII, "
            "ISO-8859-n, windows-125n...)"
        )


PASSED: dict[str, bytes] = {
    "no declaration": BODY.encode(),
    "no encoding declared": ('<?xml version="1.0"?>' + BODY).encode(),
    "a utf-8 bom": b"\xef\xbb\xbf" + (DECLARED.format("UTF-8") + BODY).encode(),
    "a utf-8 bom, no declaration": b"\xef\xbb\xbf" + BODY.encode(),
    "utf-8": (DECLARED.format("utf-8") + BODY).encode(),
    "UTF8": (DECLARED.format("UTF8") + BODY).encode(),
    "single quotes, blanks": (
        "<?xml version='1.0'\n  encoding = 'UTF-8' standalone='yes' ?>" + BODY
    ).encode(),
    "US-ASCII": (DECLARED.format("US-ASCII") + BODY).encode("ascii", "xmlcharrefreplace"),
    "ISO-8859-1": (DECLARED.format("ISO-8859-1") + BODY).encode("latin-1"),
    "iso-8859-15": (DECLARED.format("iso-8859-15") + BODY).encode("iso8859-15"),
    "windows-1252": (DECLARED.format("windows-1252") + BODY).encode("cp1252"),
    # Review 29: the other windows-125n and their cp spelling too (only 1252 was tried).
    "windows-1250": (DECLARED.format("windows-1250") + BODY).encode("cp1250", "xmlcharrefreplace"),
    "CP1251": (DECLARED.format("CP1251") + BODY).encode("cp1251", "xmlcharrefreplace"),
    "ISO_8859-2": (DECLARED.format("ISO_8859-2") + BODY).encode("iso8859-2", "xmlcharrefreplace"),
    "a stylesheet PI first": ('<?xml-stylesheet href="a.xsl"?>' + BODY).encode(),
    "a 200-byte declaration": ('<?xml version="1.0"' + " " * 150 + 'encoding="UTF-8"?>' + BODY).encode(),
}


@pytest.mark.parametrize("case", PASSED)
def test_utf8_and_the_ascii_compatible_encodings_are_parsed(case: str) -> None:
    root = parse_xml(PASSED[case], what="invoice")
    assert (root.tag, root.get("a"), root.text) == ("Invoice", "1", "\u00e9")


def test_a_document_cut_in_its_declaration_is_left_to_the_parse() -> None:
    with pytest.raises(XMLInputError, match="not well-formed") as refused:
        parse_xml(b'<?xml version="1.0" enc', what="doc")
    assert not isinstance(refused.value, XMLEncodingRefused)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_every_kind_of_bytes_is_read(kind: Callable[[bytes], bytes]) -> None:
    with pytest.raises(XMLEncodingRefused):
        check_encoding(kind(BODY.encode("utf-16")), what="doc")
    with pytest.raises(XMLEncodingRefused, match="'UTF-16'"):
        check_encoding(kind((DECLARED.format("UTF-16") + BODY).encode()), what="doc")
    check_encoding(kind(BODY.encode()), what="doc")
    check_encoding(
        kind(b"\xef\xbb\xbf" + (DECLARED.format("Windows-1252") + BODY).encode("cp1252")), what="doc"
    )


def test_the_check_costs_a_microsecond_or_so_on_a_received_invoice(artefacts_dir: Path) -> None:
    # It runs on every document: the first 256 bytes only, whatever the size (the e2e template's invoice).
    invoice = (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml").read_bytes()
    large = invoice + b"<!--" + b"x" * 20_000_000 + b"-->"
    for data in (invoice, large):
        seconds = (
            min(timeit.repeat(lambda d=data: check_encoding(d, what="doc"), number=2_000, repeat=3)) / 2_000
        )
        assert seconds < 100e-6, seconds  # ≈ 1 us here; a generous bound for a shared, slow machine
