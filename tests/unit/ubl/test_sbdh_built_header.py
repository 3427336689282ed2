"""``built_header`` is what ``read_sbd_header`` reads from the SBD ``build_sbd`` writes with the same
arguments: the delivery worker hands it to the AS4 builder instead of parsing back the header it has just
written (BENCHMARKS.md, *Sender and worker instructions per document*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.errors import MappingError
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS
from gateway.ubl.sbdh import build_sbd, built_header, read_sbd_header

INV = b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>1</ID></Invoice>'
CN = b'<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"><ID>1</ID></CreditNote>'
MLS = (
    b'<ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2">'
    b"<ID>1</ID></ApplicationResponse>"
)
BASE: dict[str, Any] = {
    "sender": ParticipantID.parse("0208:0739484052"),
    "receiver": ParticipantID.parse("9925:BE0123456749"),
    "process": BIS_BILLING_PROCESS,
    "country_c1": "BE",
    "instance_id": "4f1c2a9e-0d2b-4c59-9f7e-1b2c3d4e5f60",
    "created": datetime(2026, 12, 7, 6, 0, 1, 123456, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("business", "envelope"),
    [
        (INV, {"document_type": BIS_INVOICE}),
        (CN, {"document_type": BIS_CREDIT_NOTE}),
        (INV, {"document_type": BIS_INVOICE, "mls_to": ParticipantID.parse("0242:000123")}),
        (
            INV,
            {
                "document_type": BIS_INVOICE,
                "mls_to": ParticipantID.parse("0242:000123"),
                "mls_type": "ALWAYS_SEND",
            },
        ),
        (INV, {"document_type": BIS_INVOICE, "mls_type": "FAILURE_ONLY"}),
        (MLS, {"document_type": MLS_DOCUMENT_TYPE, "process": MLS_PROCESS}),
        (
            INV,
            {
                "document_type": BIS_INVOICE,
                "created": datetime(2026, 12, 7, 7, 0, tzinfo=timezone(timedelta(hours=1))),
            },
        ),
    ],
)
def test_the_built_header_is_the_header_read_back(business: bytes, envelope: dict[str, Any]) -> None:
    arguments = BASE | envelope
    sbd = build_sbd(business, **arguments, parsed_before=True)
    assert built_header(business, **arguments) == read_sbd_header(sbd, max_bytes=1_000_000)


@pytest.mark.parametrize(
    "business",
    [
        CN,  # another document type's root
        INV.replace(b"Invoice-2", b"Invoice-3"),  # the root's name in another namespace
        b"<?xml version='1.0'?><!-- a comment -->" + CN,
    ],
)
def test_a_root_of_another_type_is_refused_as_the_header_read_refuses_it(business: bytes) -> None:
    arguments = BASE | {"document_type": BIS_INVOICE}
    sbd = build_sbd(business, **arguments, parsed_before=True)
    with pytest.raises(MappingError, match="business document root does not match") as read:
        read_sbd_header(sbd, max_bytes=1_000_000)
    with pytest.raises(MappingError) as built:
        built_header(business, **arguments)
    assert str(built.value) == str(read.value)


def test_the_root_is_found_after_a_long_prolog() -> None:
    business = b"<?xml version='1.0'?>" + b"<!--" + b"x" * 3000 + b"-->" + INV
    arguments = BASE | {"document_type": BIS_INVOICE}
    assert built_header(business, **arguments).type == "Invoice"
