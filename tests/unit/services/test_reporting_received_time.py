"""The time a received transmission is counted at (peppol-as4.md §11: the AS4 Timestamp, else the SBDH
CreationDateAndTime, in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from gateway.as4 import IncomingUserMessage
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.services.reporting_records import received_transmission


def _incoming(timestamp: str, created: str) -> IncomingUserMessage:
    sbdh = SimpleNamespace(created=created, country_c1="NL", receiver=ParticipantID("0208", "0739484052"))
    message = SimpleNamespace(
        message_id="m1@sender.test",
        timestamp=timestamp,
        from_party="POP000002",
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        sbdh=sbdh,
    )
    return cast(IncomingUserMessage, message)


def test_a_timestamp_without_offset_is_utc_as_the_pmode_read_it() -> None:
    # ebMS3 Core §5.2.2.1: eb:Timestamp is UTC, the "Z" optional (the P-Mode check reads it so). A message
    # stamped 23:59:59 on the month's last day and received just after midnight belongs to that month.
    received = datetime(2026, 12, 1, 0, 0, 2, tzinfo=UTC)
    counted = received_transmission(
        _incoming("2026-11-30T23:59:59", "2026-11-30T23:59:58"), received_at=received, our_country="BE"
    )
    assert counted is not None
    assert counted.at == datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)


def test_the_time_is_read_as_the_pmode_reads_it() -> None:
    # One reading of xsd:dateTime for the P-Mode and the report: 24:00:00 is the next day's first instant
    # (the P-Mode let it through, the report fell back to the receipt's time); forms that are no
    # xsd:dateTime (a space, the basic ISO form) are not read as times, so the next one is used.
    received = datetime(2026, 12, 1, 0, 0, 9, tzinfo=UTC)

    def counted_at(timestamp: str, created: str) -> datetime:
        counted = received_transmission(_incoming(timestamp, created), received_at=received, our_country="BE")
        assert counted is not None
        return counted.at

    assert counted_at("2026-11-30T24:00:00Z", "2026-11-30T23:59:58Z") == datetime(2026, 12, 1, tzinfo=UTC)
    assert counted_at("2026-11-30 23:59:59", "2026-11-30T23:59:58Z") == datetime(
        2026, 11, 30, 23, 59, 58, tzinfo=UTC
    )
    assert counted_at("20261130T235959", "20261130T235958") == received
    assert counted_at("0001-01-01T00:00:00+14:00", "2026-11-30T23:59:58Z") == datetime(
        2026, 11, 30, 23, 59, 58, tzinfo=UTC
    )
