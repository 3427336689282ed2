"""The encoding names an XML declaration may give (``gateway.xmlcore.encoding._READABLE``), checked against
libxml2 itself: each is read by lxml, and read as UTF-8 or as an ASCII-compatible single-byte encoding (every
byte below 80 that ASCII character, every other byte one non-ASCII character or refused, whatever surrounds
it), which the byte scans before the parse rely on. The names of those encodings that Python knows and
libxml2 reads so are all accepted (``ANSI_X3.4-1968``, ``ISO646-US``, ``IBM367``, ``l1``... were refused);
the names of multi-byte and stateful encodings, and the names libxml2 refuses, are refused by the check,
which names the encoding."""

from __future__ import annotations

import encodings.aliases
import random
import unicodedata
from functools import cache

import pytest
from lxml import etree

from gateway.errors import XMLEncodingRefused
from gateway.xmlcore import parse_xml
from gateway.xmlcore.encoding import _READABLE, check_encoding

NAMES = sorted(name.decode() for name in _READABLE)
UTF8 = {"utf-8", "utf8"}
#: Every byte a document's text may hold raw (``<`` and ``&`` open markup; CR is read as LF).
_TEXT_BYTES = [b for b in range(256) if b not in (0x3C, 0x26, 0x0D)]
_RANDOM = random.Random(20261207)
#: Byte strings that a stateful or multi-byte encoding reads otherwise than byte by byte: JAVA and C99
#: escapes, UTF-7, HZ, ISO-2022-KR and -JP shifts, UTF-8 and EUC pairs; then random strings of text bytes.
PROBES = [
    b"\\u003d",
    b"\\x3d",
    b"+ADw-",
    b"~{~}",
    b"\x1b$)C\x0e\x30\x3d\x0f",
    b"\x1b$B\x24\x3d\x1b(B",
    b"\x1b(J\\",
    b"\xc3\xa9",
    b"\xa4\xa2",
    b"\x81\x40",
    *(bytes(_RANDOM.choice(_TEXT_BYTES) for _ in range(_RANDOM.randint(2, 6))) for _ in range(200)),
]
#: What the scans read as bytes: a converter may compose a letter and an accent (windows-1255, -1258), never
#: one of these.
_SCANNED = "=\"'> \t\n/?!-"


