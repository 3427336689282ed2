"""A synthetic month of mixed traffic for the Peppol reporting tests, with its hand-computed figures.

Reporter POP000001 (us). End users: A = 0208:0739484052 (also written 9925:BE0739484052 and
9925:be0739484052), B = 0208:0123456749, C = 0208:0477472701.

| id | dir | other AP  | doc | C1 | C4 | end user |
|----|-----|-----------|-----|----|----|----------|
| o1 | out | POP000002 | INV | BE | BE | A (0208) |
| o2 | out | POP000002 | INV | BE | NL | A (9925:BE…) |
| o3 | out | POP000003 | CN  | BE | BE | B |
| i1 | in  | POP000002 | INV | NL | BE | A |
| i2 | in  | POP000003 | INV | ZZ | BE | A (9925:be…) |
| i3 | in  | POP000002 | CN  | DE | BE | C |

plus two transmissions just outside November 2026 (ignored).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from gateway.model.identifiers import ParticipantID
from gateway.model.report import (
    AS4_TRANSPORT_PROFILE,
    ReportMonth,
    Transmission,
    TransmissionDirection,
    end_user_key,
)

MONTH: Final = ReportMonth(2026, 11)
SEAT: Final = "POP000001"
INV: Final = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
CN: Final = (
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote##urn:cen.eu:en16931:2017"
    "#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
)
BILLING: Final = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
OUT, IN = TransmissionDirection.OUTGOING, TransmissionDirection.INCOMING


def transmission(
    mid: str, at: datetime, d: TransmissionDirection, seat: str, doc: str, c1: str, c4: str, user: str
) -> Transmission:
    """One synthetic transmission (billing process, AS4)."""
    return Transmission(
        at=at,
        direction=d,
        other_seat=seat,
        document_type_scheme="busdox-docid-qns",
        document_type=doc,
        process_scheme="cenbii-procid-ubl",
        process=BILLING,
        transport_profile=AS4_TRANSPORT_PROFILE,
        c1_country=c1,
        c4_country=c4,
        end_user=end_user_key(ParticipantID.parse(user)),
        message_id=mid,
    )


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


TRAFFIC: Final = (
    transmission("o1", _at(1, 0), OUT, "POP000002", INV, "BE", "BE", "0208:0739484052"),
    transmission("o2", _at(5), OUT, "POP000002", INV, "BE", "NL", "9925:BE0739484052"),
    transmission("o3", _at(9), OUT, "POP000003", CN, "BE", "BE", "0208:0123456749"),
    transmission("i1", _at(12), IN, "POP000002", INV, "NL", "BE", "0208:0739484052"),
    transmission("i2", _at(20), IN, "POP000003", INV, "ZZ", "BE", "9925:be0739484052"),
    transmission(
        "i3",
        datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC),
        IN,
        "POP000002",
        CN,
        "DE",
        "BE",
        "0208:0477472701",
    ),
    transmission(
        "x1",
        datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
        IN,
        "POP000002",
        CN,
        "DE",
        "BE",
        "0208:0000000097",
    ),
    transmission(
        "x2", datetime(2026, 12, 1, tzinfo=UTC), OUT, "POP000002", CN, "BE", "DE", "0208:0000000097"
    ),
)
