"""The bound on the length of an XML name (``gateway.xmlcore.name_length``), checked on the bytes before any
parse: at the limit a document is parsed, above it refused by every reader of outside bytes, before a parser
is made. A 9.9 MB element name cost the receiver's read of an SBD 4 times its bytes, and was accepted under
``huge_tree`` (BENCHMARKS.md, *Hostile payloads on receipt*)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from lxml import etree

import gateway.xmlcore.name_length as name_length
from gateway.errors import XMLLimitExceeded
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
from tests.unit.ubl.sbd_support import wrap

MAX = 50_000_000
REFUSAL = f"name of more than {MAX_NAME_BYTES} bytes"
#: Attributes enough for the attribute scan's expression to run (more ``=`` than ``MAX_ATTRIBUTES_PER_TAG``).
MANY = b"<e a='1'/>" * (MAX_ATTRIBUTES_PER_TAG + 1)
UBL = b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"


def _element(n: int) -> bytes:
    name = b"E" * n
    return b'<Invoice xmlns="' + UBL + b'"><' + name + b">1</" + name + b"></Invoice>"


def _attribute(n: int) -> bytes:
    return b'<Invoice xmlns="' + UBL + b'" id="1"\n ' + b"a" * n + b" = '1'><ID>1</ID></Invoice>"


def _declared_prefix(n: int) -> bytes:  # declared only
    return b'<Invoice xmlns="' + UBL + b'" xmlns:' + b"p" * (n - 6) + b'="urn:p"><ID>1</ID></Invoice>'


def _used_prefix(n: int) -> bytes:  # declared on the element named with it (the declaration a byte shorter)
    prefix = b"P" * (n - len(b":Amount"))
    name = prefix + b":Amount"
    return (
        b'<Invoice xmlns="'
        + UBL
        + b'"><'
        + name
        + b" xmlns:"
        + prefix
        + b'="urn:p">1</'
        + name
        + b"></Invoice>"
    )


def _prefixed_attribute(n: int) -> bytes:  # the declaration a byte shorter
    prefix = b"P" * (n - len(b":amount"))
    declaration = b" xmlns:" + prefix + b'="urn:p"'
    return (
        b'<Invoice xmlns="' + UBL + b'"' + declaration + b" " + prefix + b':amount="1"><ID>1</ID></Invoice>'
    )


def _target(n: int) -> bytes:  # a processing instruction's
    return b'<Invoice xmlns="' + UBL + b'"><?' + b"t" * n + b" data?><ID>1</ID></Invoice>"


KINDS: dict[str, Callable[[int], bytes]] = {
    "element": _element,
    "attribute": _attribute,
    "declared prefix": _declared_prefix,
    "used prefix": _used_prefix,
    "prefixed attribute": _prefixed_attribute,
    "processing instruction": _target,
}


def _readers(data: bytes) -> list[Callable[[], object]]:
    """Every reader of outside bytes given ``data``, as an invoice or in a received SBD (built first)."""
    plain = b'<Invoice xmlns="' + UBL + b'"><ID>1</ID></Invoice>'
    sbd = wrap(plain).replace(plain, data)
    return [
        lambda: parse_xml(data, max_bytes=MAX, what="invoice"),
        lambda: root_name(data, what="invoice"),
        lambda: root_skeleton(data, keep=lambda _: True, what="invoice", max_bytes=MAX),
        lambda: read_sbd(sbd, max_bytes=MAX),
        lambda: stream_sbd(sbd, max_bytes=MAX),
    ]


def _unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    for parser in ("XMLParser", "XMLPullParser"):
        monkeypatch.setattr(etree, parser, lambda *_, **__: pytest.fail("parsed"))


@pytest.mark.parametrize("many", [False, True], ids=["few =", "many ="])
@pytest.mark.parametrize("kind", KINDS)
def test_a_name_at_the_limit_is_parsed_one_byte_longer_is_refused_before_the_parse(
    kind: str, many: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def document(n: int) -> bytes:
        data = KINDS[kind](n)
        return data.replace(b"</Invoice>", MANY + b"</Invoice>") if many else data

    at_limit = document(MAX_NAME_BYTES)
    parse_xml(at_limit, max_bytes=MAX)
    check_start_tags(memoryview(at_limit), what="x")
    above = document(MAX_NAME_BYTES + 1)
    for data in (above, bytearray(above), memoryview(above)):
        with pytest.raises(XMLLimitExceeded, match=REFUSAL):
            check_start_tags(data, what="invoice")
    readers = _readers(above)
    _unparsed(monkeypatch)
    for read in readers:
        with pytest.raises(XMLLimitExceeded, match=REFUSAL):
            read()


@pytest.mark.parametrize("kind", KINDS)
def test_a_name_of_5_mb_is_refused_in_milliseconds_before_the_parse(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = KINDS[kind](5_000_000)
    readers = _readers(hostile)
    _unparsed(monkeypatch)
    for read in readers:
        started = time.process_time()
        with pytest.raises(XMLLimitExceeded, match=REFUSAL):
            read()
        assert time.process_time() - started < 0.5  # under 1 ms; the parse took 0.1-0.6 s (BENCHMARKS.md)


def test_the_refusal_names_the_limit_and_where_the_name_starts() -> None:
    data = _attribute(MAX_NAME_BYTES + 1)
    with pytest.raises(XMLLimitExceeded) as refused:
        check_start_tags(data, what="the invoice")
    at = data.index(b"aaa")
    assert str(refused.value) == (
        f"the invoice has an element, attribute or namespace prefix name of more than {MAX_NAME_BYTES} bytes "
        f"(at byte {at}): the limit is {MAX_NAME_BYTES}"
    )


LONG = b"A" * (3 * MAX_NAME_BYTES)

NOT_NAMES = {
    "text": b"<r><b>" + LONG + b"==</b></r>",  # base64 of zeros, padded
    "text after blanks": b"<r><b>\n  " + LONG + b"=\n</b></r>",
    "text after an attribute": b'<r><b mimeCode="application/pdf" filename="x.pdf">' + LONG + b"</b></r>",
    "CDATA": b"<r><![CDATA[" + LONG + b"=]]></r>",
    "comment": b"<r><!--" + LONG + b" a=" + LONG + b"--></r>",
    "processing instruction data": b"<r><?pi " + LONG + b" a='1' " + LONG + b"?></r>",
    "attribute value": b'<r a="' + LONG + b'" b=" ' + LONG + b" " + LONG + b'"/>',
    "blanks": b"<r" + b" " * len(LONG) + b'a="1"' + b"\n" * len(LONG) + b"/>",
}


@pytest.mark.parametrize("many", [False, True], ids=["few =", "many ="])
@pytest.mark.parametrize("what", NOT_NAMES)
def test_what_is_no_name_is_not_refused_however_long(what: str, many: bool) -> None:
    data = NOT_NAMES[what].replace(b"</r>", MANY + b"</r>") if many else NOT_NAMES[what]
    if what == "blanks" and many:
        data = data.replace(b"/>", b">" + MANY + b"</r>")
    parse_xml(data, max_bytes=MAX)
    for view in (data, bytearray(data), memoryview(data)):
        check_start_tags(view, what="x")


class _Counting:
    """Stands in for the name expression: counts its uses and finds nothing."""

    def __init__(self) -> None:
        self.calls = 0

    def match(self, *_: object) -> None:
        self.calls += 1

    search = match


def test_only_the_tag_before_a_long_gap_is_read_by_the_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    # The normal path's cost: a search for "<" per window of MAX_NAME_BYTES / 2 bytes; the expression only
    # at a "<" followed by more than a window without one (an attachment's element), once per such gap.
    counting = _Counting()
    monkeypatch.setattr(name_length, "_LONG_NAME", counting)
    invoice = b"<Invoice>" + b"<cbc:ID schemeID='0208'>1</cbc:ID>" * 2_000 + b"</Invoice>"
    check_start_tags(invoice, what="x")
    assert counting.calls == 0
    attachments = invoice.replace(b">1<", b">" + b"A" * 10 * MAX_NAME_BYTES + b"<", 3)
    check_start_tags(attachments, what="x")
    assert counting.calls == 3


@pytest.mark.parametrize("text", [0, 1, 2_047, 4_095, 4_096, 4_097, 6_000, 8_191, 8_192, 8_193, 20_000])
def test_a_long_name_is_found_wherever_it_starts_and_after_a_jumped_gap(text: int) -> None:
    # The windows of MAX_NAME_BYTES / 2 bytes fall anywhere in the name; a text before it of more than a
    # window is a gap jumped over, its element's tag read first.
    before = b"<r><t a='1'>" + b"A" * text + b"</t>"
    for n, refused in ((MAX_NAME_BYTES, False), (MAX_NAME_BYTES + 1, True)):
        for data in (before + b"<" + b"e" * n + b"/></r>", before + b"<e\n" + b"a" * n + b"='1'/></r>"):
            if refused:
                with pytest.raises(XMLLimitExceeded, match=REFUSAL):
                    check_start_tags(data, what="x")
            else:
                check_start_tags(data, what="x")
