"""``build_sbd`` copies the business document into the SBD byte for byte when that is safe (UTF-8, a
bare prolog, an unprefixed root), after a well-formedness pass that builds no tree; otherwise it falls back
to a tree. Either way the receiver's ``parse_sbd`` reads back the same document."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.errors import MappingError, XMLEncodingRefused, XMLInputError
from gateway.ubl import sbdh
from gateway.ubl.sbdh import parse_sbd
from gateway.xmlcore import root_element_bytes
from tests.unit.ubl.sbd_support import wrap

INV = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
BODY = f"<Invoice xmlns=\"{INV}\" xmlns:cbc='{CBC}'><cbc:ID>A&amp;B&#233;</cbc:ID><x xmlns=''/></Invoice>"


def test_business_document_is_copied_byte_for_byte() -> None:
    business = b"<?xml version='1.0' encoding='utf-8'?>\n" + BODY.encode() + b"\n"
    sbd = wrap(business)
    assert BODY.encode() in sbd  # the character reference and the quotes as written
    read = parse_sbd(sbd, max_bytes=1_000_000)
    assert etree.QName(etree.fromstring(read.business_document)).localname == "Invoice"
    # the xmlns='' child stays in no namespace: the SBD's default namespace does not leak in
    assert etree.fromstring(sbd).find(f"{{{INV}}}Invoice/x") is not None


@pytest.mark.parametrize(
    "business",
    [
        b"<!-- a comment before the root -->" + BODY.encode(),  # prolog other than a declaration
        b"<?xml version='1.0' encoding='ISO-8859-1'?>" + BODY.encode(),  # another encoding
        f"<inv:Invoice xmlns:inv='{INV}'><cbc:ID xmlns:cbc='{CBC}'>1</cbc:ID></inv:Invoice>".encode(),
    ],
)
def test_other_documents_go_through_a_tree(business: bytes) -> None:
    sbd = wrap(business)
    root = etree.fromstring(sbd)
    assert etree.QName(root[1]) == etree.QName(INV, "Invoice")
    assert parse_sbd(sbd, max_bytes=1_000_000).type == "Invoice"


@pytest.mark.parametrize(
    ("business", "error"),
    [
        (BODY.encode()[:-3], XMLInputError),  # truncated
        (b'<!DOCTYPE Invoice [<!ENTITY e "x">]>' + BODY.encode(), XMLInputError),
        (BODY.encode().replace(b"A&amp;B", b"&e;"), XMLInputError),  # undefined entity
        (BODY.encode() + b"<extra/>", XMLInputError),
        (b"<CreditNote xmlns='urn:x'/>", MappingError),
    ],
)
def test_refusals(business: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        wrap(business)


def test_a_document_parsed_before_is_wrapped_alike_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    # The delivery worker's case: the stored document was parsed and validated at submit.
    business = b"<?xml version='1.0' encoding='utf-8'?>\n" + BODY.encode() + b"\n"
    expected = wrap(business)

    def no_parse(*_: object, **__: object) -> None:
        raise AssertionError("the document was parsed again")

    monkeypatch.setattr(sbdh, "root_name", no_parse)
    monkeypatch.setattr(sbdh, "check_well_formed", no_parse)
    assert wrap(business, parsed_before=True) == expected
    with pytest.raises(AssertionError):
        wrap(business)


def test_root_element_bytes() -> None:
    assert root_element_bytes(b"\xef\xbb\xbf<?xml version='1.0'?>\r\n <a/>\n\n") == b"<a/>"
    assert root_element_bytes(b"<?xml version='1.0' encoding='UTF-16'?><a/>") is None
    assert root_element_bytes(b"<?pi x?><a/>") is None


def test_receiver_takes_the_business_document_as_sent() -> None:
    business = parse_sbd(wrap(BODY.encode()), max_bytes=1_000_000).business_document
    assert business == BODY.encode()  # byte for byte: quotes and the character reference as written


@pytest.mark.parametrize(
    "layout",
    [
        # a prefix the business document uses is declared on the SBD root: the bytes alone would lack it
        lambda sbd: (
            sbd.replace(
                b"<StandardBusinessDocument ", b"<StandardBusinessDocument xmlns:c='%s' " % CBC.encode()
            )
            .replace(b" xmlns:cbc='" + CBC.encode() + b"'", b"")
            .replace(b"cbc:", b"c:")
        ),
        lambda sbd: sbd.replace(
            b"</StandardBusinessDocumentHeader>", b"</StandardBusinessDocumentHeader><!-- c -->"
        ),
        lambda sbd: sbd.replace(b"</StandardBusinessDocument>", b"<!-- c --></StandardBusinessDocument>"),
        lambda sbd: sbd.replace(
            b"<HeaderVersion>", b"<!-- </StandardBusinessDocumentHeader> <Invoice/> --><HeaderVersion>"
        ),
    ],
)
def test_receiver_serialises_other_layouts_from_the_tree(layout: object) -> None:
    sbd = layout(wrap(BODY.encode()))  # type: ignore[operator]
    business = parse_sbd(sbd, max_bytes=1_000_000).business_document
    parsed = etree.fromstring(business)  # stands alone: every namespace it uses is declared in it
    assert parsed.findtext(f"{{{CBC}}}ID") == "A&Bé"


@pytest.mark.parametrize("parsed_before", [False, True], ids=["submitted", "stored"])
def test_a_business_document_in_utf_16_is_refused_before_any_parse(parsed_before: bool) -> None:
    # Submitted (the CLI): the root's name is read first, by ``root_name``, whose byte scans refuse UTF-16, so
    # the well-formedness pass (no scan of its own) never sees it. Stored (the worker): not in the plain UTF-8
    # layout, so wrapped from a tree of ``parse_xml``, which refuses it too (``xmlcore.encoding``).
    business = ("<?xml version='1.0' encoding='UTF-16'?>" + BODY).encode("utf-16")
    with pytest.raises(XMLEncodingRefused, match="business document is encoded in UTF-16"):
        wrap(business, parsed_before=parsed_before)


@pytest.mark.parametrize("name", ["l1", "latin1", "IBM819", "ISO_8859-1", "CP819"])
def test_a_business_document_declaring_another_name_of_latin_1_is_wrapped_in_utf_8(name: str) -> None:
    business = f"<?xml version='1.0' encoding='{name}'?>".encode() + BODY.replace("&#233;", "\u00e9").encode(
        "latin-1"
    )
    sbd = wrap(business)
    assert sbd.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    read = parse_sbd(sbd, max_bytes=1_000_000).business_document
    assert etree.fromstring(read).findtext(f"{{{CBC}}}ID") == "A&B\u00e9"
