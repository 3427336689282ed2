"""A hostile sender's SBDs at the receiver's tree-less read: ``read_sbd`` must give exactly the verdict of the
tree parse ``parse_sbd`` (the reference): the same error class and wording, or the same SBDH values and
the same business document bytes. A document the fast path accepted and the tree refuses would get a
signed receipt where an ebMS error is due.

Named cases (namespace well-formedness, encodings, declarations, DTDs and entities, PIs and comments,
control characters, libxml2's limits on names and depth, truncation, trailing content), seeded random
mutants, both sides of libxml2's ``huge_tree`` limits, and the same cases from threads (the parse's error
log must not carry over from one call or thread to another).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.errors import MappingError, XMLInputError
from gateway.ubl import sbd_read
from gateway.ubl.sbd_read import read_sbd
from gateway.ubl.sbdh import SBDHData, parse_sbd
from gateway.xmlcore import MAX_ATTRIBUTES_PER_TAG, MAX_NAME_BYTES
from tests.unit.ubl.sbd_support import wrap

INV = b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CBC = b"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
BODY = (
    b'<Invoice xmlns="' + INV + b'" xmlns:cbc="' + CBC + b'"><cbc:ID>A&amp;B</cbc:ID>'
    b'<cbc:Note xml:lang="en">n</cbc:Note><cbc:Note>m</cbc:Note></Invoice>'
)
SBD = wrap(BODY)
DECL = b"<?xml version='1.0' encoding='UTF-8'?>"
ROOT = b'<Invoice xmlns="' + INV + b'"'
NOTE = b"<cbc:Note>m"
TEXT = b"A&amp;B"
SMALL = 1_000_000  # no huge_tree in the tree parse (up to 10 MB)
LARGE = 20_000_000  # huge_tree
MUTANTS = 20_000


def at(old: bytes, new: bytes) -> bytes:
    assert old in SBD, old
    return SBD.replace(old, new, 1)


def below(fragment: bytes) -> bytes:
    """``fragment`` as an element of the business document, below its root."""
    return at(NOTE, fragment + NOTE)


def nested(levels: int) -> bytes:
    return below(b"<d>" * levels + b"</d>" * levels)


def declared(encoding: bytes, text: bytes = TEXT) -> bytes:
    return at(TEXT, text).replace(b"UTF-8", encoding, 1)


#: (name, SBD): each refused or accepted alike by both reads.
CASES: list[tuple[str, bytes]] = [
    ("plain", SBD),
    # Namespace well-formedness, at the root and below it.
    ("one attribute through two prefixes", below(b"<E xmlns:a='urn:x' xmlns:b='urn:x' a:x='1' b:x='2'/>")),
    (
        "two prefixes, declared at two depths",
        below(b"<E xmlns:a='urn:x'><F xmlns:b='urn:x' a:x='1' b:x='2'/></E>"),
    ),
    (
        "default and prefixed attribute of one namespace",
        below(b"<E xmlns='urn:x' xmlns:b='urn:x' x='1' b:x='2'/>"),
    ),
    ("xml rebound", below(b"<E xmlns:xml='urn:y'/>")),
    ("xml bound to its own namespace", below(b"<E xmlns:xml='http://www.w3.org/XML/1998/namespace'/>")),
    ("another prefix for the xml namespace", below(b"<E xmlns:p='http://www.w3.org/XML/1998/namespace'/>")),
    ("default namespace = xml namespace", below(b"<E xmlns='http://www.w3.org/XML/1998/namespace'/>")),
    ("a prefix for the xmlns namespace", below(b"<E xmlns:p='http://www.w3.org/2000/xmlns/'/>")),
    ("xmlns:xmlns", below(b"<E xmlns:xmlns='urn:y'/>")),
    ("xmlns:xmlns on the root", at(ROOT, ROOT + b" xmlns:xmlns='urn:y'")),
    ("xmlns:p='' below", below(b"<E xmlns:p=''/>")),
    ("xmlns:p='' on the root", at(ROOT, ROOT + b" xmlns:p=''")),
    ("cbc undeclared, then used", below(b"<E xmlns:cbc=''><cbc:x/></E>")),
    ("undeclared element prefix, deep", below(b"<E><F><G><q:H/></G></F></E>")),
    ("undeclared attribute prefix, deep", below(b"<E><F><G q:a='1'/></F></E>")),
    ("undeclared attribute prefix on the root", at(ROOT, ROOT + b" q:a='1'")),
    (
        "undeclared prefix on the root",
        SBD.replace(b"<Invoice ", b"<q:Invoice ").replace(b"</Invoice>", b"</q:Invoice>"),
    ),
    ("undeclared non-ASCII prefix", below("<\u00e9:x/>".encode())),
    ("declared non-ASCII prefix", below("<\u00e9:x xmlns:\u00e9='urn:a'/>".encode())),
    ("xml prefix, unknown attribute", below(b"<E xml:foo='1'/>")),
    ("xml:space bogus (a warning)", below(b"<E xml:space='bogus'/>")),
    ("xml:space bogus on the root", at(ROOT, ROOT + b" xml:space='bogus'")),
    ("xml prefix on an element", below(b"<xml:E/>")),
    ("xmlns prefix on an element", below(b"<xmlns:E/>")),
    ("two colons in an attribute", below(b"<E xmlns:a='urn:a' xmlns:q:r='1'/>")),
    ("empty prefix", below(b"<:E/>")),
    ("empty local attribute", below(b"<E xmlns:a='urn:a' a:='1'/>")),
    ("end tag through another prefix", below(b"<E xmlns:a='urn:x' xmlns:b='urn:x'><a:F></b:F></E>")),
    ("relative namespace URI", below(b"<E xmlns='rel/path'/>")),
    ("relative namespace URI, prefixed", below(b"<p:E xmlns:p='rel'/>")),
    ("namespace URI with a space", below(b"<p:E xmlns:p='a b'/>")),
    ("namespace URI with a space, default", below(b"<E xmlns='a b'/>")),
    ("namespace URI with a bad escape", below(b"<E xmlns='%zz'/>")),
    ("namespace URI with a char reference", below(b"<E xmlns='a&#32;b'/>")),
    ("namespace URI with non-ASCII", below("<E xmlns='urn:\u00e9'/>".encode())),
    ("namespace URI with two fragments", below(b"<E xmlns='urn:a#b#c'/>")),
    ("invalid default namespace on the root", SBD.replace(b'xmlns="' + INV + b'"', b'xmlns="a b"')),
    ("invalid cbc namespace on the root", SBD.replace(b'xmlns:cbc="' + CBC + b'"', b'xmlns:cbc="a b"')),
    ("default namespace undeclared below the root", below(b"<E xmlns=''><F/></E>")),
    ("default namespace undeclared on the root", SBD.replace(b'xmlns="' + INV + b'"', b'xmlns=""')),
    ("business root in the SBDH namespace", SBD.replace(b'xmlns="' + INV + b'" ', b"")),
    (
        "business root prefixed",
        SBD.replace(b"<Invoice ", b"<i:Invoice xmlns:i='" + INV + b"' ").replace(
            b"</Invoice>", b"</i:Invoice>"
        ),
    ),
    (
        "the SBD root declares cbc",
        SBD.replace(b"<StandardBusinessDocument ", b"<StandardBusinessDocument xmlns:cbc='urn:z' "),
    ),
    (
        "the header declares cbc",
        at(b"<StandardBusinessDocumentHeader>", b"<StandardBusinessDocumentHeader xmlns:cbc='urn:z'>"),
    ),
    ("an attribute twice", below(b"<E a='1' a='2'/>")),
    ("a declaration twice", below(b"<E xmlns:p='urn:a' xmlns:p='urn:a'/>")),
    ("an attribute twice on the root", at(ROOT, ROOT + b" a='1' a='2'")),
    (
        "many prefixes of one namespace",
        below(b"<E " + b" ".join(b"xmlns:p%d='urn:x'" % i for i in range(200)) + b" p0:a='1' p199:a='2'/>"),
    ),
    (
        "many nested declarations",
        below(
            b"".join(b"<p%d:d xmlns:p%d='urn:%d'>" % (i, i, i) for i in range(200))
            + b"".join(b"</p%d:d>" % i for i in reversed(range(200)))
        ),
    ),
    (
        "many attributes",
        below(b"<E " + b" ".join(b"a%d='1'" % i for i in range(MAX_ATTRIBUTES_PER_TAG)) + b"/>"),
    ),
    # Refused before any parse (``xmlcore.start_tags``), by both alike.
    ("more attributes than allowed", below(b"<E " + b" ".join(b"a%d='1'" % i for i in range(5000)) + b"/>")),
    # Encodings.
    ("UTF-16 with a BOM", ("\ufeff" + SBD.decode().replace("UTF-8", "UTF-16")).encode("utf-16-le")),
    ("UTF-16 without a BOM", SBD.decode().replace("UTF-8", "UTF-16").encode("utf-16-le")),
    ("UTF-16BE, no declaration", SBD.decode().replace(DECL.decode(), "").encode("utf-16-be")),
    ("ISO-8859-1", declared(b"ISO-8859-1", "\u00e9".encode("latin-1"))),
    ("ISO-8859-1 declared, UTF-8 bytes", declared(b"ISO-8859-1", "\u00e9".encode())),
    ("UTF-8 declared, Latin-1 bytes", declared(b"UTF-8", "\u00e9".encode("latin-1"))),
    ("US-ASCII, non-ASCII bytes", declared(b"US-ASCII", "\u00e9".encode())),
    ("us-ascii, non-ASCII bytes", declared(b"us-ascii", "\u00e9".encode())),
    ("ASCII, non-ASCII bytes", declared(b"ASCII", "\u00e9".encode())),
    ("US-ASCII, ASCII bytes", declared(b"US-ASCII")),
    ("utf8", declared(b"utf8", "\u00e9".encode())),
    ("UTF-16 declared, UTF-8 bytes", declared(b"UTF-16")),
    ("windows-1252", declared(b"windows-1252", b"\x80")),
    ("an unknown encoding", declared(b"x-bogus")),
    ("a UTF-8 BOM", b"\xef\xbb\xbf" + SBD),
    ("a UTF-8 BOM, Latin-1 declared", b"\xef\xbb\xbf" + declared(b"ISO-8859-1", "\u00e9".encode())),
    ("a UTF-8 BOM, US-ASCII declared", b"\xef\xbb\xbf" + declared(b"US-ASCII", "\u00e9".encode())),
    ("two BOMs", b"\xef\xbb\xbf\xef\xbb\xbf" + SBD),
    ("a BOM in the text", at(TEXT, b"\xef\xbb\xbfX")),
    ("a BOM before the business document", at(b"<Invoice ", b"\xef\xbb\xbf<Invoice ")),
    ("overlong UTF-8", at(TEXT, b"\xc0\xaf")),
    ("a UTF-8 surrogate", at(TEXT, b"\xed\xa0\x80")),
    ("truncated UTF-8", at(TEXT, b"\xe2\x82")),
    ("U+FFFE", at(TEXT, b"\xef\xbf\xbe")),
    ("above U+10FFFF", at(TEXT, b"\xf4\x90\x80\x80")),
    ("U+0085", at(TEXT, "\x85".encode())),
    ("a name character that is not one", below("<a\u00d7b/>".encode())),
    # The XML declaration.
    ("version 1.1", SBD.replace(b"'1.0'", b"'1.1'", 1)),
    ("version 1.1, xmlns:p=''", below(b"<E xmlns:p=''/>").replace(b"'1.0'", b"'1.1'", 1)),
    ("version 1.1, &#1;", at(TEXT, b"&#1;").replace(b"'1.0'", b"'1.1'", 1)),
    ("version 1.1, U+2028", at(TEXT, "\u2028".encode()).replace(b"'1.0'", b"'1.1'", 1)),
    ("version 2.0", SBD.replace(b"'1.0'", b"'2.0'", 1)),
    ("standalone", SBD.replace(b"'UTF-8'?>", b"'UTF-8' standalone='yes'?>")),
    ("standalone bogus", SBD.replace(b"'UTF-8'?>", b"'UTF-8' standalone='maybe'?>")),
    ("no declaration", SBD.replace(DECL, b"")),
    ("no encoding declared", SBD.replace(DECL, b"<?xml version='1.0'?>")),
    ("a blank before the declaration", b" " + SBD),
    ("two declarations", DECL + SBD),
    ("a declaration before the business document", at(b"<Invoice ", DECL + b"<Invoice ")),
    ("a declaration in the business document", below(DECL)),
    # DTDs, entities, processing instructions, comments, CDATA.
    ("a DOCTYPE", SBD.replace(DECL, DECL + b"<!DOCTYPE StandardBusinessDocument>")),
    ("an internal entity", SBD.replace(DECL, DECL + b"<!DOCTYPE x [<!ENTITY e 'v'>]>").replace(TEXT, b"&e;")),
    ("an external DTD", SBD.replace(DECL, DECL + b"<!DOCTYPE x SYSTEM 'http://127.0.0.1:9/x.dtd'>")),
    (
        "a parameter entity",
        SBD.replace(DECL, DECL + b"<!DOCTYPE x [<!ENTITY % p SYSTEM 'file:///etc/passwd'> %p;]>"),
    ),
    ("a DOCTYPE before the business document", at(b"<Invoice ", b"<!DOCTYPE Invoice><Invoice ")),
    ("a DOCTYPE in the business document", below(b"<!DOCTYPE x>")),
    ("an undefined entity", at(TEXT, b"&e;")),
    ("an undefined entity in an attribute", below(b"<E a='&e;'/>")),
    ("an undefined entity in the root's attribute", at(ROOT, ROOT + b" a='&e;'")),
    ("the predefined entities", at(TEXT, b"&lt;&gt;&quot;&apos;&#233;&#x1F600;")),
    ("&#0;", at(TEXT, b"&#0;")),
    ("&#1; in an attribute", below(b"<E a='&#1;'/>")),
    ("&#xFFFE;", at(TEXT, b"&#xFFFE;")),
    ("&#xD800;", at(TEXT, b"&#xD800;")),
    ("&#x110000;", at(TEXT, b"&#x110000;")),
    ("a PI before the SBD", SBD.replace(DECL, DECL + b"<?pi x?>")),
    ("a PI after the SBD", SBD + b"<?pi x?>"),
    ("a PI in the business document", below(b"<?pi x?>")),
    ("a PI named xml", below(b"<?xml x?>")),
    ("a PI named with a colon", below(b"<?a:b x?>")),
    ("a PI before the business document", at(b"<Invoice ", b"<?pi x?><Invoice ")),
    ("a comment after the business document", at(b"</Invoice>", b"</Invoice><!-- c -->")),
    ("a comment before the business document", at(b"<Invoice ", b"<!-- c --><Invoice ")),
    ("a comment with --", below(b"<!-- a -- b -->")),
    ("an unterminated comment", below(b"<!-- a ")),
    ("prefixes in CDATA", at(TEXT, b"<![CDATA[<q:x a:b='1'>&e;]]>")),
    ("an unterminated CDATA section", at(TEXT, b"<![CDATA[x")),
    ("]]> in text", at(TEXT, b"a]]>b")),
    ("CDATA after the business document", at(b"</Invoice>", b"</Invoice><![CDATA[x]]>")),
    ("text after the business document", at(b"</Invoice>", b"</Invoice>x")),
    ("a character reference after the business document", at(b"</Invoice>", b"</Invoice>&#32;")),
    ("U+00A0 after the business document", at(b"</Invoice>", "</Invoice>\u00a0".encode())),
    ("blanks after the business document", at(b"</Invoice>", b"</Invoice>\t\r\n ")),
    # NUL and control characters.
    ("NUL in text", at(TEXT, b"A\x00B")),
    ("NUL after the SBD", SBD + b"\x00"),
    ("0x01", at(TEXT, b"\x01")),
    ("0x1F in an attribute", below(b"<E a='\x1f'/>")),
    ("0x7F", at(TEXT, b"\x7f")),
    ("a control character in a name", below(b"<E\x01/>")),
    ("a form feed as a blank", below(b"<E\x0ca='1'/>")),
    ("a vertical tab in the root's start tag", SBD.replace(b'" xmlns:cbc', b'"\x0bxmlns:cbc')),
    # libxml2's limits: names (50,000 characters without huge_tree; ours first: MAX_NAME_BYTES), depth (the
    # tree's only).
    ("a long name", below(b"<" + b"e" * MAX_NAME_BYTES + b"/>")),
    ("a name above our bound", below(b"<" + b"e" * (MAX_NAME_BYTES + 1) + b"/>")),
    ("a name too long", below(b"<" + b"e" * 50_001 + b"/>")),
    ("an attribute name too long", below(b"<E " + b"a" * 50_001 + b"='1'/>")),
    ("a prefix too long", below(b"<" + b"p" * 50_001 + b":E xmlns:" + b"p" * 50_001 + b"='urn:a'/>")),
    ("a long namespace URI", below(b"<E xmlns='urn:" + b"a" * 100_000 + b"'/>")),
    ("a long attribute value", below(b"<E a='" + b"v" * 1_000_000 + b"'/>")),
    *[
        (f"{levels} levels below the root", nested(levels))
        for levels in (253, 254, 255, 256, 2045, 2046, 2047, 20_000)
    ],
    # Truncation, trailing content, the layout around the business document.
    *[(f"{cut} bytes cut", SBD[:-cut]) for cut in (1, 10, 27, 28, 29, 30, 40, 100)],
    ("cut inside the business document", SBD[: SBD.index(NOTE) + 5]),
    ("trailing garbage", SBD + b"garbage"),
    ("a second root", SBD + SBD[len(DECL) :]),
    ("a trailing element", SBD + b"<x/>"),
    ("trailing blanks", SBD + b" \n\t\r"),
    ("a trailing form feed", SBD + b"\x0c"),
    ("two business documents", at(b"</Invoice>", b"</Invoice>" + BODY)),
    ("a wrong end tag", at(b"</Invoice>", b"</Invoic>")),
    ("no end tag", at(b"</Invoice>", b"")),
    ("an end tag too many", at(b"</Invoice>", b"</Invoice></Invoice>")),
    ("an empty business document", SBD.replace(BODY, ROOT + b"/>")),
    ("> in a root attribute", at(ROOT, ROOT + b" a='x>y'")),
    ("an end tag in a root attribute", at(ROOT, ROOT + b" a='</Invoice>'")),
    ("< in a root attribute", at(ROOT, ROOT + b" a='x<y'")),
    ("an end tag in an attribute", below(b"<E a='</Invoice>'/>")),
    ("the SBD end tag in a comment", below(b"<!--</StandardBusinessDocument>-->")),
    ("the header end tag in a comment", below(b"<!--</StandardBusinessDocumentHeader>-->")),
    ("the SBD end tag in text", at(TEXT, b"</StandardBusinessDocument>")),
    (
        "blanks in the end tags",
        SBD.replace(b"</Invoice>", b"</Invoice \n>").replace(
            b"</StandardBusinessDocument>", b"</StandardBusinessDocument\t>"
        ),
    ),
    ("a tab after the root's name", SBD.replace(b"<Invoice ", b"<Invoice\t")),
    ("HeaderVersion 2.0", SBD.replace(b"<HeaderVersion>1.0", b"<HeaderVersion>2.0")),
    ("empty", b""),
    ("blanks only", b" \n"),
]


def _verdict(read: Callable[..., SBDHData], sbd: bytes, max_bytes: int) -> object:
    try:
        return read(sbd, max_bytes=max_bytes)
    except (XMLInputError, MappingError) as exc:
        return type(exc), str(exc)


def _fast(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The SBDs ``read_sbd`` leaves to the tree parse (the others were read without one)."""
    judged: list[bytes] = []

    def tree(data: bytes, **kwargs: int) -> SBDHData:
        judged.append(data)
        return parse_sbd(data, **kwargs)

    monkeypatch.setattr(sbd_read, "parse_sbd", tree)
    return judged


