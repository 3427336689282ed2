"""The receiver's read of an SBD outside the plain layout (``sbd_read``'s fast path): the verdict and the
business document's bytes of :func:`gateway.ubl.sbdh.parse_sbd`, without a tree of the whole SBD.

``parse_sbd`` builds a tree of the whole SBD, about ten times its bytes (a 100 MB payload, the default
``max_payload_bytes``, 1 GB) and serialises the business document from it. Here a pull parser with the
hardened parser's settings reads the SBD a chunk at a time, and what it has built of the business document
is written out and dropped as it goes: the tree holds the open elements and what the last chunks added.

The bytes are those of ``etree.tostring(payload)``, made by the same serialiser a piece at a time. A marker
comment is put at the frontier (the last child of the deepest open element, or just before that element while
it is empty: its start tag waits for what follows, ``<a/>`` or ``<a>``): the business document serialised then
is final up to the marker (what follows it is the open elements' end tags), the part after the previous marker
is kept, and everything but the open elements and the new marker is removed from the tree. libxml2 serialises
each node on its own terms (its start tag, its text's escaping), so the pieces joined are ``tostring``'s
bytes; only the business document's root gets its ancestors' namespace declarations, and its start tag is
written once, before the first marker.

A refusal is the tree's too, in its words. The pull parser (a tree-building parse: the XML namespace rules
and the tree's depth limit apply) finds it; lxml words a push parser's errors otherwise, so the message is
that of a parse of the whole SBD without a tree (:func:`gateway.xmlcore.stream.tree_refusal`; the depth
limit's own message is the tree's already). A DTD is refused once the SBD is read through, as
``parse_xml`` refuses it after its parse. Left to ``parse_sbd`` (None): an error before the root element
(the tree stops there too, having built nothing; an internal DTD subset may be worded by what the tree
loads), anything libxml2 logs of an SBD it accepts, an empty SBD or one above ``max_bytes``.

One refusal comes earlier than the tree's: a header of more than ``MAX_HEADER_NODES`` nodes is refused as
soon as the node past the limit is read, and nothing after it is fed (a DTD or a root that is no SBD, known
by then, are refused first). The tree would find a syntax error or a second business document further on
first; the SBD is refused either way (the receiver's EBMS:0004), only the words differ.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any, Final

from lxml import etree

from gateway.errors import MappingError, XMLInputError
from gateway.ubl.sbdh import (
    _S,
    HEADER_NODES_REFUSAL,
    MAX_HEADER_NODES,
    SBDH_NS,
    SBDHData,
    _business_span,
    _read_header,
    header_node_cost,
)
from gateway.xmlcore.parse import HUGE_TREE_ABOVE_BYTES, parser_options, sealed
from gateway.xmlcore.start_tags import check_start_tags
from gateway.xmlcore.stream import first_error, logged_refusal, tree_refusal

#: Bytes fed to the pull parser at a time; the tree is pruned after each feed.
CHUNK: Final = 64 * 1024

_SBD = _S + "StandardBusinessDocument"
_HEADER = _S + "StandardBusinessDocumentHeader"
_SHAPE = "SBD must hold the header and exactly one business document"


class _Doubt(Exception):
    """Leave the SBD to the tree parse."""


class _Refused(Exception):
    """The pull parser refused the SBD (its words), before its root element's start tag or after it."""

    def __init__(self, message: str, *, in_prolog: bool) -> None:
        super().__init__(message)
        self.message = message
        self.in_prolog = in_prolog


@dataclasses.dataclass(slots=True)
class _Writer:
    """The business document's bytes as :func:`etree.tostring` writes them, a piece at a time."""

    payload: etree._Element
    write: bool
    marker: str = dataclasses.field(default_factory=lambda: secrets.token_hex(16))
    pieces: list[bytes] = dataclasses.field(default_factory=list)
    placed: bool = False
    #: The bytes the last serialisation wrote before the part kept: the open elements' start tags.
    overhead: int = 0

    def prune(self, opened: list[etree._Element]) -> None:
        """Write what is final of the open business document and drop it from the tree."""
        # A deepest element with nothing in it yet is written with what follows: its start tag written now
        # would end in ">", where ``tostring`` writes "<a/>" for one that stays empty. The marker goes
        # before it, in its parent (none: the business document's root is all there is, nothing to write).
        pending = not len(opened[-1]) and opened[-1].text is None
        mark: etree._Element | None = None
        if self.write and not (pending and len(opened) == 1):
            mark = etree.Comment(self.marker)
            if pending:
                opened[-1].addprevious(mark)
            else:
                opened[-1].append(mark)
            text = etree.tostring(self.payload, encoding="UTF-8", with_tail=False)
            tag = b"<!--" + self.marker.encode() + b"-->"
            start = text.index(tag) + len(tag) if self.placed else 0
            end = text.rindex(tag)
            self.pieces.append(text[start:end])
            self.overhead = start
            self.placed = True
            # The open elements' start tags are written: their attributes need not be written again at each
            # pruning (a large one, on the business document's root, made the pruning wait for as many
            # bytes, as a tree). Only their names and namespace declarations are, up to the marker.
            for element in opened[:-1] if pending else opened:
                element.attrib.clear()
        # Only finished nodes go: libxml2 holds the open elements, and appends text to the deepest one's
        # last text node by a length it keeps - after this its last child is the marker or none at all.
        for at, element in enumerate(opened):
            keep = opened[at + 1 : at + 2]
            if mark is not None and mark.getparent() is element:
                keep = [mark, *keep]
            if len(element) < len(keep) or any(element[i - len(keep)] is not k for i, k in enumerate(keep)):
                raise _Doubt  # pragma: no cover - checked by _prune
            del element[: len(element) - len(keep)]
            element.text = None

    def finish(self) -> bytes:
        """The business document's bytes once the SBD is read (its tail included, as ``tostring``)."""
        text = etree.tostring(self.payload, encoding="UTF-8")
        if self.placed:
            tag = b"<!--" + self.marker.encode() + b"-->"
            text = text[text.index(tag) + len(tag) :]
        self.pieces.append(text)
        business = b"".join(self.pieces)
        self.pieces.clear()
        return business


