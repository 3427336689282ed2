"""The bound on a namespace URI (``gateway.xmlcore.start_tags``), checked on the bytes before any parse: at
the limit a document is parsed, above it refused by every reader of outside bytes, before a parser is made.
``<Invoice xmlns="urn:`` + 20 MB + ``">`` cost the receiver's read of an SBD 9 times its bytes, and was
accepted (BENCHMARKS.md, *Hostile payloads on receipt*)."""

from __future__ import annotations

import pytest
from lxml import etree

import gateway.xmlcore.start_tags as start_tags
from gateway.errors import XMLLimitExceeded
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbd_stream import stream_sbd
from gateway.xmlcore import MAX_ATTRIBUTES_PER_TAG, check_start_tags, parse_xml, root_name
from gateway.xmlcore.start_tags import MAX_NAMESPACE_URI_BYTES
from tests.unit.ubl.sbd_support import wrap

MAX = 50_000_000
REFUSAL = f"declares a namespace URI of more than {MAX_NAMESPACE_URI_BYTES} bytes"
#: Attributes enough for the scan's expression to run (more ``=`` than ``MAX_ATTRIBUTES_PER_TAG``).
MANY = b"<e a='1'/>" * (MAX_ATTRIBUTES_PER_TAG + 1)


def invoice(uri_bytes: int, *, name: bytes = b"xmlns", quote: bytes = b'"', many: bool = False) -> bytes:
    """An invoice whose root declares a URI of ``uri_bytes`` bytes under ``name`` (the others' ``=`` first
    if ``many``)."""
    uri = b"urn:" + b"a" * (uri_bytes - 4)
    return (
        b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
        + name + b"=" + quote + uri + quote + b"><ID>1</ID>" + (MANY if many else b"") + b"</Invoice>"
    )  # fmt: skip


DECLARATIONS = [
    {"name": b"xmlns:p"},
    {"name": b"xmlns:p", "quote": b"'"},
    {"name": b"xmlns:p \n\t", "quote": b"'"},  # blanks before the "="
    {"name": b"xmlns:xmlnsx"},  # "xmlns" in the prefix too
    {"name": b"xmlns:p", "many": True},  # the expression's path
]


def _readers(data: bytes) -> list[object]:
    """Every reader of outside bytes given ``data``, as an invoice or in a received SBD (built first)."""
    sbd = wrap(invoice(10, name=b"a")).replace(invoice(10, name=b"a"), data)
    return [
        lambda: parse_xml(data, max_bytes=MAX, what="invoice"),
        lambda: root_name(data, what="invoice"),
        lambda: read_sbd(sbd, max_bytes=MAX),
        lambda: stream_sbd(sbd, max_bytes=MAX),
    ]


def _unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    for parser in ("XMLParser", "XMLPullParser"):
        monkeypatch.setattr(etree, parser, lambda *_, **__: pytest.fail("parsed"))


