"""xmlcore.stream: the tree-less reads refuse what the hardened parser refuses."""

from __future__ import annotations

import pytest

from gateway.errors import XMLInputError, XMLLimitExceeded
from gateway.xmlcore import (
    check_element,
    check_well_formed,
    declared_encoding,
    parse_xml,
    root_name,
    root_skeleton,
    top_level_element,
)

#: Inputs every read refuses: not well-formed, two roots, an undefined entity, any DTD, nothing.
REFUSED = [
    b"<a><b></a>",
    b"<a/><b/>",
    b"<a>&x;</a>",
    b"<!DOCTYPE a><a/>",
    b'<!DOCTYPE a [<!ENTITY x "y">]><a><b>&x;</b></a>',
    b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
    b"",
]


@pytest.mark.parametrize("data", REFUSED)
def test_check_well_formed_refuses(data: bytes) -> None:
    with pytest.raises(XMLInputError):
        check_well_formed(data, max_bytes=1000, what="doc")


def test_check_well_formed_accepts_and_caps() -> None:
    check_well_formed(
        b"<?xml version='1.0'?><a x='1'>&amp;&#65;<!-- c --><?p?></a>\n", max_bytes=1000, what="d"
    )
    with pytest.raises(XMLInputError):
        check_well_formed(b"<a/>" + b" " * 1000, max_bytes=1000, what="doc")


def test_root_name_reads_only_the_start_tag() -> None:
    assert root_name(b"<r:x xmlns:r='urn:r'><broken", what="doc").text == "{urn:r}x"
    with pytest.raises(XMLInputError):
        root_name(b"<!DOCTYPE x><x/>", what="doc")
    with pytest.raises(XMLInputError):
        root_name(b"<!-- only a comment -->", what="doc")


def test_top_level_element_stops_at_the_wanted_child_and_clears_the_others() -> None:
    data = b"<r><big>" + b"x" * 100_000 + b"</big><want><c>BE</c></want><broken"
    found = top_level_element(data, "want", what="doc")
    assert found is not None
    assert found.findtext("c") == "BE"
    big = found.getparent()[0]  # type: ignore[index]
    assert big.tag == "big"
    assert big.text is None  # cleared when it ended
    assert top_level_element(b"<r><a/></r>", "want", what="doc") is None
    with pytest.raises(XMLInputError):
        top_level_element(b"<!DOCTYPE r><r><want/></r>", "want", what="doc")
    with pytest.raises(XMLInputError):
        top_level_element(b"<r><a></b><want/></r>", "want", what="doc")


def test_check_well_formed_does_not_resolve_prefixes_but_the_receiver_does() -> None:
    # Documented: the tree-less pass accepts an undeclared prefix; the receiver's SBD parse refuses it.
    check_well_formed(b"<a><cbc:ID>1</cbc:ID></a>", max_bytes=1000, what="doc")
    with pytest.raises(XMLInputError):
        parse_xml(b"<a><cbc:ID>1</cbc:ID></a>")


#: What the XML namespace rules refuse (the tree parse refuses each), which libxml2 only logs without a tree.
NAMESPACE_ERRORS = [
    b"<a><cbc:ID>1</cbc:ID></a>",  # an undeclared element prefix
    b"<a><b q:c='1'/></a>",  # an undeclared attribute prefix
    b"<a xmlns:p='urn:x'><p:b:c/></a>",  # two colons
    b"<a xmlns:p='urn:x'><p:/></a>",  # an empty local part
    b"<a xmlns:p='urn:x' xmlns:q='urn:x'><b p:c='1' q:c='2'/></a>",  # one attribute twice
    b"<a><b xmlns:p=''/></a>",  # a prefix undeclared
    b"<a><b xmlns='a b'/></a>",  # not a URI
    b"<a xmlns:xml='urn:y'/>",
]


@pytest.mark.parametrize("data", NAMESPACE_ERRORS)
def test_check_element_refuses_what_the_namespace_rules_refuse(data: bytes) -> None:
    with pytest.raises(XMLInputError):
        parse_xml(data)
    check_well_formed(data, max_bytes=1000, what="doc")  # logged, not raised
    with pytest.raises(XMLInputError, match="refused by the XML rules"):
        check_element(data, depth=1, max_bytes=1000, what="doc")


def test_check_element_refuses_a_warning_and_accepts_clean_namespaces() -> None:
    # A warning the tree parse lets pass is refused too: only what libxml2 says nothing about passes.
    parse_xml(b"<a><b xml:space='bogus'/></a>")
    with pytest.raises(XMLInputError, match="WARNING"):
        check_element(b"<a><b xml:space='bogus'/></a>", depth=1, max_bytes=1000, what="doc")
    clean = (
        b"<a xmlns:p='urn:x'><p:b p:c='1' xml:lang='en'><p:d xmlns:p='urn:y'/><e xmlns='urn:z'/></p:b></a>"
    )
    check_element(clean, depth=1, max_bytes=1000, what="doc")
    check_element(b"<a x='>'/>", depth=2, max_bytes=1000, what="doc")
    check_element(
        b"<a x='/>'>&amp;<![CDATA[</a>]]><!-- </a> --><?p </a>?></a \n>", depth=2, max_bytes=1000, what="d"
    )
    for data in REFUSED:
        with pytest.raises(XMLInputError):
            check_element(data, depth=1, max_bytes=1000, what="doc")


