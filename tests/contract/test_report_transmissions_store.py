"""A remade Peppol report is never sent to the network a second time (SQLite and PostgreSQL).

The sequence that sent a month twice: the TSR is queued as outbound document A; A's delivery ends
``failed`` (every attempt timed out: the receipt never came back) although OpenPeppol's AP did get it, and
that AP's Message Level Status about A comes later and is held (A still "awaits" its receipt). The remake
looked only at A's status (``failed``) and queued the month again as B. And once remade, the report's row
links B only: a later remake no longer saw A at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.errors import ReportAlreadyReceived, ReportRemakeRefused, ReportTransmissionInFlight
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind
from gateway.model.report import ReportKind, ReportStatus
from gateway.model.responses import MLSCode
from gateway.services.report_queries import get_report, list_reports
from gateway.services.report_transmissions import TransmissionState
from gateway.store import SQLDocumentStore
from gateway.validation import ValidationEngine
from tests.contract.test_peppol_reporting_store import (
    IDs,
    ValidatorWith,
    end_delivery,
    record_traffic,
    reporter,
    with_validator,
)
from tests.late_mls import fail_after_sending, hold_mls
from tests.reporting_month import MONTH

MADE = datetime(2026, 12, 2, tzinfo=UTC)
LATER = datetime(2026, 12, 5, 8, tzinfo=UTC)


def _queued_tsr(store: SQLDocumentStore, engine: ValidationEngine, ids: IDs) -> tuple[str, str]:
    """The month's reports made and queued: the TSR's id and its outbound document's."""
    record_traffic(store)
    tsr = reporter(store, engine, MADE, ids=ids).create(MONTH)[0]
    assert tsr.outbound_document_id is not None
    return tsr.id, tsr.outbound_document_id


def _report_documents(store: SQLDocumentStore) -> list[str]:
    with store.unit_of_work(read_only=True) as uow:
        return uow.reporting.report_documents(MONTH, ReportKind.TSR)