def stream_sbd(data: bytes, *, max_bytes: int) -> SBDHData | None:
    """:func:`gateway.ubl.sbdh.parse_sbd`'s answer without a tree of the whole SBD, or None to leave the
    SBD to it (see the module).

    Raises:
        XMLInputError: not well-formed, a DTD (as ``parse_sbd`` words it).
        MappingError: an SBDH rule of the Peppol envelope spec is violated (as ``parse_sbd`` words it).
        XMLLimitExceeded: an element with too many attributes, a namespace URI or name too long
            (``start_tags``), before the parse.
    """
    if len(data) > max_bytes or not data or data.isspace():
        return None  # parse_sbd's refusals
    check_start_tags(data, what="SBD")
    try:
        return _stream(data, max_bytes)
    except (MappingError, XMLInputError):  # ValueErrors too
        raise
    except _Refused as refused:
        if refused.in_prolog:
            # Before the root (a DTD's internal subset, which the tree may word by what it loads): the
            # tree stops there too, having built nothing.
            return None
        if "Excessive depth" in refused.message:
            message: str | None = refused.message  # the tree's limit, which this parser has too
        else:  # lxml's wording differs for a push parser: the tree's is that of a parse without a tree
            message = tree_refusal(data, max_bytes=max_bytes)
        if message is None:  # pragma: no cover - the pull parser refused what a tree-less parse does not log
            return None
        raise XMLInputError(f"SBD is not well-formed XML: {message}") from refused
    except (_Doubt, ValueError):  # ValueError: a name with an undeclared prefix
        return None


