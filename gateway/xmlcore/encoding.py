"""Which encodings the byte scans before a parse can read: an XML document in another one is refused first.

The scans of ``start_tags`` and ``name_length`` look for the bytes of ``<``, ``=``, quotes and blanks. They
bound what libxml2 reads only if libxml2 reads those characters from those bytes, one byte each, and no other
character holds them: an ASCII-compatible encoding. UTF-8 is one (Peppol's: each of the 505 XML files of the
validation artefacts, their examples and the SMP vectors declares it or no encoding, none has a byte order
mark; peppol-as4.md's SOAP parts are ``charset=UTF-8``), and so are US-ASCII, ISO-8859-n and windows-125n.
UTF-16 and UTF-32 are not, and libxml2 parses them (told by a byte order mark, the first four bytes of XML
1.0 Appendix F or the declaration): a UTF-16 name of characters such as U+4E3C (bytes ``3C 4E``) never
leaves a ``<``-free gap, so a name of megabytes passed the name bound, and a UTF-16 start tag holds no ``=``
byte the attribute count sees as one. EBCDIC (cp500, IBM037) writes ``<`` as ``4C``; this libxml2 build
refuses it ("Unsupported encoding"), another could read it. UTF-7, Shift_JIS and the other encodings libxml2
reads through iconv may write ``<`` or ``=`` otherwise (UTF-7: ``+ADw-``).

Such a document is refused, not transcoded to UTF-8 before the scans: Peppol documents are UTF-8 in practice,
a transcoded copy would cost up to 1.5 times a UTF-16 document's bytes more before the parse (which makes
its own), and the bytes stored and relayed would no longer be those received. XML 1.0 (§4.3.3) asks every
processor to read UTF-16: the gateway knowingly does not. The refusal is an ``XMLInputError``
(``XMLEncodingRefused``): the API's 400 ``/problems/xml-encoding``; on AS4 the answer to a payload or an
envelope that cannot be read (an SBD: EBMS:0004, the SOAP envelope: EBMS:0009).

The check reads the first ``_HEAD`` bytes only, whatever the document's size: a few comparisons and one
anchored expression, 1.5 to 3 us on a loaded 2-core host, where ``parse_xml`` of the e2e template's 10 kB
invoice takes 150 to 330 us. It refuses a byte order mark other than UTF-8's; a NUL byte in the first four
(UTF-16 or UTF-32 without a byte order mark: Appendix F's patterns all hold one, and no XML document starts
with one); EBCDIC's ``<?xm``; an XML declaration whose ``encoding`` names another encoding than those above
(spelled as libxml2 and iconv know them, case ignored), or that is longer than ``_HEAD`` bytes (a real one
has some 40).
"""

from __future__ import annotations

import re
from typing import Final

from gateway.errors import XMLEncodingRefused

#: How many bytes of the start are read: a BOM, an XML declaration with blanks to spare.
_HEAD: Final = 256
_UTF8_BOM: Final = b"\xef\xbb\xbf"
#: The starts (after any UTF-8 BOM) that tell libxml2 to read a document in an encoding the scans cannot:
#: byte order marks, the patterns of XML 1.0 Appendix F. The longer first (UTF-32's BOMs start as UTF-16's).
_OTHER_STARTS: Final = (
    (b"\x00\x00\xfe\xff", "UTF-32 (a byte order mark)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (a byte order mark)"),
    (b"\xfe\xff", "UTF-16 (a byte order mark)"),
    (b"\xff\xfe", "UTF-16 (a byte order mark)"),
    (b"\x4c\x6f\xa7\x94", "EBCDIC"),
)
_OTHER_PREFIXES: Final = tuple(prefix for prefix, _ in _OTHER_STARTS)
#: The encodings the scans read, as a declaration names them (lower-cased; spellings libxml2 and iconv know):
#: ASCII-compatible, one byte for each of ``<``, ``=``, quotes and blanks, those bytes for nothing else.
_READABLE: Final = frozenset(
    (
        b"utf-8",
        b"utf8",
        b"us-ascii",
        b"ascii",
        b"latin1",
        b"latin-1",
        *(b"%s%d" % (iso, n) for iso in (b"iso-8859-", b"iso_8859-", b"iso8859-") for n in range(1, 17)),
        *(b"%s125%d" % (windows, n) for windows in (b"windows-", b"cp") for n in range(9)),
    )
)
#: The value of the declaration's ``encoding`` (after the word).
_ENCODING_VALUE: Final = re.compile(rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_BLANKS: Final = (b" ", b"\t", b"\r", b"\n")
#: What the refusals say the gateway reads.
READABLE_ENCODINGS: Final = "UTF-8 (or US-ASCII, ISO-8859-n, windows-125n)"


def check_encoding(data: bytes | bytearray | memoryview, *, what: str) -> None:
    """Refuse ``data`` if libxml2 would read it in an encoding the byte scans cannot read (see the module).

    Raises:
        XMLEncodingRefused: a UTF-16 or UTF-32 byte order mark, a NUL byte in the first four bytes (after a
            UTF-8 byte order mark), EBCDIC's ``<?xm``, an XML declaration naming another encoding than
            those of ``READABLE_ENCODINGS``, or one longer than ``_HEAD`` bytes.
    """
    head = bytes(data[:_HEAD]) if isinstance(data, memoryview) else data[:_HEAD]
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    if not head.startswith(b"<?xml"):
        if b"\x00" in head[:4] or head.startswith(_OTHER_PREFIXES):
            raise _refused(what, _detected(bytes(head[:4])))
        return  # no declaration: UTF-8
    if head[5:6] not in _BLANKS:
        return  # a processing instruction (``<?xml-stylesheet``), no declaration: UTF-8
    end = head.find(b"?>", 5)
    if end < 0:
        if len(data) > _HEAD:
            raise XMLEncodingRefused(f"{what} has an XML declaration longer than {_HEAD} bytes")
        return  # a document cut within its declaration: the parse refuses it
    word = head.find(b"encoding", 5, end)
    found = _ENCODING_VALUE.match(head, word + len(b"encoding"), end) if word >= 0 else None
    if found is None:
        return  # no encoding declared (UTF-8), or one written so that the parse refuses it
    name = bytes(found.group(found.lastindex or 0))
    if name.lower() not in _READABLE:
        raise _refused(what, f"{name.decode('ascii', 'replace')!r} (its XML declaration)")


def _detected(first: bytes) -> str:
    """The encoding the first bytes of a refused document tell."""
    for prefix, name in _OTHER_STARTS:
        if first.startswith(prefix):
            return name
    nuls = first.count(b"\x00")  # Appendix F: UTF-32 has three in "<" (its four bytes), UTF-16 two in "<?"
    return (
        f"{'UTF-32' if nuls == 3 else 'UTF-16' if nuls == 2 else 'UTF-16 or UTF-32'} (NUL bytes at its start)"
    )


def _refused(what: str, encoding: str) -> XMLEncodingRefused:
    return XMLEncodingRefused(
        f"{what} is encoded in {encoding}: the gateway reads XML in {READABLE_ENCODINGS}"
    )
