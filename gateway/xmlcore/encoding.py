"""Which encodings the byte scans before a parse can read: an XML document in another one is refused first.

The scans of ``start_tags`` and ``name_length`` look for the bytes of ``<``, ``=``, quotes and blanks. They
bound what libxml2 reads only if libxml2 reads those characters from those bytes, one byte each, and no other
character holds them: an ASCII-compatible encoding. UTF-8 is one (Peppol's: each of the 505 XML files of the
validation artefacts, their examples and the SMP vectors declares it or no encoding, none has a byte order
mark; peppol-as4.md's SOAP parts are ``charset=UTF-8``), and so are US-ASCII, ISO-8859-n, windows-125n and
the other single-byte encodings that keep ASCII's bytes (KOI8-R, Mac Roman...), under every name libxml2 knows
them by (``_READABLE``: ``ANSI_X3.4-1968``, ``ISO646-US``, ``latin1``, ``l1``, ``cp1252``...).
UTF-16 and UTF-32 are not, and libxml2 parses them (told by a byte order mark, the first four bytes of XML
1.0 Appendix F or the declaration): a UTF-16 name of characters such as U+4E3C (bytes ``3C 4E``) never
leaves a ``<``-free gap, so a name of megabytes passed the name bound, and a UTF-16 start tag holds no ``=``
byte the attribute count sees as one. EBCDIC (cp500, IBM037) writes ``<`` as ``4C``; this libxml2 build
refuses it ("Unsupported encoding"), another could read it. UTF-7, Shift_JIS and the other encodings libxml2
reads through iconv may write ``<`` or ``=`` otherwise (UTF-7: ``+ADw-``; ISO-2022-JP after ``ESC $ B``).

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
with one); EBCDIC's ``<?xm``; an XML declaration whose ``encoding`` is not one of the names of ``_READABLE``
(case ignored: a name libxml2 would refuse is refused here, naming the encoding), or that is longer than
``_HEAD`` bytes (a real one has some 40).
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
#: The names a declaration may give (lower-cased; libxml2 and its iconv ignore case), each one libxml2 reads
#: as UTF-8 or as an ASCII-compatible encoding of one byte a character: every byte below 80 is that ASCII
#: character, every other byte one non-ASCII character (or refused), whatever comes before or after it. Each
#: name was checked against this lxml's libxml2 (2.14, with GNU libiconv) parsing a document that declares it,
#: and is again by ``tests/unit/test_xml_encoding_names.py``: all 256 bytes one by one, and byte strings
#: compared with the bytes read one by one. The windows-1255 and -1258 converters compose a letter and a
#: following accent into one character (``A`` and ``CC``: ``À``); none composes ``<``, ``=``, a quote or a
#: blank.
#: Names libxml2 refuses ("Unsupported encoding": ``latin-1``, ``iso8859_1``, ``cp65001``, ``ISO-8859-12``)
#: are not here, nor ``char`` (iconv's name for the locale's encoding), so the check refuses them, naming the
#: encoding, rather than the parse. Refused too: UTF-16/32, UTF-7, the EUC, Shift_JIS, GBK, Big5, ISO-2022
#: and HZ families (multi-byte, or stateful: ``ESC $ B`` or ``~{`` make ``<`` the half of a character),
#: ``JAVA`` and ``C99`` (``\u003c`` is read as ``<``), and ISO 646 variants that write ``\`` or ``~``
#: otherwise.
_READABLE: Final = frozenset(
    name.encode()
    for group in (
        # UTF-8.
        "utf-8 utf8",
        # US-ASCII.
        "us-ascii ascii us ansi_x3.4-1968 ansi_x3.4-1986 iso646-us iso-ir-6 cp367 ibm367 csascii",
        # ISO-8859-n, under each of the three spellings, then their other names (ISO-IR, Latin-n, IANA cs...).
        *(f"iso-8859-{n} iso_8859-{n} iso8859-{n}" for n in (*range(1, 12), *range(13, 17))),
        "latin1 l1 iso-latin-1 iso-ir-100 cp819 ibm819 csisolatin1",
        "latin2 l2 iso-ir-101 csisolatin2",
        "latin3 l3 iso-ir-109 csisolatin3",
        "latin4 l4 iso-ir-110 csisolatin4",
        "cyrillic iso-ir-144 csisolatincyrillic",  # ISO-8859-5
        "arabic asmo-708 ecma-114 iso-ir-127 csisolatinarabic",  # ISO-8859-6
        "greek greek8 ecma-118 elot_928 iso-ir-126 csisolatingreek",  # ISO-8859-7
        "hebrew iso-ir-138 csisolatinhebrew",  # ISO-8859-8
        "latin5 l5 iso-ir-148 csisolatin5",  # ISO-8859-9
        "latin6 l6 iso-ir-157 csisolatin6",  # ISO-8859-10
        "latin7 l7 iso-ir-179",  # ISO-8859-13
        "latin8 l8 iso-ir-199 iso-celtic",  # ISO-8859-14
        "latin-9 iso-ir-203",  # ISO-8859-15
        "latin10 l10 iso-ir-226",  # ISO-8859-16
        # windows-125n, and Microsoft's other names of them.
        *(f"windows-125{n} cp125{n}" for n in range(9)),
        "ms-ee ms-cyrl ms-ansi ms-greek ms-turk ms-hebr ms-arab winbaltrim",
        # The other ASCII-compatible single-byte encodings libxml2 reads (through iconv).
        "koi8-r cskoi8r koi8-u koi8-ru koi8-t",
        "cp850 ibm850 cspc850multilingual cp862 ibm862 cspc862latinhebrew cp866 ibm866 csibm866 cp1131",
        "cp154 pt154 ptcp154 csptcp154 cyrillic-asian kz-1048 rk1048 strk1048-2002 cskz1048",
        "mac macintosh macroman csmacintosh maccentraleurope maccroatian macromania maccyrillic macukraine",
        "macgreek macturkish macarabic machebrew macthai maciceland",
        "hp-roman8 roman8 r8 cshproman8 nextstep",
        "tis-620 tis620 tis620-0 tis620.2529-1 tis620.2533-0 tis620.2533-1 iso-ir-166 cp874 windows-874",
        "cp1133 ibm-cp1133 mulelao-1 georgian-academy georgian-ps",
    )
    for name in group.split()
)
#: The value of the declaration's ``encoding`` (after the word).
_ENCODING_VALUE: Final = re.compile(rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_BLANKS: Final = (b" ", b"\t", b"\r", b"\n")
#: What the refusals say the gateway reads.
READABLE_ENCODINGS: Final = (
    "UTF-8 (or an ASCII-compatible single-byte encoding: US-ASCII, ISO-8859-n, windows-125n...)"
)


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
