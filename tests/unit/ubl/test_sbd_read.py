"""``read_sbd`` (the receiving side): the same verdicts and values as ``parse_sbd`` (which parses the whole
SBD as a tree), without building a tree of the business document in the layout senders write."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from gateway.errors import MappingError, XMLInputError
from gateway.ubl import sbd_read, sbdh
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbdh import SBDH_NS, SBDHData, parse_sbd
from tests.unit.ubl.sbd_support import wrap

INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
BODY = (
    f'<Invoice xmlns="{INV}" xmlns:cbc="{CBC}"><cbc:ID>A&amp;B</cbc:ID>'
    f'<cbc:Note xml:lang="en">n</cbc:Note></Invoice>'
).encode()
MAX = 1_000_000

Mutant = Callable[[bytes], bytes]

#: Each a way to break or vary the SBD; read_sbd must answer as parse_sbd does.
MUTANTS: list[Mutant] = [
    lambda s: s,
    lambda s: s.replace(b"</Invoice>", b"</Invoice><Invoice xmlns='%s'/>" % INV.encode()),  # two documents
    lambda s: s.replace(b"</Invoice>", b"</Invoice>text"),
    lambda s: s.replace(b"<cbc:Note", b"<cbc:Note a=>"),  # syntax error inside the business document
    lambda s: s.replace(b"A&amp;B", b"A&e;B"),  # an entity reference
    lambda s: s.replace(b"<cbc:Note", b"<x:Note"),  # an undeclared element prefix
    lambda s: s.replace(b"<cbc:Note xml:lang", b"<cbc:Note x:lang"),  # an undeclared attribute prefix
    lambda s: s.replace(b"<cbc:Note xml:lang", "<cbc:Note \u00e9cbc:lang".encode()),  # non-ASCII, ends as cbc
    lambda s: s.replace(
        b"</cbc:Note></Invoice>", b"</cbc:Note><y xmlns:x='u'/><x:z/></Invoice>"
    ),  # out of scope
    lambda s: s.replace(
        b"</cbc:Note></Invoice>", b"</cbc:Note><y xmlns:x='u'><x:z/></y></Invoice>"
    ),  # in scope
    lambda s: s.replace(b"<cbc:Note", b"<!-- <q:x/> --><cbc:Note"),  # looks like a prefix, is a comment
    lambda s: s.replace(b"</StandardBusinessDocumentHeader>", b"</StandardBusinessDocumentHeader><!-- c -->"),
    lambda s: s.replace(b"</StandardBusinessDocument>", b"<!-- c --></StandardBusinessDocument>"),
    lambda s: s.replace(b"</StandardBusinessDocument>", b"</StandardBusinessDocument><x/>"),
    lambda s: s.replace(
        b"<StandardBusinessDocument ", b"<StandardBusinessDocument xmlns:cbc='%s' " % CBC.encode()
    ),
    lambda s: s.replace(b"<?xml version='1.0' encoding='UTF-8'?>", b'<!DOCTYPE x [<!ENTITY e "v">]>'),
    lambda s: s.replace(b"<HeaderVersion>1.0", b"<HeaderVersion>2.0"),
    lambda s: s[: s.index(b"<Invoice")] + b"</StandardBusinessDocument>",  # no business document
    lambda s: s[:-40],  # truncated
    lambda s: s.replace(b"<Invoice", b"<CreditNote").replace(b"</Invoice>", b"</CreditNote>"),
    # The XML namespace rules, which a tree-less pass does not apply (each refused by the tree parse).
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<cbc:ID:x>1</cbc:ID:x>"),  # two colons
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<xmlns:foo>1</xmlns:foo>"),  # the xmlns prefix
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<xml:foo>1</xml:foo>"),  # xml on an element
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID xmlns:cbc=''>"),  # a prefix undeclared
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID xmlns:xml='urn:y'>"),  # xml bound elsewhere
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID xmlns:xmlns='urn:y'>"),
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID xmlns:p='http://www.w3.org/XML/1998/namespace'>"),
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID xmlns:='urn:z'>"),  # an empty prefix declared
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<:ID>1</:ID>"),  # an empty prefix
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<cb:ID>1</cb:ID>"),  # the start of a declared prefix
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<cbcx:ID>1</cbcx:ID>"),  # a declared prefix, longer
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<cbc:ID>1</cbc:ID:>"),  # a second colon, end tag
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<cbc:/>"),  # an empty local name, empty element
    lambda s: s.replace(b"<cbc:ID>A&amp;B</cbc:ID>", b"<cbc:>1</cbc:>"),  # an empty local name
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID cbc:a:b='1'>"),  # an attribute with two colons
    lambda s: s.replace(b"<cbc:ID>", b"<cbc:ID cbc:='1'>"),  # an attribute without a local name
    lambda s: s.replace(b" xmlns:cbc=", b" xmlns:a='urn:x' xmlns:c='urn:x' xmlns:cbc=").replace(
        b"<cbc:ID>", b"<cbc:ID a:b='1' c:b='2'>"
    ),  # one attribute twice, through two prefixes of one namespace
    lambda s: s.replace(b"encoding='UTF-8'", b"encoding='US-ASCII'").replace(
        b"A&amp;B", "\u00e9".encode()
    ),  # bytes the declared encoding forbids
    lambda s: s.replace(b"encoding='UTF-8'", b"encoding='US-ASCII'"),  # allowed: ASCII only
    lambda s: s.replace(b"A&amp;B", b"<![CDATA[<q:x>]]>"),  # looks like a prefix, is text
    # Namespace declarations below the business document's root, which the tree-less pass resolves too.
    lambda s: s.replace(b"<cbc:Note", b"<Extra xmlns='a b'/><cbc:Note"),  # not a URI (refused)
    lambda s: s.replace(b"<cbc:Note", b"<x:Extra xmlns:x='%zz'/><cbc:Note"),  # not a URI, prefixed
    lambda s: s.replace(b"<cbc:Note", b"<Extra xmlns:cbc='urn:other'><cbc:x/></Extra><cbc:Note"),  # rebound
    lambda s: s.replace(b"<cbc:Note", b"<Extra xmlns:x='urn:x' x:a='1' x:a='2'/><cbc:Note"),  # twice
    lambda s: s.replace(b"<cbc:Note", b"<Extra xml:space='bogus'/><cbc:Note"),  # a warning only (accepted)
    # libxml2 limits the depth only while it builds a tree, the SBD root a level above (MAX: no huge_tree).
    lambda s: s.replace(b"<cbc:Note", b"<d>" * 254 + b"</d>" * 254 + b"<cbc:Note"),  # the deepest accepted
    lambda s: s.replace(b"<cbc:Note", b"<d>" * 255 + b"</d>" * 255 + b"<cbc:Note"),  # one level too deep
    lambda s: s.replace(b"<cbc:Note", b"<d>" * 50_000 + b"</d>" * 50_000 + b"<cbc:Note"),
    lambda s: s.replace(b"<cbc:Note", b"<" + b"n" * 50_001 + b"/><cbc:Note"),  # too long without huge_tree
    # A first child that is not the SBDH: its end tag still starts as the header's does (the byte scan's
    # anchor), or it has the header's name in another namespace, its children in the SBDH's.
    lambda s: s.replace(b"StandardBusinessDocumentHeader>", b"StandardBusinessDocumentHeaderX>"),
    lambda s: _header_children_redeclared(
        s.replace(b"<StandardBusinessDocumentHeader>", b"<StandardBusinessDocumentHeader xmlns='urn:other'>")
    ),
]


def _header_children_redeclared(sbd: bytes) -> bytes:
    for child in (b"HeaderVersion", b"Sender", b"Receiver", b"DocumentIdentification", b"BusinessScope"):
        sbd = sbd.replace(b"<" + child + b">", b"<" + child + b" xmlns='" + SBDH_NS.encode() + b"'>", 1)
    return sbd


def _verdict(read: Callable[..., SBDHData], sbd: bytes) -> object:
    try:
        return read(sbd, max_bytes=MAX)
    except (XMLInputError, MappingError) as exc:
        return type(exc)


@pytest.mark.parametrize("mutant", range(len(MUTANTS)))
def test_same_verdict_as_the_tree_parse(mutant: int) -> None:
    sbd = MUTANTS[mutant](wrap(BODY))
    assert _verdict(read_sbd, sbd) == _verdict(parse_sbd, sbd)


def test_the_valid_mutants_stay_valid() -> None:
    # The differential above would pass if both refused everything.
    assert isinstance(_verdict(read_sbd, MUTANTS[0](wrap(BODY))), SBDHData)
    assert isinstance(_verdict(read_sbd, MUTANTS[9](wrap(BODY))), SBDHData)
    assert _verdict(read_sbd, MUTANTS[8](wrap(BODY))) is XMLInputError


def test_the_business_document_is_kept_as_sent_and_not_parsed_as_a_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trees: list[bytes] = []
    real = sbd_read.parse_xml

    def counting(data: bytes, **kwargs: object) -> etree._Element:
        trees.append(data)
        return real(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sbd_read, "parse_xml", counting)
    monkeypatch.setattr(sbdh, "parse_xml", counting)
    big = BODY.replace(b"</Invoice>", b"<cbc:Note>x</cbc:Note>" * 2000 + b"</Invoice>")
    assert read_sbd(wrap(big), max_bytes=MAX).business_document == big
    # Small trees only (the header, the business document's start tag): none holds the document's content.
    assert trees
    assert not [t for t in trees if b"<cbc:ID>" in t]
    trees.clear()
    parse_sbd(wrap(big), max_bytes=MAX)  # the counter sees a tree parse of the document
    assert [t for t in trees if b"<cbc:ID>" in t]


def test_size_limit() -> None:
    sbd = wrap(BODY)
    with pytest.raises(XMLInputError):
        read_sbd(sbd, max_bytes=len(sbd) - 1)


def test_a_default_namespace_declared_below_the_root_is_read_without_a_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Legal XML (the tree parse accepts it too): no doubt, so no tree of the document.
    body = BODY.replace(b"<cbc:Note", b"<Extra xmlns='urn:x'><y/></Extra><cbc:Note")
    monkeypatch.setattr(sbd_read, "parse_sbd", None)  # a fallback would fail
    assert read_sbd(wrap(body), max_bytes=MAX).business_document == body


@pytest.mark.parametrize(
    "extra",
    [
        b"<Extra xmlns:cbc='urn:other'><cbc:x/></Extra>",  # a prefix rebound below the root
        b"<x:Extra xmlns:x='urn:x'><x:y x:a='1'/></x:Extra>",  # a prefix declared below the root
    ],
)
def test_prefixes_declared_below_the_root_are_read_without_a_tree(
    monkeypatch: pytest.MonkeyPatch, extra: bytes
) -> None:
    body = BODY.replace(b"<cbc:Note", extra + b"<cbc:Note")
    monkeypatch.setattr(sbd_read, "parse_sbd", None)  # a fallback would fail
    assert read_sbd(wrap(body), max_bytes=MAX).business_document == body


def test_the_deepest_document_the_tree_takes_is_read_without_a_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    body = BODY.replace(b"<cbc:Note", b"<d>" * 254 + b"</d>" * 254 + b"<cbc:Note")
    monkeypatch.setattr(sbd_read, "parse_sbd", None)  # a fallback would fail
    assert read_sbd(wrap(body), max_bytes=MAX).business_document == body


def test_what_libxml2_logs_is_judged_as_the_tree_does_without_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast path doubts both; sbd_stream refuses the namespace error in the tree's words (a parse without
    # a tree finds them) and accepts the mere warning, which its pull parser does not log, as the tree does.
    judged: list[bytes] = []

    def tree(data: bytes, **kwargs: int) -> SBDHData:
        judged.append(data)
        return parse_sbd(data, **kwargs)

    monkeypatch.setattr(sbd_read, "parse_sbd", tree)
    refused = wrap(BODY.replace(b"<cbc:Note", b"<Extra xmlns='a b'/><cbc:Note"))
    with pytest.raises(XMLInputError, match="not a valid URI"):
        read_sbd(refused, max_bytes=MAX)
    warned = wrap(BODY.replace(b"<cbc:Note", b"<Extra xml:space='bogus'/><cbc:Note"))
    assert read_sbd(warned, max_bytes=MAX).business_document in warned
    assert judged == []
