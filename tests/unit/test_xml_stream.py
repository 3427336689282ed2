"""xmlcore.stream: the tree-less reads refuse what the hardened parser refuses."""

from __future__ import annotations

import pytest

from gateway.errors import XMLInputError
from gateway.xmlcore import (
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
def test_strict_refuses_what_the_namespace_rules_refuse(data: bytes) -> None:
    with pytest.raises(XMLInputError):
        parse_xml(data)
    check_well_formed(data, max_bytes=1000, what="doc")  # logged, not raised
    with pytest.raises(XMLInputError, match="refused by the XML rules"):
        check_well_formed(data, max_bytes=1000, what="doc", strict=True)


def test_strict_refuses_a_warning_and_accepts_clean_namespaces() -> None:
    # A warning the tree parse lets pass is refused too: strict passes only what libxml2 says nothing about.
    parse_xml(b"<a><b xml:space='bogus'/></a>")
    with pytest.raises(XMLInputError, match="WARNING"):
        check_well_formed(b"<a><b xml:space='bogus'/></a>", max_bytes=1000, what="doc", strict=True)
    clean = (
        b"<a xmlns:p='urn:x'><p:b p:c='1' xml:lang='en'><p:d xmlns:p='urn:y'/><e xmlns='urn:z'/></p:b></a>"
    )
    check_well_formed(clean, max_bytes=1000, what="doc", strict=True)
    for data in REFUSED:
        with pytest.raises(XMLInputError):
            check_well_formed(data, max_bytes=1000, what="doc", strict=True)


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
