"""One SBD envelope for the ``build_sbd`` / ``parse_sbd`` unit tests: fixed parties, document type,
process, instance and creation time, so a test varies only the business document and the MLS scopes."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.ubl.sbdh import build_sbd

SENDER = ParticipantID.parse("0208:0739484052")
RECEIVER = ParticipantID.parse("0208:0123456749")
CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def wrap(
    business: bytes,
    *,
    mls_to: ParticipantID | None = None,
    mls_type: str | None = None,
    parsed_before: bool = False,
) -> bytes:
    """``business`` in an SBD from ``SENDER`` to ``RECEIVER`` (a BIS Billing invoice, instance ``inst-1``)."""
    return build_sbd(
        business,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id="inst-1",
        created=CREATED,
        mls_to=mls_to,
        mls_type=mls_type,
        parsed_before=parsed_before,
    )