def _declaring(name: str, text: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="' + name.encode() + b'"?><a>' + text + b"</a>"


def _read(name: str, text: bytes) -> str | None:
    """The text libxml2 reads from ``text`` in a document declaring ``name``; None if it refuses it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(_declaring(name, text), parser).text or ""
    except etree.XMLSyntaxError:
        return None


@cache
def _libxml2_reads_ascii_compatibly(name: str) -> bool:
    """Whether libxml2 reads ``name`` as UTF-8 or as an ASCII-compatible single-byte encoding."""
    if _read(name, b"x=y") != "x=y":
        return False  # refused ("Unsupported encoding"), or not even ASCII
    if name.lower() in UTF8 or _read(name, b"\xc3\xa9\xe2\x82\xac") == "\u00e9\u20ac":
        return _read(name, b"\x80") is None and all(
            _read(name, bytes([b])) == chr(b) for b in _TEXT_BYTES if 0x20 <= b < 0x7F
        )
    one = {b: _read(name, bytes([b])) for b in _TEXT_BYTES}
    if any(one[b] != chr(b) for b in (0x09, 0x0A, *range(0x20, 0x7F)) if b in one):
        return False
    if any(one[b] is not None for b in range(0x20) if b in one and b not in (0x09, 0x0A)):
        return False
    if any(text is not None and (len(text) != 1 or text.isascii()) for b, text in one.items() if b >= 0x80):
        return False
    for probe in PROBES:
        parts = [one[b] for b in probe]
        expected = None if None in parts else "".join(str(part) for part in parts)
        read = _read(name, probe)
        if read == expected:
            continue
        if read is None or expected is None:
            return False
        nfc = unicodedata.normalize
        if nfc("NFC", read) != nfc("NFC", expected) or any(
            read.count(c) != expected.count(c) for c in _SCANNED
        ):
            return False
    return True


@pytest.mark.parametrize("name", NAMES)
def test_each_accepted_name_is_read_by_libxml2_as_an_ascii_compatible_encoding(name: str) -> None:
    assert _libxml2_reads_ascii_compatibly(name)
    assert _read(name.upper(), b"x=y") == "x=y"  # case ignored, as the check ignores it


@pytest.mark.parametrize(
    "name", ["ANSI_X3.4-1968", "ISO646-US", "IBM367", "us", "CP367", "csASCII", "iso-ir-6"]
)
def test_the_rare_names_of_us_ascii_are_accepted(name: str) -> None:
    root = parse_xml(_declaring(name, b"x=y"), what="invoice")
    assert root.text == "x=y"


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("latin1", "latin-1"),
        ("L1", "latin-1"),
        ("IBM819", "latin-1"),
        ("ISO-IR-100", "latin-1"),
        ("csISOLatin1", "latin-1"),
        ("cp1252", "cp1252"),
        ("MS-ANSI", "cp1252"),
        ("CP1250", "cp1250"),
        ("latin-9", "iso8859-15"),
        ("l10", "iso8859-16"),
        ("greek", "iso8859-7"),
        ("KOI8-R", "koi8-r"),
        ("macintosh", "mac-roman"),
    ],
)
def test_other_names_of_the_single_byte_encodings_are_read(name: str, codec: str) -> None:
    text = {"iso8859-7": "\u03b1", "koi8-r": "\u0436"}.get(codec, "\u00e9")  # alpha, zhe, e acute
    check_encoding(_declaring(name, b""), what="invoice")
    root = parse_xml(_declaring(name, text.encode(codec)), what="invoice")
    assert root.text == text


def _python_names() -> list[str]:
    names = set()
    for alias, codec in encodings.aliases.aliases.items():
        for spelling in (alias, codec):
            names.update((spelling, spelling.replace("_", "-")))
    return sorted(names)


@pytest.mark.parametrize("name", _python_names())
def test_every_name_python_knows_that_libxml2_reads_ascii_compatibly_is_accepted(name: str) -> None:
    # The other way round: a name outside the list is either refused by libxml2 or read otherwise (multi-
    # byte, stateful, an ISO 646 variant writing "\" as a yen sign...).
    assert (name.encode().lower() in _READABLE) == _libxml2_reads_ascii_compatibly(name)


REFUSED = [
    "UTF-16",
    "UCS-2",
    "UTF-7",
    "ISO-2022-JP",
    "ISO-2022-KR",
    "csISO2022KR",
    "EUC-JP",
    "Shift_JIS",
    "GBK",
    "GB18030",
    "Big5",
    "HZ-GB-2312",
    "JAVA",
    "C99",
    "char",
    "JIS_X0201",
    "ISO646-JP",
    # Python's names that libxml2 refuses: the check refuses them first, naming the encoding.
    "latin-1",
    "iso8859_1",
    "cp65001",
    "ISO-8859-12",
]


@pytest.mark.parametrize("name", REFUSED)
def test_multi_byte_stateful_and_unknown_names_are_refused_naming_the_encoding(name: str) -> None:
    with pytest.raises(XMLEncodingRefused, match=f"is encoded in '{name}' \\(its XML declaration\\)"):
        parse_xml(_declaring(name, b"x"), what="invoice")


def test_a_name_libxml2_refuses_would_have_been_a_parse_error_not_the_encoding() -> None:
    # Why "latin-1" (accepted by the check before) is not in the list: libxml2 does not know it.
    assert _read("latin-1", b"x") is None
    with pytest.raises(etree.XMLSyntaxError, match="Unsupported encoding: latin-1"):
        etree.fromstring(_declaring("latin-1", b"x"), etree.XMLParser())
