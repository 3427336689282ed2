"""A bound on the attributes of one start tag and on a namespace URI, checked on the bytes before any parse.

libxml2 builds an element's whole start tag, every attribute and namespace declaration of it, before it
reports the element to a pull parser or a tree: the streamed paths (``gateway.ubl.sbd_stream``, the
streamed XSD check) drop finished elements, but not one that is still being read. One element carrying
very many attributes cost 30 to 58 times its bytes (``<Invoice a0='' a1='' ...>``, 17 MB: ≈ 1 GB), namespace
declarations ≈ 15 times, before any check could refuse it (BENCHMARKS.md, *Attributes per start tag*).

An attribute value cannot hold a raw ``<``, so a start tag with N attributes (namespace declarations
included) has N ``=`` each followed by a quoted value before the next ``<`` (libxml2 stops at the first
unquoted one). The scan looks for N of them after one ``<``, outside ``>``: a regular expression with
possessive quantifiers, which never backtracks, and whose attempt at a ``<`` stops at the tag's ``>``, so
a text (a large embedded attachment) is skipped by the search for the next ``<`` (20 MB: ≈ 7 ms). A UBL
element has a handful of attributes, an SBD root a few namespace declarations. The only false alarm: a
comment or processing instruction written like a start tag with more than ``MAX_ATTRIBUTES_PER_TAG``
attributes.

Each attribute the expression counts has its own ``=``, so bytes holding at most ``MAX_ATTRIBUTES_PER_TAG``
``=`` cannot match: they are let through after at most ``MAX_ATTRIBUTES_PER_TAG + 1`` searches for the
next ``=`` (``bytes.find``, memchr: a 20 MB base64 attachment in 0.3 ms, where the expression takes 17 ms and
``bytes.count`` 18 ms), which skips the expression for most documents (a received invoice, its SBD and
SOAP envelope; BENCHMARKS.md, *Receiver instructions per document*). A document with more ``=`` pays
those searches (≈ 20 us) on top of the expression.

The same scan bounds a namespace URI, which libxml2 parses whatever its length (``huge_tree`` or not):
``<Invoice xmlns="urn:`` + 20 MB + ``">`` cost the receiver's read of an SBD 9 times its bytes (BENCHMARKS.md,
*Hostile payloads on receipt*). A quoted value of more than ``MAX_NAMESPACE_URI_BYTES`` is refused if the
name before its ``=`` is ``xmlns`` or ``xmlns:prefix``. Bytes with few ``=`` have the value after each of them
matched (the searches above find them: at most ``MAX_ATTRIBUTES_PER_TAG + 1`` matches, each of at most
``MAX_NAMESPACE_URI_BYTES`` bytes, whatever the document's size: ≈ 0.13 us an ``=``). Others are searched by
the expression, which reads each start tag's values up to that length: a tag with one attribute too many
or a longer value is then walked attribute by attribute (``_walk_tag``), in the one scan it makes. An
ordinary attribute's value may be longer (a stylesheet's XPath). The only false alarms: text, a comment or a
CDATA section holding ``xmlns="`` followed by more than ``MAX_NAMESPACE_URI_BYTES`` bytes without that quote
(or ``="`` so followed after 64 kB of blanks, ``_NAME_BACK``).
The same call bounds the length of names (element, attribute, prefix): ``gateway.xmlcore.name_length``.

Every check here reads ``<``, ``=``, quotes and blanks as bytes, which holds in an ASCII-compatible encoding
only: in UTF-16 an attribute's ``=`` is two bytes and a character such as U+4E3D holds a ``3D`` byte, so the
count above would neither see a start tag's attributes nor be sure of its ``=``. The call first refuses a
document libxml2 would read in another encoding (UTF-16, UTF-32, EBCDIC, a declaration naming one that is not
UTF-8 or an ASCII-compatible single-byte one such as US-ASCII, ISO-8859-n or windows-125n), on its first
256 bytes: ``gateway.xmlcore.encoding``.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.errors import XMLLimitExceeded
from gateway.xmlcore.encoding import check_encoding
from gateway.xmlcore.name_length import check_names

#: The most attributes and namespace declarations one start tag may carry: the limit of the validation's
#: own XML parser (Saxon's JAXP, ``jdk.xml.elementAttributeLimit``: "Element "Invoice" has more than "200"
#: attributes"), so nothing a validation could pass is refused, and nothing above is parsed to fail there.
MAX_ATTRIBUTES_PER_TAG: Final = 200
#: The longest namespace URI a declaration may carry (bytes). The validation's own XML parser (Saxon's JAXP,
#: ``jdk.xml.maxXMLNameLimit``) refuses a URI of more than 1,000 characters ("The length of entity ... is
#: "1,004" that exceeds the "1,000" limit"), which UTF-8 writes in at most 4,000 bytes: nothing it could pass
#: is refused here, and what is let through above it costs the read of an SBD ≈ 9 times 4 kB before the
#: validation refuses it. The longest in the Peppol stack: 82 bytes (WS-Security's utility namespace, the
#: longest of 4,457 declarations in the validation artefacts and AS4 test vectors).
MAX_NAMESPACE_URI_BYTES: Final = 4_096
_LONG_VALUE_AT: Final = re.compile(
    rb"""=\s*+(?:"[^"]{%d}|'[^']{%d})""" % ((MAX_NAMESPACE_URI_BYTES + 1,) * 2)
)
#: A start tag's ``<`` and up to ``MAX_ATTRIBUTES_PER_TAG`` attributes of values no longer than
#: ``MAX_NAMESPACE_URI_BYTES``, followed by one more quoted value: the tag has one attribute too many or a
#: long value (then ``_walk_tag`` tells which, and whether a namespace declaration's). The repeated group is
#: an atomic group, not a possessive repeat (``(?:...){0,n}+``): CPython 3.11.0-3.11.4's ``re`` (Debian
#: bookworm's ``python3`` is 3.11.2) gets a possessive repeat of a group wrong, and the expression then
#: matched none of the tags it must (python/cpython#100061 and #106052, fixed in 3.11.5).
_SUSPECT_TAG: Final = re.compile(
    rb"""<[^<=>]*+(?>(?:=\s*+(?:"[^"]{0,%d}+"|'[^']{0,%d}+')[^<=>]*+){0,%d})=\s*+["']"""
    % (MAX_NAMESPACE_URI_BYTES, MAX_NAMESPACE_URI_BYTES, MAX_ATTRIBUTES_PER_TAG)
)
_ATTRIBUTE: Final = re.compile(rb"""[^<=>]*+=\s*+(["'])""")
_QUOTE: Final = {ord('"'): re.compile(b'"'), ord("'"): re.compile(b"'")}
#: How far before an ``=`` the name of a declaration is looked for: more than the longest name libxml2
#: parses (50,000 bytes), ``xmlns:`` and a few blanks.
_NAME_BACK: Final = 65_536
_BLANKS: Final = b" \t\r\n"
#: What may come before a name (its start).
_NAME_STARTS: Final = (b" ", b"\t", b"\r", b"\n", b"<")


def check_start_tags(data: bytes | bytearray | memoryview, *, what: str) -> None:
    """Refuse ``data`` if a start tag may carry more than ``MAX_ATTRIBUTES_PER_TAG`` attributes, a
    namespace URI longer than ``MAX_NAMESPACE_URI_BYTES``, or a name longer than ``MAX_NAME_BYTES``; or if it
    is in an encoding these checks cannot read.

    Raises:
        XMLEncodingRefused: not UTF-8 or another ASCII-compatible encoding (``gateway.xmlcore.encoding``).
        XMLLimitExceeded: more than ``MAX_ATTRIBUTES_PER_TAG`` ``="..."`` follow one ``<`` before a ``>``; a
            quoted value of more than ``MAX_NAMESPACE_URI_BYTES`` bytes follows ``xmlns=`` or ``xmlns:p=``;
            an element, attribute or prefix name longer than ``MAX_NAME_BYTES`` (``name_length``).
    """
    check_encoding(data, what=what)  # first: the checks below read an ASCII-compatible encoding only
    check_names(data, what=what)
    if not isinstance(data, memoryview) and _few_equals_signs(data, what):
        return
    at = 0
    while (found := _SUSPECT_TAG.search(data, at)) is not None:
        at = _walk_tag(data, found.start(), what)


def _walk_tag(data: bytes | bytearray | memoryview, start: int, what: str) -> int:
    """Count the attributes of the start tag at ``start`` and look at its long values one by one; where
    the scan goes on (after its last value). Only a tag ``_SUSPECT_TAG`` found is walked.

    Raises:
        XMLLimitExceeded: too many attributes, or a namespace URI too long.
    """
    at, count = start + 1, 0
    while (attribute := _ATTRIBUTE.match(data, at)) is not None:
        count += 1
        if count > MAX_ATTRIBUTES_PER_TAG:
            raise _crowded(what, start)
        value = attribute.end()
        close = _QUOTE[data[value - 1]].search(data, value)
        if close is None:
            return len(data)  # an unterminated value: not well-formed
        if close.start() - value > MAX_NAMESPACE_URI_BYTES:
            before = bytes(data[attribute.start() : value])  # from the tag's name or last value to the quote
            equals = before.rindex(b"=")
            names = before[:equals].split()
            if names and _declares(names[-1]):
                raise _long_uri(what, attribute.start() + equals)
        at = close.end()
    return at


def _crowded(what: str, at: int) -> XMLLimitExceeded:
    return XMLLimitExceeded(
        f"{what} has an element with more than {MAX_ATTRIBUTES_PER_TAG} attributes and namespace "
        f"declarations (at byte {at}): the limit is {MAX_ATTRIBUTES_PER_TAG} per element "
        "(or a comment written like such a start tag)"
    )


def _long_uri(what: str, at: int) -> XMLLimitExceeded:
    return XMLLimitExceeded(
        f"{what} declares a namespace URI of more than {MAX_NAMESPACE_URI_BYTES} bytes (at byte {at}): "
        f"the limit is {MAX_NAMESPACE_URI_BYTES}"
    )


def _few_equals_signs(data: bytes | bytearray, what: str) -> bool:
    """``data`` holds at most ``MAX_ATTRIBUTES_PER_TAG`` ``=``: then no start tag in it can hold more
    attributes. Stops at the one after that number. The quoted value after each is looked at on the way
    (in a document its closing quote comes a few bytes on).

    Raises:
        XMLLimitExceeded: a namespace URI too long.
    """
    at = -1
    long_value = _LONG_VALUE_AT.match
    for _ in range(MAX_ATTRIBUTES_PER_TAG + 1):
        at = data.find(b"=", at + 1)
        if at < 0:
            return True
        if long_value(data, at) is not None and _is_declaration(data, at):
            raise _long_uri(what, at)
    return False


def _is_declaration(data: bytes | bytearray | memoryview, at: int) -> bool:
    """Whether the ``=`` at ``at`` follows ``xmlns`` or ``xmlns:prefix`` (and blanks), as a namespace
    declaration's. More blanks before it than ``_NAME_BACK`` count as one (no document has them). Only the
    name right before the ``=`` is read, once: words before it cost nothing (a look back over each
    ``xmlns`` of the 64 kB cost a crafted comment of 200 such ``=`` 1.8 s)."""
    start = max(0, at - _NAME_BACK)
    before = bytes(data[start:at]).rstrip(_BLANKS)
    if not before:
        return start > 0
    name = before.rsplit(None, 1)[-1].rpartition(b"<")[2]
    if len(name) == len(before) and start > 0 and bytes(data[start - 1 : start]) not in _NAME_STARTS:
        return False  # the name began before the look-back: longer than any name libxml2 parses
    return _declares(name)


def _declares(name: bytes) -> bool:
    """Whether an attribute ``name`` is a namespace declaration's: ``xmlns`` or ``xmlns:prefix``."""
    return name == b"xmlns" or name.startswith(b"xmlns:")
