"""The receiving side's read of a Peppol SBD: the SBDH checked as :func:`gateway.ubl.sbdh.parse_sbd` does,
without building a tree of the business document, which the receiver's validation parses (once, hardened).

The fast path covers the plain layout senders write (``sbdh._business_span``): the SBDH is read from a small
tree of the SBD up to the business document's start tag, and the business document's bytes are checked by a
parse that builds no tree (``check_element``), refused if libxml2 logs anything (the XML namespace rules,
which it applies while it parses but only logs when there is no tree, included) or if the SBD's tree would
find the document too deep. The SBD root declares nothing but the SBDH default namespace, so the business
document parsed alone resolves its prefixes as it does inside the SBD. Bytes its declared encoding
(US-ASCII) forbids are a doubt too. Any doubt, any other layout and any refusal go to
``sbd_stream.stream_sbd``, which gives the tree parse's answer, refusals worded alike, with a pull parser
whose tree is pruned as it reads (memory: a small multiple of the SBD's bytes, not ten times them), and
the little it leaves (an error before the root element, an empty SBD) to ``parse_sbd``, which parses the
whole SBD as a tree.
"""

from __future__ import annotations

import dataclasses
import re

from lxml import etree

from gateway.errors import MappingError, XMLInputError
from gateway.ubl.sbd_stream import stream_sbd
from gateway.ubl.sbdh import (
    _HEADER_END,
    _S,
    MAX_HEADER_NODES,
    SBDH_NS,
    SBDHData,
    _business_span,
    _read_header,
    parse_sbd,
)
from gateway.xmlcore import check_element, declared_encoding, parse_xml
from gateway.xmlcore.start_tags import check_start_tags

#: An unprefixed ASCII start tag with its attributes (values may hold ">").
_START_TAG = re.compile(rb"""<([A-Za-z_][A-Za-z0-9_.-]*)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")


def read_sbd(data: bytes, *, max_bytes: int) -> SBDHData:
    """Read and check a received Peppol SBD without building a tree of its business document.

    The same verdicts as :func:`parse_sbd` (see the module for how), but for a header of more than
    ``MAX_HEADER_NODES`` nodes, refused before the rest is read (``sbd_stream``).

    Raises:
        XMLInputError: not well-formed, DTD/entities, too large.
        MappingError: an SBDH rule of the Peppol envelope spec is violated.
        XMLLimitExceeded: an element with too many attributes, a namespace URI or name too long
            (``start_tags``), before any parse.
    """
    if len(data) > max_bytes:
        raise XMLInputError(f"SBD is {len(data)} bytes, above the limit of {max_bytes}")
    check_start_tags(data, what="SBD")
    try:
        business = _plain_business_document(data, max_bytes)
    except (XMLInputError, MappingError):
        business = None  # refused: the tree parse below words the refusal as it always has
    if business is None:
        business = stream_sbd(data, max_bytes=max_bytes)  # bounded memory, outside the plain layout
    if business is None:
        return parse_sbd(data, max_bytes=max_bytes)
    return business


def _plain_business_document(data: bytes, max_bytes: int) -> SBDHData | None:
    """:func:`read_sbd` without a tree of the business document, or None outside the plain layout."""
    head_end = data.find(_HEADER_END)
    if head_end < 0:
        return None
    if data.count(b"<", 0, head_end) + data.count(b"=", 0, head_end) > 2 * MAX_HEADER_NODES + 2:
        # More tags and attributes than a header of MAX_HEADER_NODES nodes has (each node opens with "<",
        # an element's end tag with another, an attribute has its "="): its tree is not built here (~30
        # times its bytes), the stream judges it.
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
    if elements[0].tag != _S + "StandardBusinessDocumentHeader":  # the scan's anchor is only a prefix
        return None
    payload = elements[1]
    header = _read_header(elements[0], etree.QName(payload))
    business = data[span[0] : span[1]]  # the copy the document is kept as
    if declared_encoding(data) == "us-ascii" and not business.isascii():
        return None  # let a tree judge (slower, never a wrong verdict)
    # Anything libxml2 logs, a namespace error or a warning, or a depth the SBD's tree would refuse (the
    # document is the SBD root's child: depth 2) is refused here and judged by the tree.
    check_element(business, depth=2, max_bytes=max_bytes, what="business document")
    return dataclasses.replace(header, business_document=business)