def test_a_report_failed_on_a_timeout_but_answered_by_an_mls_is_not_sent_again(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    ids = IDs()
    tsr_id, first = _queued_tsr(store, validation_engine, ids)
    fail_after_sending(store, first)
    hold_mls(store, first, MLSCode.ACCEPTED, inbound_id="00000000-0000-4000-a000-000000000001")

    later = reporter(store, validation_engine, LATER, ids=ids)
    with pytest.raises(ReportAlreadyReceived, match="answered with an MLS AP") as refused:
        later.remake(tsr_id)
    assert refused.value.document_id == first
    with pytest.raises(ReportRemakeRefused, match="MLS AP"):
        later.remake_month(MONTH, (ReportKind.TSR,))
    assert _report_documents(store) == [first]  # nothing more queued
    view = get_report(store, tsr_id)
    assert [(t.document.id, t.state, t.late_mls) for t in view.transmissions] == [
        (first, TransmissionState.RECEIVED, ("AP",))
    ]
    assert view.refusal is not None


def test_an_earlier_transmission_received_late_stops_a_second_remake(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # A failed and is remade as B (no evidence then); B fails too; A's MLS then turns up. The row links B
    # only, yet A is found among the report's transmissions and the remake is refused.
    ids = IDs()
    tsr_id, first = _queued_tsr(store, validation_engine, ids)
    fail_after_sending(store, first)
    second = reporter(store, validation_engine, LATER, ids=ids).remake(tsr_id).outbound_document_id
    assert second is not None
    fail_after_sending(store, second)
    hold_mls(store, first, MLSCode.ACKNOWLEDGED, inbound_id="00000000-0000-4000-a000-000000000002")

    with pytest.raises(ReportAlreadyReceived, match=r"TSR-2026-11, failed, but its receiver answered"):
        reporter(store, validation_engine, datetime(2026, 12, 6, tzinfo=UTC), ids=ids).remake(tsr_id)
    assert _report_documents(store) == [first, second]
    with store.unit_of_work(read_only=True) as uow:
        documents = [uow.outbound.get(i) for i in (first, second)]
    assert [d.document_number for d in documents if d] == [
        "TSR-2026-11",
        "TSR-2026-11-remade-20261205T080000Z",
    ]
    assert all(d is not None and d.kind is DocumentKind.PEPPOL_REPORT for d in documents)


def test_an_earlier_transmission_delivered_after_it_failed_stops_the_remake(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # A failed, was remade as B (remade invalid now: the row links nothing), and A went delivered after
    # all (its support retry, requested before the remake, found the receipt): the month is not sent again.
    ids = IDs()
    tsr_id, first = _queued_tsr(store, validation_engine, ids)
    fail_after_sending(store, first)
    with store.unit_of_work() as uow:
        for event in (
            DeliveryEvent.RETRY_REQUESTED,
            DeliveryEvent.SEND_STARTED,
            DeliveryEvent.RECEIPT_RECEIVED,
        ):
            uow.outbound.transition(first, event, at=datetime(2026, 12, 4, tzinfo=UTC), reason="test")
        report = uow.reporting.get_report(tsr_id)
        assert report is not None
        invalid = replace(
            report,
            status=ReportStatus.INVALID,
            outbound_document_id=None,
            validation_report={"valid": False, "issues": []},
            created_at=datetime(2026, 12, 4, 1, tzinfo=UTC),
        )
        assert uow.reporting.replace_report(invalid, was=report)
        uow.commit()

    with pytest.raises(ReportAlreadyReceived, match=r"was received \(outbound document .*, delivered\)"):
        reporter(store, validation_engine, LATER, ids=ids).remake(tsr_id)
    assert _report_documents(store) == [first]


def test_an_earlier_transmission_in_flight_stops_the_remake(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    ids = IDs()
    tsr_id, first = _queued_tsr(store, validation_engine, ids)
    fail_after_sending(store, first)
    second = reporter(store, validation_engine, LATER, ids=ids).remake(tsr_id).outbound_document_id
    assert second is not None
    end_delivery(store, second, DeliveryEvent.PERMANENT_FAILURE)
    # The earlier one brought back to retrying (as a retry racing an old remake could leave it).
    with store.unit_of_work() as uow:
        uow.outbound.transition(first, DeliveryEvent.RETRY_REQUESTED, at=LATER, reason="test")
        uow.commit()
    with pytest.raises(
        ReportTransmissionInFlight, match=r"in flight \(outbound document .*TSR-2026-11, retrying"
    ):
        reporter(store, validation_engine, datetime(2026, 12, 6, tzinfo=UTC), ids=ids).remake(tsr_id)


def test_a_report_refused_by_an_mls_or_never_received_is_remade(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # A: failed, and the receiving AP's MLS RE came late (received, refused): a remake is the remedy.
    # B: failed with no evidence at all (never received): remade again, and the history keeps all three.
    ids = IDs()
    tsr_id, first = _queued_tsr(store, validation_engine, ids)
    fail_after_sending(store, first)
    hold_mls(store, first, MLSCode.REJECTED, inbound_id="00000000-0000-4000-a000-000000000003")
    second = reporter(store, validation_engine, LATER, ids=ids).remake(tsr_id).outbound_document_id
    assert second is not None
    fail_after_sending(store, second)
    third = reporter(store, validation_engine, datetime(2026, 12, 6, tzinfo=UTC), ids=ids).remake(tsr_id)
    assert third.status is ReportStatus.QUEUED
    assert _report_documents(store) == [first, second, third.outbound_document_id]
    [view] = [v for v in list_reports(store, limit=10) if v.report.id == tsr_id]
    assert [(t.state, t.document.status) for t in view.transmissions] == [
        (TransmissionState.REFUSED, DeliveryStatus.FAILED),
        (TransmissionState.NOT_RECEIVED, DeliveryStatus.FAILED),
        (TransmissionState.IN_FLIGHT, DeliveryStatus.ACCEPTED),
    ]
    assert view.delivery is not None
    assert view.delivery.id == third.outbound_document_id


def test_report_documents_are_the_reports_own_and_none_of_another_month_or_kind(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    ids = IDs()
    _tsr_id, first = _queued_tsr(store, validation_engine, ids)
    with store.unit_of_work(read_only=True) as uow:
        eusr = uow.reporting.find_report(MONTH, ReportKind.EUSR)
        assert eusr is not None
        assert uow.reporting.report_documents(MONTH, ReportKind.EUSR) == [eusr.outbound_document_id]
        assert uow.reporting.report_documents(MONTH.previous(), ReportKind.TSR) == []
        assert uow.reporting.report_documents(MONTH, ReportKind.TSR) == [first]


def test_an_mls_held_while_the_remake_builds_the_report_still_stops_it(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # The remake checks, then builds and validates the new report outside any transaction (seconds of
    # Schematron): an MLS held meanwhile is seen by the check of the unit of work that writes.
    ids = IDs()
    tsr_id, first = _queued_tsr(store, validation_engine, ids)
    fail_after_sending(store, first)

    def mls_comes() -> None:
        hold_mls(store, first, MLSCode.ACCEPTED, inbound_id="00000000-0000-4000-a000-000000000004")

    remaking = with_validator(store, ValidatorWith(validation_engine, ReportKind.TSR, mls_comes), LATER)
    with pytest.raises(ReportAlreadyReceived):
        remaking.remake(tsr_id)
    assert _report_documents(store) == [first]
    with store.unit_of_work(read_only=True) as uow:
        report = uow.reporting.get_report(tsr_id)
    assert report is not None
    assert report.outbound_document_id == first  # the row as it was