@pytest.mark.parametrize("max_bytes", [SMALL, LARGE])
@pytest.mark.parametrize(("name", "sbd"), CASES, ids=[name for name, _ in CASES])
def test_read_sbd_answers_as_the_tree(name: str, sbd: bytes, max_bytes: int) -> None:
    assert _verdict(read_sbd, sbd, max_bytes) == _verdict(parse_sbd, sbd, max_bytes)


def test_the_cases_reach_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # The differential would pass if read_sbd left everything to the tree: these are read without one.
    judged = _fast(monkeypatch)
    fast = {
        "plain",
        "declared non-ASCII prefix",
        "a long name",
        "254 levels below the root",
        "many attributes",
        "version 1.1",
        "prefixes in CDATA",
        "> in a root attribute",
    }
    for name, sbd in CASES:
        if name in fast:
            assert isinstance(read_sbd(sbd, max_bytes=SMALL), SBDHData), name
    assert judged == []


#: Pieces a hostile sender puts anywhere in the business document.
PIECES = [
    b"<",
    b">",
    b"/>",
    b"</",
    b":",
    b"q:",
    b"xml:",
    b"xmlns:",
    b"'",
    b'"',
    b"=",
    b"&",
    b"&e;",
    b"&#0;",
    b"&#65;",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"]]>",
    b"\x00",
    b"\x01",
    b"\xff",
    b"\xc3",
    "\u00e9".encode(),
    b"\xef\xbb\xbf",
    b"</Invoice>",
    b"<Invoice>",
    b"</StandardBusinessDocument>",
    b" ",
    b"\t",
]
#: Pieces put between two tags (or into a start tag, for attributes): many of them are well-formed.
AT_TAGS = [
    b"<q:x/>",
    b"<cbc:x/>",
    b"<x:y xmlns:x='urn:y'/>",
    b"<x:y xmlns:x='urn:y'><x:z x:a='1'/></x:y>",
    b"<E xmlns='a b'/>",
    b"<E xmlns='urn:e'><F/></E>",
    b"<E xmlns=''/>",
    b"<E xmlns:p=''/>",
    b"<E a='1' a='2'/>",
    b"<E xmlns:a='urn:a' xmlns:b='urn:a' a:x='1' b:x='2'/>",
    b"<E xmlns:cbc='urn:x'><cbc:x/></E>",
    b"<xml:E/>",
    b"<xmlns:E/>",
    b"<E xmlns:xml='urn:x'/>",
    b"<E xml:lang='en'/>",
    b"<E xml:space='x'/>",
    b"<!-- <q:x/> -->",
    b"<![CDATA[<q:x/>]]>",
    b"<?p <q:x/>?>",
    b"<?xml x?>",
    b"<!DOCTYPE x>",
    b"&e;",
    b"&#1;",
    b"<d>" * 254 + b"</d>" * 254,
    b"<d>" * 255 + b"</d>" * 255,
    b"<" + b"n" * 50_001 + b"/>",
    b" q:a='1'",
    b" xmlns:q='urn:q'",
    b" xmlns:q=''",
    b" xmlns='a b'",
    b" xml:space='x'",
    b" a='<'",
    b" a='>'",
]


