"""XML read without building a tree: a well-formedness pass, the root element's name, and the root
element's own bytes. For large documents that are passed on, not examined (the SBD around a business
document): a tree of a 20 MB document costs more than the document, these cost nothing beyond it.

The same refusals as :func:`gateway.xmlcore.parse_xml` (no DTD, no entity other than the predefined
ones, no network, bounded size), except two: :func:`check_well_formed` builds no tree, and lxml raises
only libxml2's fatal errors for a parse without a tree, not the XML namespace rules' (an undeclared
prefix passes), and libxml2 limits the depth only while it builds a tree (a 100,000 deep document
passes). :func:`check_element` closes both gaps for the receiver (``gateway.ubl.sbd_read``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from lxml import etree

from gateway.errors import XMLInputError
from gateway.xmlcore.parse import HUGE_TREE_ABOVE_BYTES, parser_options, sealed
from gateway.xmlcore.start_tags import check_start_tags

#: Bytes fed to the pull parser at a time while looking for the root element.
_HEAD_CHUNK: Final = 16 * 1024
_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOM: Final = b"\xef\xbb\xbf"
_BLANKS: Final = b" \t\r\n"


class _NoTree:
    """A parser target that builds nothing: lxml calls only the methods a target has, so parsing runs in
    libxml2 alone. It only notes a DOCTYPE, which the caller refuses."""

    def __init__(self) -> None:
        self.doctype_seen = False

    def doctype(self, *_: object) -> None:
        self.doctype_seen = True

    def close(self) -> bool:
        return self.doctype_seen


#: The local name of UBL's embedded attachment (BT-125): it occurs in the bytes of every document that
#: has one (an element name cannot be written with character references).
_EMBEDDED_BINARY: Final = b"EmbeddedDocumentBinaryObject"


def may_embed_binary(data: bytes) -> bool:
    """Whether the document may carry an embedded attachment (its element's name occurs; a false alarm
    only costs the tree path). A pull parse builds an element's text in full before it can drop it, so
    for such a document it would hold the attachment once more and then leave the work to a tree."""
    return _EMBEDDED_BINARY in data


def _no_tree_parser(*, huge_tree: bool) -> etree.XMLParser:
    """A sealed parser that builds nothing (``_NoTree``): no DTD loaded, no entity resolved, no network."""
    return sealed(
        etree.XMLParser(
            target=_NoTree(),  # type: ignore[arg-type]  # lxml-stubs want the full ParserTarget protocol
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=huge_tree,
        )
    )


def check_well_formed(data: bytes, *, max_bytes: int, what: str) -> None:
    """Parse ``data`` once without keeping anything: XML 1.0 well-formedness, no DTD, no undefined entity
    (namespace prefixes and depth are not checked, see the module).

    No byte scan and no encoding check (``gateway.xmlcore.encoding``) here: the one caller,
    ``gateway.ubl.sbdh.build_sbd``, reads the root's name with :func:`root_name` first, whose
    ``check_start_tags`` refuses an encoding the scans cannot read, and the pass builds no tree.

    Raises:
        XMLInputError: too large, empty, not well-formed, a DTD, or an undefined entity.
    """
    if len(data) > max_bytes:
        raise XMLInputError(f"{what} is {len(data)} bytes, above the limit of {max_bytes}")
    parser = _no_tree_parser(huge_tree=True)
    try:
        parser.feed(data)
        doctype_seen = parser.close()
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"{what} is not well-formed XML: {exc}") from exc
    if doctype_seen:
        raise XMLInputError(f"{what} carries a DTD, which is not allowed")


#: An element's start tag at the start of its bytes: the name (group 1), "/" for an empty-element tag.
_ELEMENT_START = re.compile(
    rb"""<([^\s<>/!?="'&\x00-\x1f]+)(?:\s+[^\s<>/="']+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>"""
)
#: An end tag at the end of the bytes: the name (group 1).
_END_TAG = re.compile(rb"</([^\s<>/]+)[ \t\r\n]*>")
#: What is put around an element's content, once per level of ``depth``: an element of no namespace
#: concern (no prefix, no attribute), so it changes nothing but the depth libxml2 counts.
_LEVEL_OPEN: Final = b"<x>"
_LEVEL_CLOSE: Final = b"</x>"


def check_element(data: bytes, *, depth: int, max_bytes: int, what: str) -> None:
    """Check the bytes of one element (its start tag first, its end tag last, nothing around them) that
    sits at ``depth`` in a document (1: the root; 2: a child of the root) without building a tree, and
    accept only what a tree parse of that document (:func:`gateway.xmlcore.parse_xml` with the same
    ``max_bytes``) accepts there: refused whenever libxml2 logs anything (the XML namespace rules, which
    it applies without a tree but only logs, a mere warning too) and beyond the tree's depth.

    The bytes carry no declaration, so libxml2 reads them as UTF-8: the caller (``gateway.ubl.sbd_read``)
    gives the element of a document declared UTF-8 or US-ASCII (``root_element_span``; its bytes ASCII) whose
    byte scans and encoding check it ran first.

    libxml2 limits the depth only while it builds a tree (256 levels, 2048 with ``huge_tree``; 2.12: 257,
    none with ``huge_tree``), and the parse of a whole buffer (not the push parser) one level later without
    one. So the content is parsed inside ``depth`` more levels: a document the tree would find one level
    too deep is refused here too, and one at 2.12's extra level goes to the tree (slower, never wrong).

    Raises:
        XMLInputError: too large, not one element, not well-formed, an entity, beyond the tree's limits,
            or a message logged by the parse (a refusal here is a doubt: let the tree parse word it).
    """
    if len(data) > max_bytes:
        raise XMLInputError(f"{what} is {len(data)} bytes, above the limit of {max_bytes}")
    start = _ELEMENT_START.match(data)
    if start is None:
        raise XMLInputError(f"{what} does not start with an element's start tag")
    view = memoryview(data)
    if start.group(2):  # an empty-element tag: one level deep
        if start.end() != len(data):
            raise XMLInputError(f"{what} has more than one element")
        parts: tuple[bytes | memoryview, ...] = (data,)
    else:
        close = data.rfind(b"</", start.end())
        end = _END_TAG.fullmatch(data, close) if close >= 0 else None
        if end is None or end.group(1) != start.group(1):
            raise XMLInputError(f"{what} does not end with its start tag's end tag")
        inside = (_LEVEL_OPEN * depth, view[start.end() : close], _LEVEL_CLOSE * depth)
        parts = (view[: start.end()], *inside, view[close:])
    parser = _no_tree_parser(huge_tree=max_bytes > HUGE_TREE_ABOVE_BYTES)  # the tree's limits: as parse_xml
    try:
        etree.fromstring(b"".join(parts), parser)  # a whole buffer: libxml2 counts the depth
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"{what} is not well-formed XML: {exc}") from exc
    if logged := parser.error_log:
        first = logged[0]
        raise XMLInputError(f"{what} is refused by the XML rules: {first.level_name} {first.message}")


