"""Which stored Peppol reports may be remade: only those the network never took (stored ``invalid``, or
whose delivery ended ``failed`` or ``rejected``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryStatus, DocumentKind, OutboundDocument
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport
from gateway.services.reporting import remake_refusal
from gateway.ubl.reporting import REPORTING_PROCESS, TSR_DOCUMENT_TYPE

AT = datetime(2026, 12, 2, tzinfo=UTC)


def report(status: ReportStatus, document_id: str | None = None) -> StoredReport:
    return StoredReport(
        id="r1",
        month=ReportMonth(2026, 11),
        kind=ReportKind.TSR,
        xml=b"<x/>",
        validation_report={"valid": status is not ReportStatus.INVALID},
        status=status,
        created_at=AT,
        outbound_document_id=document_id,
    )


def delivery(status: DeliveryStatus) -> OutboundDocument:
    return OutboundDocument(
        id="d1",
        kind=DocumentKind.PEPPOL_REPORT,
        seller_id="0242:000001",
        document_number="TSR-2026-11",
        sender=ParticipantID("0242", "000001"),
        receiver=ParticipantID("9925", "be0848934496"),
        document_type=TSR_DOCUMENT_TYPE,
        process=REPORTING_PROCESS,
        status=status,
        created_at=AT,
        updated_at=AT,
    )


def test_an_invalid_report_may_be_remade() -> None:
    assert remake_refusal(report(ReportStatus.INVALID), None) is None


@pytest.mark.parametrize("status", [DeliveryStatus.FAILED, DeliveryStatus.REJECTED])
def test_a_report_the_network_did_not_take_may_be_remade(status: DeliveryStatus) -> None:
    assert remake_refusal(report(ReportStatus.QUEUED, "d1"), delivery(status)) is None


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (DeliveryStatus.ACCEPTED, "in flight"),
        (DeliveryStatus.SENDING, "in flight"),
        (DeliveryStatus.RETRYING, "in flight"),
        (DeliveryStatus.DELIVERED, "was delivered"),
        (DeliveryStatus.CONFIRMED, "was delivered"),
    ],
)
def test_a_report_in_flight_or_delivered_is_kept(status: DeliveryStatus, words: str) -> None:
    refusal = remake_refusal(report(ReportStatus.QUEUED, "d1"), delivery(status))
    assert refusal is not None
    assert words in refusal
    assert "TSR of 2026-11" in refusal


def test_a_report_stored_by_design_is_kept() -> None:
    refusal = remake_refusal(report(ReportStatus.STORED), None)
    assert refusal is not None
    assert "not sent by design" in refusal
