"""Whitespace between the elements of an XSD-valid UBL document, removed before Saxon builds its tree.

An indented invoice has a whitespace-only text node before almost every element: for 5,000 lines (4.1 MB)
about 110,000 of them, a third of Saxon's tree (6.6 MiB live, 4.4 without them) and, with the young
collections that copy the tree while it is built and the transform that walks it, ≈ 6 MiB of the peak
of a process validating it (BENCHMARKS.md, *Memory, thirteenth pass*).

Only for a document the streamed path found valid against the UBL schema (``streamed``): there, every
element with element children has element-only content (no UBL type outside the xmldsig / XAdES
extension schemas is mixed), so the text between its children is whitespace, and the ``cbc:`` values
are untouched. Removed: whitespace followed by a start tag (after a start tag it is a parent's, after an
end or empty-element tag it is between siblings), and whitespace between an end or empty-element tag
and an end tag (after a parent's last child). Kept: whitespace between an element's own start and end
tags (``<cbc:Note> </cbc:Note>``). The text is left as it is when anything in it could make a ``>``
or a ``<`` mean something else: a comment, CDATA, a processing instruction other than the XML
declaration, a DOCTYPE, a ``>`` that ends no tag (as many ``>`` as ``<`` means every ``>`` ends one:
``<`` only ever starts a tag there); and when it has ``UBLExtensions`` (extension content may be mixed).

Why the findings cannot change: BENCHMARKS.md, *Memory, thirteenth pass* (every expression of the official
CEN and Peppol stylesheets reads text nodes and string values of ``cbc:`` leaves only, locations count
elements only), and tests/conformance/test_fused_differential.py (its ``blank_text`` tests: the same
SVRL from the official stylesheets and the same reports from the engine on every document of the
differential corpus, with and without this whitespace). The rule sets whose stylesheets the README's
scan did not read (3.0.19 from Schematron, T111, MLS, TSR, EUSR): the same reports on their examples
and test files, re-indented, through both paths (tests/conformance/test_blank_text_rule_sets.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

_BEFORE_START: Final = re.compile(rb">[ \t\r\n]+(?=<[^/])")
_AFTER_EMPTY_BEFORE_END: Final = re.compile(rb"/>[ \t\r\n]+(?=</)")
_AFTER_END_BEFORE_END: Final = re.compile(rb"(</[^<>]*>)[ \t\r\n]+(?=</)")
_UTF8_BOM: Final = b"\xef\xbb\xbf"
#: Bytes cleaned at a time: ``re.sub`` keeps every piece of its result as an object until it joins them
#: (≈ 15 MiB for the whole 5,000-line invoice at once, more than the whitespace saves in Saxon).
_CHUNK: Final = 64 * 1024


def without_blank_text(xml: bytes) -> bytes:
    """``xml`` (the UTF-8 bytes of an XSD-valid UBL document, see the module) without the whitespace
    between its elements; ``xml`` itself when it may hold anything else (see the module).

    On the bytes, before they are decoded for Saxon, in chunks that end just before a tag (``_CHUNK``)."""
    if not blank_text_removable(xml):
        return xml
    return b"".join(blank_free_chunks(xml))


def blank_text_removable(xml: bytes) -> bool:
    """Whether ``xml`` holds nothing that keeps its whitespace between elements as received (the module)."""
    body = len(_UTF8_BOM) if xml.startswith(_UTF8_BOM) else 0
    if xml.startswith(b"<?xml", body):
        body = xml.find(b"?>", body) + 2
        if body == 1:
            return False
    if b"<!" in xml or xml.find(b"<?", body) >= 0 or b"UBLExtensions" in xml:
        return False
    return xml.count(b"<") == xml.count(b">")


def blank_free_chunks(xml: bytes) -> Iterator[bytes]:
    """The pieces of ``without_blank_text(xml)`` for a document ``blank_text_removable`` accepts, one chunk
    at a time, so that a caller writing them out never holds the cleaned document whole."""
    start = 0
    while start < len(xml):
        cut = xml.find(b"<", start + _CHUNK)
        if cut < 0:
            yield _without_blank(xml[start:])
            return
        # The chunk takes the next tag's first two bytes along, for the look-aheads; no step changes them.
        yield _without_blank(xml[start : cut + 2])[:-2]
        start = cut


def _without_blank(chunk: bytes) -> bytes:
    chunk = _BEFORE_START.sub(b">", chunk)
    chunk = _AFTER_EMPTY_BEFORE_END.sub(b"/>", chunk)
    return _AFTER_END_BEFORE_END.sub(rb"\1", chunk)