def tree_refusal(data: bytes, *, max_bytes: int) -> str | None:
    """The message :func:`gateway.xmlcore.parse_xml`'s tree parse refuses ``data`` with (the text of its
    ``XMLSyntaxError``), found by a parse that builds no tree, for a document a parse that builds one (a
    pull parser of the same settings) refused below the tree's depth limit: lxml words a refusal by the
    first error libxml2 logs, fatal or not (a namespace error), and a parse without a tree logs the same
    errors, except the tree's depth limit. None if it logs no error.
    """
    parser = sealed(
        etree.XMLParser(
            target=_NoTree(),  # type: ignore[arg-type]  # lxml-stubs want the full ParserTarget protocol
            **parser_options(huge_tree=max_bytes > HUGE_TREE_ABOVE_BYTES),  # type: ignore[arg-type]
        )
    )
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return str(exc)
    first = first_error(parser.error_log)
    return logged_refusal(first) if first is not None else None


def first_error(log: etree._ListErrorLog) -> etree._LogEntry | None:
    """The first error (not a warning) in a parser's log: the one lxml words a refusal by."""
    return next((entry for entry in log if entry.level >= etree.ErrorLevels.ERROR), None)


def logged_refusal(entry: etree._LogEntry) -> str:
    """The text of the ``XMLSyntaxError`` lxml raises for a parse whose first error is ``entry``."""
    message = entry.message
    if entry.line > 0:
        message += (
            f", line {entry.line}, column {entry.column}" if entry.column > 0 else f", line {entry.line}"
        )
    return str(etree.XMLSyntaxError(message, entry.type, entry.line, entry.column, entry.filename))  # type: ignore[call-arg]


def root_name(data: bytes, *, what: str) -> etree.QName:
    """The root element's name, read from the bytes up to its start tag only.

    The whole of ``data`` is scanned for an element with too many attributes (``start_tags``): the root's
    start tag is built whole before it is reported, and the callers go on to parse the rest.

    Raises:
        XMLInputError: no root element, a syntax error or a DTD before it.
        XMLLimitExceeded: an element with too many attributes, before the parse.
    """
    check_start_tags(data, what=what)
    parser = sealed(
        etree.XMLPullParser(
            events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )
    )
    view = memoryview(data)
    try:
        for offset in range(0, len(view), _HEAD_CHUNK):
            parser.feed(bytes(view[offset : offset + _HEAD_CHUNK]))
            for _, node in parser.read_events():
                element: etree._Element = node  # type: ignore[assignment]  # "start" carries elements
                docinfo = element.getroottree().docinfo
                if docinfo.doctype:  # type: ignore[attr-defined]  # lxml-stubs lack DocInfo.doctype
                    raise XMLInputError(f"{what} carries a DTD, which is not allowed")
                return etree.QName(element)
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"{what} is not well-formed XML: {exc}") from exc
    raise XMLInputError(f"{what} has no root element")