def _mutant(rng: random.Random) -> bytes:
    data = bytearray(SBD)
    first, last = SBD.index(b"<Invoice"), len(SBD) - len(b"</StandardBusinessDocument>")
    tags = [i for i in range(first, last) if SBD[i] in b"<>"]
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            where = rng.choice(tags)
            where += SBD[where] == ord(">")
            data[where:where] = rng.choice(AT_TAGS)
        elif rng.random() < 0.2:
            where = rng.randint(first, last)
            del data[where : where + rng.randint(1, 8)]
        else:
            where = rng.randint(first, last)
            data[where:where] = rng.choice(PIECES)
    return bytes(data)


def test_random_mutants(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(15)
    judged = _fast(monkeypatch)
    accepted = 0
    for _ in range(MUTANTS):
        sbd = _mutant(rng)
        verdict = _verdict(read_sbd, sbd, SMALL)
        assert verdict == _verdict(parse_sbd, sbd, SMALL), sbd
        accepted += isinstance(verdict, SBDHData)
    fast = MUTANTS - len(judged)
    assert accepted > MUTANTS // 10  # enough mutants the tree accepts, most read without it
    assert fast > accepted * 0.8


def test_the_verdicts_do_not_leak_between_calls_or_threads() -> None:
    # A new parser per call: what one parse logged cannot refuse (or excuse) the next, in any thread.
    sbds = [sbd for _, sbd in CASES if len(sbd) < 100_000] * 4
    expected = [_verdict(parse_sbd, sbd, SMALL) for sbd in sbds]
    random.Random(1).shuffle(order := list(range(len(sbds))))
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = dict(zip(order, pool.map(lambda i: _verdict(read_sbd, sbds[i], SMALL), order), strict=True))
    assert [got[i] for i in range(len(sbds))] == expected
