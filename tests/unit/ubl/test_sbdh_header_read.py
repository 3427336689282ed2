"""``read_sbd_header`` (the sending side): the same SBDH values and checks as ``parse_sbd``, from the bytes
before the business document only, with the hardened parser's refusals."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.errors import MappingError, XMLInputError
from gateway.model import ParticipantID
from gateway.ubl.sbdh import parse_sbd, read_sbd_header
from tests.unit.ubl.sbd_support import wrap

UBL = (
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
    b"<ID xmlns='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>1</ID>"
    + b"<Note xmlns='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>n</Note>" * 5000
    + b"</Invoice>"
)


def _sbd() -> bytes:
    return wrap(UBL, mls_to=ParticipantID.parse("0242:000001"), mls_type="ALWAYS_SEND")


def test_header_values_equal_the_full_parse() -> None:
    sbd = _sbd()
    full = parse_sbd(sbd, max_bytes=10_000_000)
    assert read_sbd_header(sbd, max_bytes=10_000_000) == dataclasses.replace(full, business_document=b"")


def test_the_business_document_is_not_parsed() -> None:
    # Broken far beyond the business document's start tag: only the receiver's full parse sees it.
    sbd = _sbd()
    broken = sbd[: len(sbd) // 2] + b"<<<not xml"
    assert read_sbd_header(broken, max_bytes=10_000_000).instance_id == "inst-1"
    with pytest.raises(XMLInputError):
        parse_sbd(broken, max_bytes=10_000_000)


def test_only_the_first_bytes_after_the_header_are_read() -> None:
    # issue 12: the first feed used to be 16 kB, so a 10 kB invoice was parsed whole for its header.
    sbd = _sbd()
    start = sbd.index(b"<Invoice")
    broken = sbd[: start + 1000] + b"<<<not xml" + sbd[start + 1000 :]
    assert read_sbd_header(broken, max_bytes=10_000_000).instance_id == "inst-1"


def test_a_header_longer_than_the_first_feed_is_read_whole() -> None:
    sbd = _sbd().replace(b"<HeaderVersion>", b"<!--" + b"x" * 20_000 + b"--><HeaderVersion>", 1)
    full = parse_sbd(sbd, max_bytes=10_000_000)
    assert read_sbd_header(sbd, max_bytes=10_000_000) == dataclasses.replace(full, business_document=b"")


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (
            lambda s: s.replace(b"<?xml version='1.0' encoding='UTF-8'?>", b'<!DOCTYPE x [<!ENTITY e "v">]>'),
            XMLInputError,
        ),
        (lambda s: s.replace(b"inst-1", b"&e;"), XMLInputError),
        (lambda s: s.replace(b"<HeaderVersion>1.0", b"<HeaderVersion>2.0"), MappingError),
        (lambda s: s.replace(b"Invoice-2", b"CreditNote-2", 1), MappingError),
        (lambda s: s[: s.index(b"<Invoice")], MappingError),  # no business document at all
        (lambda s: s.replace(b"<HeaderVersion>", b"<HeaderVersion a=>"), XMLInputError),
    ],
)
def test_header_refusals(mutate: object, error: type[Exception]) -> None:
    sbd = mutate(_sbd())  # type: ignore[operator]
    with pytest.raises(error):
        read_sbd_header(sbd, max_bytes=10_000_000)


def test_size_limit() -> None:
    with pytest.raises(XMLInputError):
        read_sbd_header(_sbd(), max_bytes=1000)
