"""Large documents checked against the XSD while they are pull-parsed, without an lxml tree of the whole.

The tree path (``ValidationEngine``: parse, XSD on the tree, text for Saxon) holds lxml's tree of the
whole document, ≈ 7.5 times its size for an invoice of many lines (30 MiB for 5,000 lines, 4.1 MB), and
glibc keeps those pages after the tree is dropped. For a document from ``DEFAULT_STREAM_ABOVE_BYTES``
up, the engine first tries this path: lxml's parser validates against the same compiled schema while it
parses (libxml2's streaming XSD validation), each child of the root is cleared as soon as it ends, and the
received bytes themselves are what Saxon reads (BENCHMARKS.md, *Memory, sixth pass*), from a temporary file
(``StreamedDocument.saxon_file``, *Memory, fourteenth pass*).

This path only ever answers "valid, here is Saxon's text". Anything else falls back to the tree path,
which then reports exactly what it always reported (the XSD messages and lines, a well-formedness
error, a DTD, an unknown root): an invalid document, a parse error, a DTD, an entity, an encoding other
than UTF-8 (as read or as declared) or XML other than 1.0 (Saxon reads the tree's serialisation then),
an ``Id`` attribute (libxml2 checks that xs:ID values are unique on a tree only), or a document that may
embed an attachment (``binary_stub``: the tree path replaces a large one's content, this path cannot, and
a pull parse would hold its text once before the tree path holds it again).
tests/unit/validation/test_streamed.py compares the two paths on valid and invalid documents.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from lxml import etree

from gateway.errors import XMLInputError
from gateway.validation.blank_text import blank_free_chunks, blank_text_removable, without_blank_text
from gateway.validation.saxon_text import received_text
from gateway.validation.xsd import XSDLayer
from gateway.xmlcore import declared_encoding, may_embed_binary, root_name
from gateway.xmlcore.held import HeldDocument
from gateway.xmlcore.parse import HUGE_TREE_ABOVE_BYTES, sealed

#: Documents from this size up try the streamed path (1 MiB: a few hundred invoice lines; below it
#: the tree is small, and parsing into a tree then validating it costs less CPU than this path).
DEFAULT_STREAM_ABOVE_BYTES: Final = 1024 * 1024
#: Bytes fed to the parser at a time.
_CHUNK: Final = 64 * 1024
_CAC: Final = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_LINES: Final = (f"{{{_CAC}}}InvoiceLine", f"{{{_CAC}}}CreditNoteLine")
#: An attribute named ``Id``: every xs:ID of the UBL schemas (xmldsig, XAdES in lax extension content).
#: libxml2 checks that xs:ID values are unique only when it validates a tree, so such a document takes
#: the tree path (a false alarm, e.g. "Id=" in a text, only costs the tree path).
_MAY_HOLD_ID: Final = re.compile(rb"Id\s*=")
#: A temporary file's path Saxon reads as it is (a blank or a ``%`` would be read as a URI's).
_PLAIN_PATH: Final = re.compile(r"/[A-Za-z0-9/._-]+")


@dataclass(frozen=True, slots=True)
class StreamedDocument:
    """A document found valid by the pull parse: its bytes (held by ``document``, which validation may
    spill to a temporary file while Saxon works: ``HeldDocument``) and their declaration."""

    document: HeldDocument
    docinfo: etree.DocInfo

    @property
    def xml(self) -> bytes:
        """The document's bytes (read back if they were spilled)."""
        return self.document.data()

    def saxon_text(self, *, strip_blank: bool = False) -> str:
        """The received bytes decoded (checked UTF-8 XML 1.0): decoded only when Saxon is about to parse,
        so that the text is not held while Saxon's heap is collected before the parse. ``strip_blank``:
        without the whitespace between elements (``blank_text``: the document is XSD-valid)."""
        text = received_text(without_blank_text(self.xml) if strip_blank else self.xml, self.docinfo)
        assert text is not None  # checked by the pull parse
        return text

    @contextlib.contextmanager
    def saxon_file(self, *, strip_blank: bool = False) -> Iterator[str | None]:
        """A temporary file of the bytes Saxon is to read (``strip_blank``: without the whitespace between
        elements, written a chunk at a time), removed on exit; None when it cannot be made (no writable
        temporary directory, or a path Saxon could misread as a URI): the caller passes the text then.

        Where the system has ``/proc/self/fd`` (Linux), Saxon is given the file through this process's
        descriptor and the file's name is removed before anything is written: a process killed while it
        validates (the out-of-memory killer, at the validation's peak) leaves no copy of the document in
        the temporary directory, and no other process can put another file behind the name.

        Saxon reading the file takes the place of ``saxon_text``: the text path held the decoded ``str``
        and saxonche's UTF-8 copy of it while Saxon built its tree, ≈ 2 times the document at the peak
        of a process that validates it (BENCHMARKS.md, *Memory, fourteenth pass*)."""
        try:
            fd, name = tempfile.mkstemp(prefix="gateway-saxon-", suffix=".xml")
        except OSError:
            yield None
            return
        try:
            path = f"/proc/self/fd/{fd}"
            if os.path.exists(path):
                os.unlink(name)
            else:
                path = name
            written = _PLAIN_PATH.fullmatch(path) is not None and self._write(fd, strip_blank=strip_blank)
            yield path if written else None
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(name)

    def _write(self, fd: int, *, strip_blank: bool) -> bool:
        """Write the bytes Saxon is to read into ``fd`` (left open); False if writing failed."""
        try:
            xml = self.xml
            with os.fdopen(fd, "wb", closefd=False) as out:
                if strip_blank and blank_text_removable(xml):
                    for chunk in blank_free_chunks(xml):
                        out.write(chunk)
                else:
                    out.write(xml)
        except OSError:
            return False
        return True