def _stream(data: bytes, max_bytes: int) -> SBDHData | None:
    parser = sealed(
        etree.XMLPullParser(
            events=("start", "end", "comment", "pi"),
            **parser_options(huge_tree=max_bytes > HUGE_TREE_ABOVE_BYTES),  # type: ignore[arg-type]
        )
    )
    view = memoryview(data)
    root: etree._Element | None = None
    header: etree._Element | None = None  # the header, kept whole (refused at once past MAX_HEADER_NODES)
    below_header: list[etree._Element] = []  # the open elements below the kept header
    in_header = False
    nodes = 0  # the header's nodes so far (``_read_header``'s MAX_HEADER_NODES)
    writer: _Writer | None = None
    opened: list[etree._Element] = []  # the open elements below the root, the root's child first
    refusal: str | None = None
    children = 0
    fed = 0  # bytes fed since the last pruning
    depth = 0
    dtd = unnamed = False
    try:
        for offset in range(0, len(view), CHUNK):
            parser.feed(bytes(view[offset : offset + CHUNK]))
            fed += CHUNK
            if parser.error_log and (error := first_error(parser.error_log)) is not None:
                # Refused: the parser goes on without a tree of what follows (elements without a parent),
                # so nothing it reports from here on is read.
                raise _Refused(logged_refusal(error), in_prolog=not _started(parser, root))
            for event, node in parser.read_events():
                element: etree._Element = node  # type: ignore[assignment]  # start/end events carry elements
                if event in ("comment", "pi"):
                    nodes += in_header  # a node of the header's tree
                elif event == "end":
                    depth -= 1
                    if opened and opened[-1] is element:
                        opened.pop()
                    elif below_header and below_header[-1] is element:
                        below_header.pop()
                    in_header = in_header and element is not header
                    continue
                elif (depth := depth + 1) == 1:
                    root = element
                    docinfo: Any = element.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
                    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
                        dtd = True  # refused once read through
                    if element.tag != _SBD:
                        refusal = "payload is not a StandardBusinessDocument"
                elif depth > 2:
                    if opened:  # below a child of the root other than the header (or a header not read)
                        opened.append(element)
                    elif in_header:
                        below_header.append(element)
                        nodes += header_node_cost(element)
                else:
                    children += 1
                    if children == 1 and element.tag == _HEADER:
                        # Kept whole (``_read_header`` reads it), complete at its end; its nodes counted.
                        header = element
                        in_header, nodes = True, header_node_cost(element)
                        continue
                    if children == 1 or children > 2:
                        refusal = refusal or _SHAPE
                    opened.append(element)
                    if children == 2 and refusal is None and not dtd:
                        assert root is not None  # a child's start comes after the root's
                        try:
                            write = _slice_of(data, root, element) is None
                            writer = _Writer(element, write=write)
                        except ValueError:  # an undeclared prefix: a namespace error the parser raises
                            unnamed = True
                if nodes > MAX_HEADER_NODES:
                    # ``_read_header``'s refusal, at once: what follows is neither fed nor scanned (a 21 MB
                    # header of ``<x/>`` read through took ≈ 5 s). What is known by now comes first: a DTD,
                    # a root that is no SBD (a syntax error in what was fed was raised above).
                    _refuse_early(dtd, refusal)
            # Each pruning walks the open elements and writes their start tags again (names and namespace
            # declarations: ``_Writer.prune`` drops the attributes it wrote): it waits for as many bytes as
            # that costs, so a deep document or many declarations cost their size, not its square.
            if root is not None and fed >= max(CHUNK, 8 * len(opened), writer.overhead if writer else 0):
                _prune(root, header, writer, opened)
                fed = 0
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise _Refused(str(exc), in_prolog=not _started(parser, root)) from exc
    if (error := first_error(parser.error_log)) is not None:
        raise _Refused(logged_refusal(error), in_prolog=False)
    if dtd:
        raise XMLInputError("SBD carries a DTD, which is not allowed")
    if unnamed:  # pragma: no cover - a namespace error, refused above
        raise _Doubt
    if root is None:
        raise _Doubt
    if refusal is not None:
        raise MappingError(refusal)
    if children != 2 or header is None or writer is None:
        raise MappingError(_SHAPE)
    result = _read_header(header, etree.QName(writer.payload))
    sliced = _slice_of(data, root, writer.payload)
    business = bytes(sliced) if sliced is not None else writer.finish()
    return dataclasses.replace(result, business_document=business)


def _refuse_early(dtd: bool, refusal: str | None) -> None:
    """Refuse an SBD whose header holds more than ``MAX_HEADER_NODES`` nodes, before the rest is read.

    Raises:
        XMLInputError: the SBD carries a DTD (found before its root).
        MappingError: its root is no SBD, or else ``HEADER_NODES_REFUSAL``.
    """
    if dtd:
        raise XMLInputError("SBD carries a DTD, which is not allowed")
    raise MappingError(refusal or HEADER_NODES_REFUSAL)


def _started(parser: etree.XMLPullParser, root: etree._Element | None) -> bool:
    """Whether the parse reached the root element (its start event read, or waiting to be)."""
    return root is not None or any(event == "start" for event, _ in parser.read_events())


def _slice_of(data: bytes, root: etree._Element, payload: etree._Element) -> memoryview | None:
    """``parse_sbd``'s ``_business_slice``: the business document's own bytes in the plain layout."""
    if root.nsmap != {None: SBDH_NS} or payload.prefix is not None:
        return None
    span = _business_span(data, etree.QName(payload).localname)
    return memoryview(data)[span[0] : span[1]] if span is not None else None


def _prune(
    root: etree._Element,
    header: etree._Element | None,
    writer: _Writer | None,
    opened: list[etree._Element],
) -> None:
    """Drop what is read and no longer needed: the root's other children (comments, PIs, elements that
    ended), and the open child's finished parts (written out first if it is the business document)."""
    parent = root
    for element in opened:
        if element.getparent() is not parent:
            # After some errors libxml2 goes on without a tree (elements without a parent), and lxml raises
            # later: the SBD is refused, worded by a parse without a tree.
            raise _Refused("", in_prolog=False)
        parent = element
    kept = (header, writer.payload if writer is not None else None, opened[0] if opened else None)
    # Not the root's last child: libxml2 may still be adding to the text after it (it appends to the
    # parent's last text node by a length it keeps, so that node must stay where it is).
    for child in [child for child in list(root)[:-1] if not any(child is k for k in kept)]:
        root.remove(child)
    if opened:
        if writer is not None and opened[0] is writer.payload:
            writer.prune(opened)
        else:
            for at, element in enumerate(opened):
                if at + 1 < len(opened):
                    del element[:-1]
                else:
                    del element[:]
                element.text = None
