"""The receiving side's read of a Peppol SBD: the SBDH checked as :func:`gateway.ubl.sbdh.parse_sbd` does,
without building a tree of the business document, which the receiver's validation parses (once, hardened).

The fast path covers the plain layout senders write (``sbdh._business_span``): the SBDH is read from a small
tree of the SBD up to the business document's start tag, and the business document's bytes are checked by a
well-formedness pass that builds no tree. That pass does not apply the XML namespace rules, so before it a
byte scan makes sure the business document has nothing those rules could refuse: every namespace it uses
is declared on its root element (checked by the small tree's namespace-aware parse), no prefix declared below,
no two prefixes for one namespace, element and attribute names with at most one colon between non-empty
parts and a declared prefix, and no bytes its declared encoding forbids. The scan is sound, not exact:
text or a comment that looks like a name counts as a doubt too. Any doubt, any other layout and any refusal
go to ``parse_sbd``, which parses the whole SBD as a tree, so a refusal is worded as it always was.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from lxml import etree

from gateway.errors import MappingError, XMLInputError
from gateway.ubl.sbdh import (
    _BLANKS,
    _HEADER_END,
    _S,
    SBDH_NS,
    SBDHData,
    _business_span,
    _read_header,
    parse_sbd,
)
from gateway.xmlcore import check_well_formed, declared_encoding, parse_xml

#: An unprefixed ASCII start tag with its attributes (values may hold ">").
_START_TAG = re.compile(rb"""<([A-Za-z_][A-Za-z0-9_.-]*)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
#: The end of a prefixed attribute name (":name=", its prefix is read backwards).
_PREFIXED_ATTRIBUTE = re.compile(rb""":[^\s<>=/"':]*+\s*+=\s*+["']""")
#: One character of a name between colons (no delimiter, no colon).
_NAME_CHAR = rb"""[^\s<>/!?="':]"""
#: An attribute with an empty local part (``p:="..."``).
_EMPTY_LOCAL_ATTRIBUTE = re.compile(rb""":\s*+=\s*+["']""")
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def read_sbd(data: bytes, *, max_bytes: int) -> SBDHData:
    """Read and check a received Peppol SBD without building a tree of its business document.

    The same verdicts as :func:`parse_sbd` (see the module for how).

    Raises:
        XMLInputError: not well-formed, DTD/entities, too large.
        MappingError: an SBDH rule of the Peppol envelope spec is violated.
    """
    if len(data) > max_bytes:
        raise XMLInputError(f"SBD is {len(data)} bytes, above the limit of {max_bytes}")
    try:
        business = _plain_business_document(data, max_bytes)
    except (XMLInputError, MappingError):
        business = None  # refused: the tree parse below words the refusal as it always has
    if business is None:
        return parse_sbd(data, max_bytes=max_bytes)
    return business


def _plain_business_document(data: bytes, max_bytes: int) -> SBDHData | None:
    """:func:`read_sbd` without a tree of the business document, or None outside the plain layout."""
    head_end = data.find(_HEADER_END)
    if head_end < 0:
        return None
    tag = _START_TAG.match(data, data.find(b"<", head_end + len(_HEADER_END)))
    span = _business_span(data, tag.group(1).decode("ascii")) if tag is not None else None
    if tag is None or span is None or tag.start() != span[0]:
        return None
    # The SBD up to the business document with the document's start tag as an empty element, closed: a
    # small tree of the root, the header and the document's name and namespace declarations.
    start = tag.group(0)
    empty = start if start.endswith(b"/>") else start[:-1] + b"/>"
    head = b"".join((data[: span[0]], empty, b"</StandardBusinessDocument>"))
    root = parse_xml(head, max_bytes=max_bytes, what="SBD")
    elements = [c for c in root if isinstance(c.tag, str)]
    if root.tag != _S + "StandardBusinessDocument" or root.nsmap != {None: SBDH_NS} or len(elements) != 2:
        return None
    payload = elements[1]
    header = _read_header(elements[0], etree.QName(payload))
    business = data[span[0] : span[1]]  # the copy the document is kept as
    if _namespace_doubt(business, len(start), payload.nsmap) or (
        declared_encoding(data) == "us-ascii" and not business.isascii()
    ):
        return None  # let a tree judge (slower, never a wrong verdict)
    check_well_formed(business, max_bytes=max_bytes, what="business document")
    return dataclasses.replace(header, business_document=business)


def _namespace_doubt(business: bytes, start_tag_end: int, nsmap: dict[str | None, str]) -> bool:
    """Whether the namespace rules might refuse ``business``, whose root start tag ends at
    ``start_tag_end`` and declares ``nsmap`` (checked already by a namespace-aware parse)."""
    prefixes = {p: uri for p, uri in nsmap.items() if p is not None}
    if len(set(prefixes.values())) != len(prefixes):
        return True  # two prefixes for one namespace: one attribute could be written twice
    element_prefixes = frozenset(p.encode() for p in prefixes)
    # The root's own start tag was parsed with the namespace rules: scan what follows it.
    below = start_tag_end
    if _EMPTY_LOCAL_ATTRIBUTE.search(business, below):
        return True
    if _element_names(element_prefixes).search(business, below):
        return True
    # xml: only (xml:lang); a prefixed declaration below the root (xmlns:p=) is a doubt: only the root's
    # were checked. An unprefixed one (xmlns=) is an ordinary attribute to the pass, and allowed.
    attribute_prefixes = element_prefixes | {b"xml"}
    for found in _PREFIXED_ATTRIBUTE.finditer(business, below):
        begin = end = found.start()
        while begin > below and business[begin - 1] in _NAME_BYTES:
            begin -= 1
        # An attribute name follows a blank: anything else (a non-ASCII prefix, text) counts as a doubt.
        prefix = business[begin:end]
        if begin == end or business[begin - 1] not in _BLANKS or prefix not in attribute_prefixes:
            return True
    return False


@functools.lru_cache(maxsize=64)
def _element_names(element_prefixes: frozenset[bytes]) -> re.Pattern[bytes]:
    """A pattern found at an element name the namespace rules might refuse, given the prefixes the root
    declares: a prefix it does not declare (``xml`` and ``xmlns`` included; the empty one), or a declared
    prefix followed by an empty local part or a second colon. Names without a colon are not found.

    One scan instead of two (names with two colons or an empty part, then undeclared prefixes), and no
    match at the hundreds of names a document does declare.
    """
    declared = b"|".join(re.escape(p) for p in sorted(element_prefixes, key=len, reverse=True))
    undeclared = (rb"(?!(?:" + declared + rb"):)" if declared else b"") + _NAME_CHAR + rb"*+:"
    if not declared:
        return re.compile(rb"</?+" + undeclared)
    bad_local = rb"(?:" + declared + rb"):(?:" + _NAME_CHAR + rb"""*+:|(?=[\s<>/!?="']|\Z))"""
    return re.compile(rb"</?+(?:" + undeclared + rb"|" + bad_local + rb")")