def streamed_document(
    document: bytes | HeldDocument, xsd: XSDLayer, *, max_bytes: int
) -> StreamedDocument | None:
    """The document, if a pull parse finds it XSD-valid, UTF-8 XML 1.0 and with nothing that needs the
    tree; None: take the tree path (see the module).

    Args:
        document: the received document (a ``HeldDocument`` is kept by the answer, not copied).
        xsd: the rule set's XSD layer (its compiled schemas and their locks).
        max_bytes: the engine's size limit (a larger document takes the tree path, which refuses it).
    """
    held = document if isinstance(document, HeldDocument) else HeldDocument(document)
    xml = held.data()
    if len(xml) > max_bytes or may_embed_binary(xml):
        return None  # too large (the tree path refuses it), or an attachment the tree path may stub
    if _MAY_HOLD_ID.search(xml):
        return None  # an xs:ID, whose uniqueness only the tree path checks
    if xsd.may_be_lenient(xml):
        return None  # what the shared schema may let pass: the tree path asks the rule set's own schema
    try:
        name = root_name(xml, what="document")
    except XMLInputError:
        return None
    entry = xsd.schema(f"{name.namespace or ''} {name.localname}")
    if entry is None:
        return None
    schema, lock = entry
    with lock:  # as the tree path: one validation per schema at a time
        docinfo = _validated(xml, schema, huge_tree=max_bytes > HUGE_TREE_ABOVE_BYTES)
    return None if docinfo is None else StreamedDocument(held, docinfo)


def _validated(xml: bytes, schema: etree.XMLSchema, *, huge_tree: bool) -> etree.DocInfo | None:
    # Events only for the lines (cleared and dropped as they end: the rest of the document is the
    # header, small in any valid invoice without attachments): an event per element would cost the
    # Python loop ≈ 0.1 s for 5,000 lines.
    parser = sealed(
        etree.XMLPullParser(
            events=("end",),
            tag=_LINES,
            schema=schema,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=huge_tree,  # as parse_xml
            collect_ids=False,
        )
    )
    view = memoryview(xml)
    try:
        for offset in range(0, len(view), _CHUNK):
            parser.feed(bytes(view[offset : offset + _CHUNK]))
            for _, node in parser.read_events():
                element: etree._Element = node  # type: ignore[assignment]  # end events carry elements
                parent = element.getparent()
                if parent is not None:
                    element.clear()
                    parent.remove(element)
        root = parser.close()
    except etree.XMLSyntaxError:  # not well-formed, an undefined entity, or not valid against the schema
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or any(True for _ in root.iter(etree.Entity)):  # type: ignore[attr-defined]  # stubs
        return None  # the tree path refuses it
    if docinfo.xml_version != "1.0" or (docinfo.encoding or "").upper() not in ("UTF-8", "UTF8"):
        return None  # Saxon reads the tree's serialisation then (``saxon_text``)
    if declared_encoding(xml) not in (None, "utf-8", "utf8"):
        # ``docinfo.encoding`` is what libxml2 read: a UTF-8 BOM wins over a declaration naming another
        # encoding, but Saxon reading the bytes from a file honours the declaration (ISO-8859-1: "é" is
        # two characters there, and string-length rules such as SE-R-001 answer otherwise): tree path.
        return None
    return docinfo