def top_level_element(data: bytes, tag: str, *, what: str) -> etree._Element | None:
    """The first child of the root element named ``tag``, parsed only as far as its end tag.

    For stored documents only (``number_of_bytes``, ``buyer_country``), so no byte scan or encoding check
    runs here: each passed ``check_start_tags`` when it came in (``parse_xml`` at submission, ``read_sbd``
    on receipt, which stores the business document in UTF-8).

    The other children of the root are cleared as soon as they end (an embedded attachment before the
    wanted element is not kept), so the memory used is that of the wanted element and one chunk.

    Raises:
        XMLInputError: a syntax error or a DTD in the part read.
    """
    parser = sealed(
        etree.XMLPullParser(
            events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )
    )
    view = memoryview(data)
    depth = 0
    try:
        for offset in range(0, len(view), _HEAD_CHUNK):
            parser.feed(bytes(view[offset : offset + _HEAD_CHUNK]))
            for event, node in parser.read_events():
                element: etree._Element = node  # type: ignore[assignment]  # start/end carry elements
                if event == "start":
                    depth += 1
                    docinfo = element.getroottree().docinfo
                    if depth == 1 and docinfo.doctype:  # type: ignore[attr-defined]  # missing in the stubs
                        raise XMLInputError(f"{what} carries a DTD, which is not allowed")
                    continue
                depth -= 1
                if depth == 1:
                    if element.tag == tag:
                        return element
                    element.clear()
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"{what} is not well-formed XML: {exc}") from exc
    return None


def root_element_span(data: bytes) -> tuple[int, int] | None:
    """Where the root element is (start, end; trailing blanks dropped) in a UTF-8 document whose prolog is
    at most a BOM, an XML declaration and blanks; None for any other prolog (comments, processing
    instructions, a DTD, another encoding). What follows the root element (comments) is inside the span."""
    pos = len(_BOM) if data.startswith(_BOM) else 0
    declaration = _DECLARATION.match(data, pos)
    if declaration is not None:
        if declared_encoding(data) not in (None, "utf-8", "utf8", "us-ascii"):
            return None
        pos = declaration.end()
    while pos < len(data) and data[pos] in _BLANKS:
        pos += 1
    if not data.startswith(b"<", pos) or data.startswith((b"<!", b"<?"), pos):
        return None
    end = len(data)
    while end > pos and data[end - 1] in _BLANKS:
        end -= 1
    return pos, end


def declared_encoding(data: bytes) -> str | None:
    """The encoding named by the XML declaration at the start of ``data`` (after a UTF-8 BOM), lower-cased;
    None without a declaration or without an encoding in it."""
    declaration = _DECLARATION.match(data, len(_BOM) if data.startswith(_BOM) else 0)
    encoding = _ENCODING.search(declaration.group(0)) if declaration is not None else None
    return encoding.group(1).decode("ascii").lower() if encoding is not None else None


def root_element_bytes(data: bytes) -> memoryview | None:
    """The bytes of :func:`root_element_span` (a view, not a copy), or None."""
    span = root_element_span(data)
    return memoryview(data)[span[0] : span[1]] if span is not None else None


def root_skeleton(
    data: bytes, *, keep: Callable[[etree._Element], bool], what: str, max_bytes: int
) -> etree._Element:
    """The root element with only the children ``keep`` accepts, read by a pull parse: every other child
    of the root is cleared and dropped as soon as it ends, so a large document costs the kept children
    and one chunk, not a tree of the whole. ``keep`` sees each child complete (it may read it, e.g. one
    invoice line at a time, and return False). Namespace rules apply as in a tree parse.

    Raises:
        XMLInputError: too large, empty, not well-formed, a DTD, an entity reference, or no root element.
            The messages are the pull parser's: a caller that must report exactly what
            :func:`gateway.xmlcore.parse_xml` reports parses again with it on this error.
        XMLLimitExceeded: an element with too many attributes, a namespace URI or name too long
            (``start_tags``), before the parse.
    """
    if len(data) > max_bytes:
        raise XMLInputError(f"{what} is {len(data)} bytes, above the limit of {max_bytes}")
    check_start_tags(data, what=what)
    parser = sealed(
        etree.XMLPullParser(
            events=("end",),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=max_bytes > HUGE_TREE_ABOVE_BYTES,  # as parse_xml
        )
    )
    view = memoryview(data)
    root: etree._Element | None = None
    try:
        for offset in range(0, len(view), _HEAD_CHUNK):
            parser.feed(bytes(view[offset : offset + _HEAD_CHUNK]))
            for _, node in parser.read_events():
                element: etree._Element = node  # type: ignore[assignment]  # end events carry elements
                if root is None:
                    root = element.getroottree().getroot()
                if element.getparent() is root and not keep(element):
                    element.clear()
                    root.remove(element)
        last = parser.close()
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"{what} is not well-formed XML: {exc}") from exc
    root = last if root is None else root  # a root without children: no event before its own end
    if root.getroottree().docinfo.doctype:  # type: ignore[attr-defined]  # missing in the stubs
        raise XMLInputError(f"{what} carries a DTD, which is not allowed")
    for entity in root.iter(etree.Entity):  # left by resolve_entities=False
        raise XMLInputError(f"{what} references an entity ({entity}), which is not allowed")
    return root
