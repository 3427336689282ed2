"""Peppol reporting on a real database (SQLite and PostgreSQL): the recorded transmissions of a synthetic
month give the hand-computed reports; ``create`` and the scheduler store and queue each (month, kind)
exactly once, also when two workers race on PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.errors import GatewayError
from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryStatus, DocumentKind
from gateway.model.report import ReportKind, ReportMonth, ReportStatus
from gateway.services.reporting import PeppolReporter, ReporterSettings, due_month
from gateway.store import SQLDocumentStore
from gateway.ubl.reporting import EUSR_DOCUMENT_TYPE, REPORTING_PROCESS, TSR_DOCUMENT_TYPE
from gateway.validation import ValidationEngine
from tests.reporting_month import MONTH, SEAT, TRAFFIC

RECEIVER = ParticipantID("0208", "0000000097")
SENDER = ParticipantID("0242", "000001")


class Clock:
    def __init__(self, at: datetime) -> None:
        self.current = at

    def now(self) -> datetime:
        return self.current


class IDs:
    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            self._n += 1
            return f"00000000-0000-4000-8000-{self._n:012d}"


def reporter(
    store: SQLDocumentStore,
    engine: ValidationEngine,
    at: datetime,
    *,
    send: bool = True,
    ids: IDs | None = None,
) -> PeppolReporter:
    return PeppolReporter(
        store=store,
        validator=engine,
        clock=Clock(at),
        ids=ids or IDs(),
        settings=ReporterSettings(reporter_seat=SEAT, sender=SENDER, receiver=RECEIVER, send=send),
    )


def record_traffic(store: SQLDocumentStore) -> None:
    with store.unit_of_work() as uow:
        for t in TRAFFIC:
            uow.reporting.record(t)
        uow.reporting.record(TRAFFIC[0])  # a second record of one message is ignored
        uow.commit()


def test_a_transmission_recorded_again_keeps_its_first_record(store: SQLDocumentStore) -> None:
    first = TRAFFIC[0]
    with store.unit_of_work() as uow:
        uow.reporting.record(first)
        uow.commit()
    with store.unit_of_work() as uow:  # the same message and direction, other facts: ignored, no error
        uow.reporting.record(replace(first, other_seat="POP999999", c1_country="NL"))
        uow.reporting.record(replace(first, at=first.at.replace(year=first.at.year - 1)))
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        stored = uow.reporting.transmissions(
            datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
        )
    assert stored == [first]


def test_due_month_is_the_previous_one_on_days_1_to_15() -> None:
    assert due_month(datetime(2026, 12, 1).date()) == MONTH
    assert due_month(datetime(2026, 12, 15).date()) == MONTH
    assert due_month(datetime(2026, 12, 16).date()) is None
    assert due_month(datetime(2027, 1, 3).date()) == ReportMonth(2026, 12)


def test_create_stores_valid_reports_and_queues_them_once(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    made = reporter(store, validation_engine, datetime(2026, 12, 2, tzinfo=UTC)).create(MONTH)
    assert [r.kind for r in made] == [ReportKind.TSR, ReportKind.EUSR]
    assert {r.status for r in made} == {ReportStatus.QUEUED}
    assert all(r.validation_report["valid"] is True for r in made)
    tsr = made[0].xml
    assert b"<Incoming>3</Incoming>" in tsr
    assert b"<Outgoing>3</Outgoing>" in tsr
    assert b"<SendingOrReceivingEndUsers>3</SendingOrReceivingEndUsers>" in made[1].xml
    with store.unit_of_work(read_only=True) as uow:
        documents = [uow.outbound.get(r.outbound_document_id or "") for r in made]
        jobs = [uow.jobs.get(r.outbound_document_id or "") for r in made]
        content = uow.outbound.get_content(made[0].outbound_document_id or "")
    assert all(d is not None and d.kind is DocumentKind.PEPPOL_REPORT for d in documents)
    assert [d.document_type for d in documents if d] == [TSR_DOCUMENT_TYPE, EUSR_DOCUMENT_TYPE]
    assert {(d.receiver, d.sender, d.process, d.status) for d in documents if d} == {
        (RECEIVER, SENDER, REPORTING_PROCESS, DeliveryStatus.ACCEPTED)
    }
    assert all(j is not None for j in jobs)
    assert content is not None
    assert content.body == tsr
    # Idempotent: a second run (CLI or scheduler) keeps what is stored and queues nothing more.
    again = reporter(store, validation_engine, datetime(2026, 12, 3, tzinfo=UTC)).create(MONTH)
    assert [r.id for r in again] == [r.id for r in made]
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.reporting.list_reports()) == 2


def test_an_empty_month_gets_zero_reports_that_are_still_stored(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    made = reporter(store, validation_engine, datetime(2026, 3, 2, tzinfo=UTC), send=False).create(
        ReportMonth(2026, 2)
    )
    assert [r.status for r in made] == [ReportStatus.STORED, ReportStatus.STORED]
    assert b"<Incoming>0</Incoming>" in made[0].xml
    assert all(r.outbound_document_id is None for r in made)


def test_the_scheduler_sends_once_and_only_in_the_window(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    assert reporter(store, validation_engine, datetime(2026, 11, 20, tzinfo=UTC)).run_scheduled() == []
    # Not on the month's first settling day: its last transmissions may still be being recorded.
    assert reporter(store, validation_engine, datetime(2026, 12, 1, 0, 5, tzinfo=UTC)).run_scheduled() == []
    assert reporter(store, validation_engine, datetime(2026, 12, 1, 23, 5, tzinfo=UTC)).run_scheduled() == []
    first = reporter(store, validation_engine, datetime(2026, 12, 2, 0, 5, tzinfo=UTC)).run_scheduled()
    assert [r.month for r in first] == [MONTH, MONTH]
    for day in (1, 2, 15):
        assert (
            reporter(store, validation_engine, datetime(2026, 12, day, 12, tzinfo=UTC)).run_scheduled() == []
        )
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.reporting.list_reports()) == 2


def test_two_workers_racing_make_one_report_per_kind(
    store: SQLDocumentStore, validation_engine: ValidationEngine, backend: str
) -> None:
    record_traffic(store)
    at = datetime(2026, 12, 2, tzinfo=UTC)
    ids = IDs()
    workers = [reporter(store, validation_engine, at, ids=ids) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(w: PeppolReporter) -> None:
        try:
            barrier.wait()
            w.run_scheduled()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with store.unit_of_work(read_only=True) as uow:
        reports = uow.reporting.list_reports()
        queued = [uow.outbound.get(r.outbound_document_id or "") for r in reports]
    assert sorted(r.kind for r in reports) == [ReportKind.EUSR, ReportKind.TSR]
    assert all(d is not None for d in queued)


def test_a_transmission_of_the_months_last_seconds_recorded_after_midnight_is_in_its_report(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # A send built at 23:59:58 on the last day gets its receipt (and so its record) at 00:00:30 on day 1: a
    # scheduler look at 00:00:05 must not freeze the month's reports without it (they are never made again).
    record_traffic(store)
    reporter(store, validation_engine, datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC)).run_scheduled()
    late = replace(TRAFFIC[1], message_id="o-late", at=datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC))
    with store.unit_of_work() as uow:
        uow.reporting.record(late)
        uow.commit()
    reporter(store, validation_engine, datetime(2026, 12, 2, 0, 5, tzinfo=UTC)).run_scheduled()
    with store.unit_of_work(read_only=True) as uow:
        tsr = uow.reporting.find_report(MONTH, ReportKind.TSR)
    assert tsr is not None
    assert b"<Outgoing>4</Outgoing>" in tsr.xml


def test_a_send_of_the_month_retried_into_the_next_morning_is_in_its_report(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # The stored message of a send built at 23:50 on the last day keeps its AS4 Timestamp through its
    # retries (the same bytes are resent); with the default backoff they span about five hours, so its
    # receipt (and record) may come at 05:00 on day 1. The month's reports must not be frozen before then.
    record_traffic(store)
    for hour in (0, 1, 3):
        reporter(store, validation_engine, datetime(2026, 12, 1, hour, 5, tzinfo=UTC)).run_scheduled()
    late = replace(TRAFFIC[1], message_id="o-retried", at=datetime(2026, 11, 30, 23, 50, tzinfo=UTC))
    with store.unit_of_work() as uow:
        uow.reporting.record(late)
        uow.commit()
    for day in (1, 2):
        reporter(store, validation_engine, datetime(2026, 12, day, 12, 5, tzinfo=UTC)).run_scheduled()
    with store.unit_of_work(read_only=True) as uow:
        tsr = uow.reporting.find_report(MONTH, ReportKind.TSR)
    assert tsr is not None
    assert b"<Outgoing>4</Outgoing>" in tsr.xml


def test_a_month_not_over_yet_gets_no_report(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # `gateway reporting create --month` of the running month would store and queue a report of its first
    # days, and the scheduler would then keep that one: the month's later traffic never reported.
    record_traffic(store)
    with pytest.raises(GatewayError, match="the reports of 2026-11 are made from 2026-12-02T00:00"):
        reporter(store, validation_engine, datetime(2026, 11, 30, 23, 59, tzinfo=UTC)).create(MONTH)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.list_reports() == []


def test_a_month_ended_less_than_a_day_ago_gets_no_report_by_hand(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # By hand at 00:30 on day 1, as the scheduler would not: the month's last sends, recorded when their
    # receipts come, would be missing from reports that are never made again.
    record_traffic(store)
    with pytest.raises(GatewayError, match="a day after its end"):
        reporter(store, validation_engine, datetime(2026, 12, 1, 0, 30, tzinfo=UTC)).create(MONTH)
    made = reporter(store, validation_engine, datetime(2026, 12, 2, 0, 0, tzinfo=UTC)).create(MONTH)
    assert {report.kind for report in made} == set(ReportKind)
