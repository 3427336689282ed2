"""The bound on one start tag's attributes (``gateway.xmlcore.start_tags``), checked before any parse: at
the limit a document is parsed, above it refused by every reader of outside bytes in ``xmlcore``."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.errors import XMLLimitExceeded
from gateway.validation.streamed import streamed_document
from gateway.xmlcore import MAX_ATTRIBUTES_PER_TAG, check_start_tags, parse_xml, root_name, root_skeleton

MAX = 1_000_000


def element(attributes: int, declarations: int = 0, *, quote: bytes = b'"') -> bytes:
    """An element with ``attributes`` attributes (values holding ">" and "=") and ``declarations`` namespace
    declarations on its start tag, inside a root."""
    names = b"".join(b" xmlns:p%d=%surn:p%d%s" % (n, quote, n, quote) for n in range(declarations))
    names += b"".join(b" a%d =\n %sx>=%d%s" % (n, quote, n, quote) for n in range(attributes))
    return b"<r><e" + names + b"/>text</r>"


@pytest.mark.parametrize("quote", [b'"', b"'"])
@pytest.mark.parametrize("declarations", [0, 80, MAX_ATTRIBUTES_PER_TAG])
def test_a_start_tag_at_the_limit_is_parsed_one_above_is_refused_before_the_parse(
    declarations: int, quote: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_limit = element(MAX_ATTRIBUTES_PER_TAG - declarations, declarations, quote=quote)
    parsed = parse_xml(at_limit)[0]
    assert len(parsed.attrib) + len(parsed.nsmap) == MAX_ATTRIBUTES_PER_TAG
    assert root_name(at_limit, what="x").localname == "r"
    above = element(MAX_ATTRIBUTES_PER_TAG + 1 - declarations, declarations, quote=quote)
    for parser in ("XMLParser", "XMLPullParser"):
        monkeypatch.setattr(etree, parser, lambda *_, **__: pytest.fail("parsed"))
    readers = [
        lambda: parse_xml(above, what="invoice"),
        lambda: root_name(above, what="invoice"),
        lambda: root_skeleton(above, keep=lambda _: True, what="invoice", max_bytes=MAX),
    ]
    refusal = f"invoice has an element with more than {MAX_ATTRIBUTES_PER_TAG} "
    for read in readers:
        with pytest.raises(XMLLimitExceeded, match=refusal):
            read()


def test_what_is_not_a_start_tag_is_not_counted() -> None:
    many = MAX_ATTRIBUTES_PER_TAG * 3
    check_start_tags(b"<r>" + b'a="b" ' * many + b"</r>", what="x")  # text (after the tag's ">")
    check_start_tags(b"<r>" + b"<e a='1'/>" * many + b"</r>", what="x")  # many tags of one each
    check_start_tags(b"<r><e a='" + b"=" * many + b"'/></r>", what="x")  # one value holding "="
    check_start_tags(b"<r>" + b"a=" * many + b"</r>", what="x")  # no quoted value: no attribute


class _StrictXSD:
    def may_be_lenient(self, _: bytes) -> bool:
        return False


def test_the_streamed_validation_leaves_such_a_document_to_the_tree_path_unparsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its first read is root_name, which refuses it: the engine then takes the tree path, whose parse_xml
    # refuses it before its parse (tests/integration/test_api_outbound.py: the API's 422).
    for parser in ("XMLParser", "XMLPullParser"):
        monkeypatch.setattr(etree, parser, lambda *_, **__: pytest.fail("parsed"))
    crowded = element(MAX_ATTRIBUTES_PER_TAG + 1)
    assert streamed_document(crowded, _StrictXSD(), max_bytes=MAX) is None  # type: ignore[arg-type]


class _Counting:
    """Stands in for the scan's expression: counts its searches and finds nothing."""

    def __init__(self) -> None:
        self.searches = 0

    def search(self, *_: object) -> None:
        self.searches += 1


def test_bytes_with_at_most_the_limit_of_equals_signs_skip_the_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gateway.xmlcore.start_tags as start_tags

    counting = _Counting()
    monkeypatch.setattr(start_tags, "_SUSPECT_TAG", counting)
    few = b"<r>" + b"<e a='1'/>" * MAX_ATTRIBUTES_PER_TAG + b"x" * 100_000 + b"</r>"
    check_start_tags(few, what="x")
    check_start_tags(bytearray(few), what="x")
    assert counting.searches == 0
    check_start_tags(few.replace(b"x", b"=", 1), what="x")  # one "=" more: the expression judges
    check_start_tags(memoryview(few), what="x")  # a view is always searched
    assert counting.searches == 2


@pytest.mark.parametrize("declarations", [0, 1])
def test_the_limit_plus_one_on_one_tag_is_refused_with_no_other_equals_sign(declarations: int) -> None:
    crowded = element(MAX_ATTRIBUTES_PER_TAG + 1 - declarations, declarations).replace(b">=", b">-")
    assert crowded.count(b"=") == MAX_ATTRIBUTES_PER_TAG + 1
    for data in (crowded, bytearray(crowded), memoryview(crowded)):
        with pytest.raises(XMLLimitExceeded):
            check_start_tags(data, what="x")


def test_many_equals_signs_over_many_tags_are_not_refused() -> None:
    spread = b"<r>" + b"<e a='1' b='2'/>" * (5 * MAX_ATTRIBUTES_PER_TAG) + b"</r>"
    assert spread.count(b"=") > MAX_ATTRIBUTES_PER_TAG
    for data in (spread, bytearray(spread), memoryview(spread)):
        check_start_tags(data, what="x")
    parse_xml(spread)