@pytest.mark.parametrize("declared", DECLARATIONS, ids=lambda d: repr(d))
def test_a_uri_at_the_limit_is_parsed_one_byte_longer_is_refused_before_the_parse(
    declared: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    at_limit = invoice(MAX_NAMESPACE_URI_BYTES, **declared)  # type: ignore[arg-type]
    assert (
        len(parse_xml(at_limit).nsmap["p" if b"xmlns:p" in at_limit else "xmlnsx"]) == MAX_NAMESPACE_URI_BYTES
    )
    above = invoice(MAX_NAMESPACE_URI_BYTES + 1, **declared)  # type: ignore[arg-type]
    for data in (above, bytearray(above), memoryview(above)):
        with pytest.raises(XMLLimitExceeded, match=REFUSAL):
            check_start_tags(data, what="invoice")
    readers = _readers(above)
    _unparsed(monkeypatch)
    for read in readers:
        with pytest.raises(XMLLimitExceeded, match=REFUSAL):
            read()  # type: ignore[operator]


@pytest.mark.parametrize("many", [False, True])
def test_a_default_namespace_of_20_mb_is_refused_before_the_parse(
    many: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = (
        b'<Invoice xmlns="urn:'
        + b"a" * 20_000_000
        + b'"><ID>1</ID>'
        + (MANY if many else b"")
        + b"</Invoice>"
    )
    readers = _readers(hostile)
    _unparsed(monkeypatch)
    for read in readers:
        with pytest.raises(XMLLimitExceeded, match=REFUSAL):
            read()  # type: ignore[operator]


@pytest.mark.parametrize("many", [False, True])
def test_a_long_value_that_declares_nothing_is_let_through(many: bool) -> None:
    long_attribute = invoice(100_000, name=b"a", many=many)
    parse_xml(long_attribute)
    parse_xml(invoice(100_000, name=b"axmlns", many=many))  # a name ending in xmlns
    text = b"<r>" + (MANY if many else b"") + b'<t>xmlns: x="' + b"a" * 100_000 + b"</t></r>"
    parse_xml(text)  # a text


def test_a_crowded_tag_after_a_long_value_in_a_text_is_still_refused() -> None:
    crowded = b"<e" + b"".join(b" a%d='1'" % n for n in range(MAX_ATTRIBUTES_PER_TAG + 1)) + b"/>"
    data = b'<r><t>x="' + b"b" * 5_000 + b"</t>" + crowded + b"</r>"
    with pytest.raises(XMLLimitExceeded, match=f"more than {MAX_ATTRIBUTES_PER_TAG} attributes"):
        check_start_tags(data, what="x")


class _Counting:
    """Stands in for the scan's expression: counts its searches and finds nothing."""

    def __init__(self) -> None:
        self.searches = 0

    def search(self, *_: object) -> None:
        self.searches += 1


def test_with_few_equals_signs_the_uri_is_judged_without_the_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The normal path's cost: the searches for "=" it made already, and one match of at most
    # MAX_NAMESPACE_URI_BYTES bytes at each of them; no scan of the document.
    counting = _Counting()
    monkeypatch.setattr(start_tags, "_SUSPECT_TAG", counting)
    check_start_tags(invoice(MAX_NAMESPACE_URI_BYTES) + b"<!--" + b"x" * 1_000_000 + b"-->", what="x")
    with pytest.raises(XMLLimitExceeded, match=REFUSAL):
        check_start_tags(invoice(20_000_000), what="x")
    assert counting.searches == 0


@pytest.mark.parametrize("many", [False, True])
def test_a_long_uri_after_a_long_value_of_the_same_tag_is_refused(many: bool) -> None:
    long = b"u" * (MAX_NAMESPACE_URI_BYTES + 1)
    data = b'<r a="' + long + b'" b="1"\n xmlns:p = \'' + long + b"'>" + (MANY if many else b"") + b"</r>"
    with pytest.raises(XMLLimitExceeded, match=REFUSAL):
        check_start_tags(data, what="x")
    # The attributes after a long value count with those before it.
    crowded = (
        b'<r a="' + long + b'"' + b"".join(b" a%d='1'" % n for n in range(MAX_ATTRIBUTES_PER_TAG)) + b"/>"
    )
    with pytest.raises(XMLLimitExceeded, match=f"more than {MAX_ATTRIBUTES_PER_TAG} attributes"):
        check_start_tags(crowded, what="x")


def test_the_name_before_a_long_value_is_read_once_whatever_words_precede_it() -> None:
    # A comment of "=" each followed by more than the bound without a closing quote, the bytes before each
    # full of " xmlns x" words: each "=" is looked back at once, not once per "xmlns" before it (a 13 MB
    # such comment cost the check 1.8 s of CPU, and the receiver's SBD read twice that).
    words = b" xmlns x" * 8_190  # 64 kB, as far as the look-back reaches
    crafted = b"<r><!--" + (words + b'="') * 20 + b"--></r>"
    lines = 0

    def count(frame, event, arg):  # type: ignore[no-untyped-def]
        nonlocal lines
        if frame.f_code.co_name == "_is_declaration":
            if event == "line":
                lines += 1
            return count
        return None

    import sys

    sys.settrace(count)
    try:
        check_start_tags(crafted, what="the comment")  # not a declaration: the name before "=" is "x"
    finally:
        sys.settrace(None)
    assert 0 < lines < 20 * 20, lines  # a few lines per "=": 466,998 when it looked back per word
