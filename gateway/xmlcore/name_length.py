"""A bound on the length of an XML name (element, attribute, namespace prefix), checked on the bytes before
any parse.

libxml2 stops a name at 50,000 bytes, but at 10,000,000 under ``huge_tree`` (a limit above 10 MB: the
receiver's), and copies it more than once: a 9.9 MB name cost the receiver's read of an SBD 4.6 (element) to
8.0 (attribute) times the SBD's bytes, ``parse_xml`` 1.3 to 2.6 times, and was accepted (BENCHMARKS.md,
*Names bounded on receipt*). Every name the parser reads as a name is refused here above
``MAX_NAME_BYTES``: an element's (start tag, end tag), a processing instruction's target, and an
attribute's (``xmlns:prefix`` included), whole, prefix and ``:`` included (a prefix is part of an element's
or attribute's name).

A name follows a ``<`` (``<``, ``</``, ``<?``) or a blank inside a start tag, and no ``<`` comes before the
tag's ``>`` (an attribute value cannot hold one): a name longer than ``MAX_NAME_BYTES`` leaves a gap of more
than that many bytes between one ``<`` and the next. The scan looks for such gaps with ``bytes.find``
(memchr), window by window: every run of ``MAX_NAME_BYTES + 1`` bytes holds a whole window of half that
length, which then holds no ``<``. Only the ``<`` before such a window (an element holding a large text, an
attachment) has its tag read by the expression, and the gap is jumped over with one more search. A document
of short texts costs one search a window (a received invoice of 21 kB: six), whatever its names, and no
expression; a 20 MB attachment one search of its bytes.

Comments, CDATA sections and a processing instruction's data are not taken for names (``<!`` and ``<?``
are skipped as such). The only false alarms: one of them holding a ``<`` followed by what reads as a start
tag with a name that long; a start tag that is not well-formed (its parse would fail anyway).
Not bounded: an entity reference's name (``&name;``, refused by the parse when it reads it: no DTD declares
one) and the names of a DTD (refused after the parse). Like the other checks of ``start_tags``, the scan
reads an ASCII-compatible encoding (UTF-8, US-ASCII, ISO-8859-n, windows-125n...): in UTF-16 a name of
characters such as U+4E3C (bytes ``3C 4E``) leaves no ``<``-free gap. ``check_start_tags`` therefore refuses a
document in any other encoding (UTF-16, UTF-32, EBCDIC, or declared otherwise) before calling this scan
(``gateway.xmlcore.encoding``); called alone, it bounds the names of an ASCII-compatible document only.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.errors import XMLLimitExceeded

#: The longest XML name (bytes, prefix and ``:`` included). The validation's own XML parser (Saxon's JAXP,
#: ``jdk.xml.maxXMLNameLimit``) refuses a prefix or local name of more than 1,000 characters
#: ("JAXP00010005: The length of entity "[xml]" is "1,001" that exceeds the "1,000" limit"; a prefix and a
#: local name of 999 and 1 pass, the limit is per part): a qualified name it passes holds at most 2,001
#: characters, 6,001 bytes in UTF-8. Nothing it could pass is refused; what is let through above it costs a
#: few kB before the validation refuses it. The longest name in the Peppol stack: 34 bytes
#: (``svrl:ns-prefix-in-attribute-values``, of 710,218 names in the 549 XML, XSD, Schematron and XSLT files
#: of the validation artefacts, AS4 test vectors and interop sample; ``tests/unit/test_xml_corpus_limits.py``
#: passes them all).
MAX_NAME_BYTES: Final = 8_192
#: The length of a window searched for a ``<``: every run of ``MAX_NAME_BYTES + 1`` bytes holds one whole.
_WINDOW: Final = MAX_NAME_BYTES // 2
#: A byte a name may hold, over-approximated: any but those that end one inside a tag.
_NAME_BYTE: Final = rb"""[^\s<>/="']"""
#: A tag at its ``<`` whose element name, processing instruction target or attribute name is longer than
#: ``MAX_NAME_BYTES`` (group ``name`` or ``attribute``). Comments, CDATA sections and declarations (``<!``)
#: hold no name read here; a processing instruction's data holds no attribute. The attributes before a long
#: one are an atomic group, not a possessive repeat (``(?:...)*+``), which CPython 3.11.0-3.11.4's ``re``
#: gets wrong (python/cpython#100061 and #106052, fixed in 3.11.5; Debian bookworm's ``python3`` is
#: 3.11.2): there, no long attribute name after another attribute was found.
_LONG_NAME: Final = re.compile(
    rb"""<(?!!)(?:[/?]?+(?P<name>%(b)s{%(above)d})"""
    rb"""|(?!\?)%(b)s{1,%(max)d}+(?>(?:\s++%(b)s{1,%(max)d}+\s*+=\s*+(?:"[^"<]*+"|'[^'<]*+'))*)"""
    rb"""\s++(?P<attribute>%(b)s{%(above)d}))"""
    % {b"b": _NAME_BYTE, b"max": MAX_NAME_BYTES, b"above": MAX_NAME_BYTES + 1}
)


def check_names(data: bytes | bytearray | memoryview, *, what: str) -> None:
    """Refuse ``data`` if an element, processing instruction target or attribute name in it is longer than
    ``MAX_NAME_BYTES``.

    Raises:
        XMLLimitExceeded: such a name (at the first one found).
    """
    if isinstance(data, memoryview):  # no find: the expression looks at every "<"
        found = _LONG_NAME.search(data)
        if found is not None:
            raise _long_name(what, found)
        return
    find, size = data.find, len(data)
    start = 0
    while start < size:
        if find(b"<", start, start + _WINDOW) >= 0:
            start += _WINDOW
            continue
        # A window without "<" (after one with, or the first): the tag of the last "<" before it, in the
        # window before, is read; the gap is then jumped over to the window of its next "<".
        tag = data.rfind(b"<", max(0, start - _WINDOW), start)
        if tag >= 0 and (found := _LONG_NAME.match(data, tag)) is not None:
            raise _long_name(what, found)
        after = find(b"<", start + _WINDOW)
        if after < 0:
            return
        start = after - after % _WINDOW


def _long_name(what: str, found: re.Match[bytes]) -> XMLLimitExceeded:
    at = found.start("name") if found.start("name") >= 0 else found.start("attribute")
    return XMLLimitExceeded(
        f"{what} has an element, attribute or namespace prefix name of more than {MAX_NAME_BYTES} bytes "
        f"(at byte {at}): the limit is {MAX_NAME_BYTES}"
    )