@pytest.mark.parametrize(
    "data",
    [
        b"<?xml version='1.0'?><a/>",  # not an element's bytes: a prolog
        b" <a/>",
        b"<a/> ",
        b"<a></a><!-- c -->",
        b"<a></b>",
        b"<a></a></a>",
        b"<a><a></a>",
        b"<a/><a/>",
        b"<a></a><a></a>",  # one element's start and end tags, with a sibling between them
        b"<a>x</a>y<a>z</a>",
        b"\xef\xbb\xbf<a/>",
    ],
)
def test_check_element_takes_one_element_only(data: bytes) -> None:
    with pytest.raises(XMLInputError):
        check_element(data, depth=1, max_bytes=1000, what="doc")


def _nested(levels: int) -> bytes:
    return b"<a>" + b"<b>" * (levels - 1) + b"</b>" * (levels - 1) + b"</a>"


@pytest.mark.parametrize(
    ("max_bytes", "limit"), [(1_000_000, 256), (20_000_000, 2048)]
)  # huge_tree above 10 MB
@pytest.mark.parametrize("depth", [1, 2])
def test_check_element_refuses_what_the_tree_finds_too_deep(max_bytes: int, limit: int, depth: int) -> None:
    # libxml2 limits the depth only while it builds a tree (a parse without one takes any depth): 256 levels,
    # 2048 with huge_tree (libxml2 2.14; 2.12-2.13 take one level more, 2.12 any depth with huge_tree).
    # Whatever check_element passes at ``depth``, the tree takes there; it passes the documents 2.14 takes.
    def tree_takes(levels: int) -> bool:
        try:
            parse_xml(b"<r>" * (depth - 1) + _nested(levels) + b"</r>" * (depth - 1), max_bytes=max_bytes)
        except XMLInputError:
            return False
        return True

    check_element(_nested(limit - depth + 1), depth=depth, max_bytes=max_bytes, what="doc")
    for levels in (limit - depth + 2, limit - depth + 3, limit + 1, 5000):
        try:
            check_element(_nested(levels), depth=depth, max_bytes=max_bytes, what="doc")
        except XMLInputError:
            continue
        assert tree_takes(levels), levels


def test_check_element_has_the_tree_limits_of_max_bytes() -> None:
    # Without huge_tree (max_bytes up to 10 MB) the tree refuses a name longer than 50,000 characters.
    name = b"n" * 50_001
    long_name = b"<a><" + name + b"/></a>"
    with pytest.raises(XMLInputError):
        parse_xml(long_name, max_bytes=1_000_000)
    with pytest.raises(XMLInputError):
        check_element(long_name, depth=1, max_bytes=1_000_000, what="doc")
    with pytest.raises(XMLLimitExceeded):  # our own bound, on the bytes before the parse (``name_length``)
        parse_xml(long_name, max_bytes=20_000_000)
    # The element of a document that bound passed (``read_sbd``): libxml2's limit under huge_tree.
    check_element(long_name, depth=1, max_bytes=20_000_000, what="doc")
    with pytest.raises(XMLInputError, match="above the limit"):
        check_element(long_name, depth=1, max_bytes=len(long_name) - 1, what="doc")


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"<?xml version='1.0' encoding='US-ASCII'?><a/>", "us-ascii"),
        (b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?><a/>', "utf-8"),
        (b"<?xml version='1.0'?><a/>", None),
        (b"<a/>", None),
        (b"<a/><?xml version='1.0' encoding='latin1'?>", None),  # a declaration only counts at the start
    ],
)
def test_declared_encoding(data: bytes, encoding: str | None) -> None:
    assert declared_encoding(data) == encoding


@pytest.mark.parametrize(
    "data",
    [
        *REFUSED,
        b"<p:a/>",  # an undeclared prefix: the namespace rules of a tree parse
        b"<a>" + b"<b>x</b>" * 3 + b"</a" + b"<c/>" * 10_000,  # the error long after the first chunk
    ],
)
def test_root_skeleton_refuses_what_parse_xml_refuses(data: bytes) -> None:
    with pytest.raises(XMLInputError):
        parse_xml(data, max_bytes=10**6, what="doc")
    with pytest.raises(XMLInputError):
        root_skeleton(data, keep=lambda child: True, what="doc", max_bytes=10**6)


def test_root_skeleton_keeps_the_accepted_children_whole_and_drops_the_others() -> None:
    lines = b"".join(b"<line n='%d'><q>%d</q></line>" % (i, i) for i in range(5_000))
    data = b"<doc xmlns:x='urn:x'><id>7</id>" + lines + b"<x:party><name>P</name></x:party></doc>"
    seen: list[str] = []

    def keep(child: object) -> bool:
        tag = child.tag  # type: ignore[attr-defined]
        if tag == "line":
            seen.append(child.findtext("q"))  # type: ignore[attr-defined]  # complete when handed on
            return False
        return True

    root = root_skeleton(data, keep=keep, what="doc", max_bytes=10**7)
    assert [child.tag for child in root] == ["id", "{urn:x}party"]
    assert root.findtext("{urn:x}party/name") == "P"
    assert seen == [str(i) for i in range(5_000)]
    with pytest.raises(XMLInputError, match="above the limit"):
        root_skeleton(data, keep=keep, what="doc", max_bytes=100)
