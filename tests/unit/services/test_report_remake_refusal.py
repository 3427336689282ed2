"""Which stored Peppol reports may be remade: only those the network never took (stored ``invalid``, or
whose every transmission ended ``failed`` without evidence of receipt or ``rejected``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryStatus, DocumentKind, OutboundDocument
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport
from gateway.model.responses import MLSCode
from gateway.services.report_transmissions import RefusalCode, ReportTransmission, remake_refusal
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


def delivery(status: DeliveryStatus, document_id: str = "d1") -> OutboundDocument:
    return OutboundDocument(
        id=document_id,
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
    assert remake_refusal(report(ReportStatus.INVALID), []) is None


@pytest.mark.parametrize("status", [DeliveryStatus.FAILED, DeliveryStatus.REJECTED])
def test_a_report_the_network_did_not_take_may_be_remade(status: DeliveryStatus) -> None:
    assert remake_refusal(report(ReportStatus.QUEUED, "d1"), [ReportTransmission(delivery(status))]) is None


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (DeliveryStatus.ACCEPTED, "in flight"),
        (DeliveryStatus.SENDING, "in flight"),
        (DeliveryStatus.RETRYING, "in flight"),
        (DeliveryStatus.DELIVERED, "was received"),
        (DeliveryStatus.CONFIRMED, "was received"),
    ],
)
def test_a_report_in_flight_or_delivered_is_kept(status: DeliveryStatus, words: str) -> None:
    refusal = remake_refusal(report(ReportStatus.QUEUED, "d1"), [ReportTransmission(delivery(status))])
    assert refusal is not None
    assert words in refusal.reason
    assert "TSR of 2026-11" in refusal.reason


def test_a_report_stored_by_design_is_kept() -> None:
    refusal = remake_refusal(report(ReportStatus.STORED), [])
    assert refusal is not None
    assert refusal.code is RefusalCode.STORED_BY_DESIGN
    assert "not sent by design" in refusal.reason


def test_a_linked_document_not_found_is_kept() -> None:
    refusal = remake_refusal(
        report(ReportStatus.QUEUED, "d9"), [ReportTransmission(delivery(DeliveryStatus.FAILED))]
    )
    assert refusal is not None
    assert refusal.code is RefusalCode.NOT_FOUND


@pytest.mark.parametrize(
    ("late", "code"),
    [
        ((), None),  # failed, no evidence it arrived
        (("RE",), None),  # received and refused by the receiving AP: remade
        (("AP",), RefusalCode.RECEIVED),
        (("AB",), RefusalCode.RECEIVED),
        (("RE", "AP"), RefusalCode.RECEIVED),
    ],
)
def test_a_failed_transmission_answered_late_by_an_mls_counts_as_received(
    late: tuple[str, ...], code: RefusalCode | None
) -> None:
    failed = ReportTransmission(delivery(DeliveryStatus.FAILED), late)
    refusal = remake_refusal(report(ReportStatus.QUEUED, "d1"), [failed])
    assert (refusal.code if refusal else None) is code


@pytest.mark.parametrize(
    ("earlier", "code"),
    [
        (DeliveryStatus.DELIVERED, RefusalCode.RECEIVED),
        (DeliveryStatus.CONFIRMED, RefusalCode.RECEIVED),
        (DeliveryStatus.RETRYING, RefusalCode.IN_FLIGHT),
        (DeliveryStatus.SENDING, RefusalCode.IN_FLIGHT),
        (DeliveryStatus.REJECTED, None),
        (DeliveryStatus.FAILED, None),
    ],
)
def test_every_earlier_transmission_counts_not_only_the_linked_one(
    earlier: DeliveryStatus, code: RefusalCode | None
) -> None:
    history = [
        ReportTransmission(delivery(earlier, "d0")),
        ReportTransmission(delivery(DeliveryStatus.FAILED)),
    ]
    refusal = remake_refusal(report(ReportStatus.QUEUED, "d1"), history)
    assert (refusal.code if refusal else None) is code
    assert remake_refusal(report(ReportStatus.INVALID), history[:1]) == refusal  # remade invalid: no link


def test_a_late_mls_on_an_earlier_transmission_names_it() -> None:
    history = [
        ReportTransmission(delivery(DeliveryStatus.FAILED, "d0"), (MLSCode.ACCEPTED.value,)),
        ReportTransmission(delivery(DeliveryStatus.FAILED)),
    ]
    refusal = remake_refusal(report(ReportStatus.QUEUED, "d1"), history)
    assert refusal is not None
    assert refusal.transmission is history[0]
    assert "answered with an MLS AP" in refusal.reason
