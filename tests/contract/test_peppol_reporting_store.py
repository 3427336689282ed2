"""Peppol reporting on a real database (SQLite and PostgreSQL): the recorded transmissions of a synthetic
month give the hand-computed reports; ``create`` and the scheduler store and queue each (month, kind)
exactly once, also when two workers race on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.errors import DocumentNotFound, GatewayError, ReportRemakeRefused, ReportSuperseded, StoreError
from gateway.model.identifiers import ParticipantID
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport, Transmission
from gateway.services.outbound import OutboundSubmitter
from gateway.services.reporting import PeppolReporter, ReporterSettings, due_month
from gateway.store import SQLDocumentStore
from gateway.store.reporting import SQLReportingRepository
from gateway.ubl.reporting import EUSR_DOCUMENT_TYPE, REPORT_RULE_SETS, REPORTING_PROCESS, TSR_DOCUMENT_TYPE
from gateway.validation import ValidationEngine, ValidationReport
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


def record(store: SQLDocumentStore, *transmissions: Transmission) -> None:
    with store.unit_of_work() as uow:
        for t in transmissions:
            uow.reporting.record(t)
        uow.commit()


def record_traffic(store: SQLDocumentStore) -> None:
    record(store, *TRAFFIC, TRAFFIC[0])  # a second record of one message is ignored


def stored_tsr(store: SQLDocumentStore) -> StoredReport:
    with store.unit_of_work(read_only=True) as uow:
        tsr = uow.reporting.find_report(MONTH, ReportKind.TSR)
    assert tsr is not None
    return tsr


def test_a_transmission_recorded_again_keeps_its_first_record(store: SQLDocumentStore) -> None:
    first = TRAFFIC[0]
    record(store, first)
    record(  # the same message and direction, other facts: ignored, no error
        store,
        replace(first, other_seat="POP999999", c1_country="NL"),
        replace(first, at=first.at.replace(year=first.at.year - 1)),
    )
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
    record(store, late)
    reporter(store, validation_engine, datetime(2026, 12, 2, 0, 5, tzinfo=UTC)).run_scheduled()
    assert b"<Outgoing>4</Outgoing>" in stored_tsr(store).xml


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
    record(store, late)
    for day in (1, 2):
        reporter(store, validation_engine, datetime(2026, 12, day, 12, 5, tzinfo=UTC)).run_scheduled()
    assert b"<Outgoing>4</Outgoing>" in stored_tsr(store).xml


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


def stored_invalid(store: SQLDocumentStore, kind: ReportKind, *, at: datetime) -> StoredReport:
    """A report of ``MONTH`` stored ``invalid`` by an earlier release (its rows or code then wrong)."""
    report = StoredReport(
        id=f"00000000-0000-4000-9000-00000000000{len(kind)}",
        month=MONTH,
        kind=kind,
        xml=b"<broken/>",
        validation_report={"valid": False, "issues": [{"rule": "SCH-TSR-20", "severity": "fatal"}]},
        status=ReportStatus.INVALID,
        created_at=at,
    )
    with store.unit_of_work() as uow:
        uow.reporting.add_report(report)
        uow.commit()
    return report


def end_delivery(store: SQLDocumentStore, document_id: str, *events: DeliveryEvent) -> None:
    with store.unit_of_work() as uow:
        for event in events:
            uow.outbound.transition(document_id, event, at=datetime(2026, 12, 3, tzinfo=UTC), reason="test")
        uow.commit()


def test_an_invalid_report_is_remade_in_place_and_queued(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    old = stored_invalid(store, ReportKind.TSR, at=datetime(2026, 12, 2, tzinfo=UTC))
    later = datetime(2026, 12, 4, tzinfo=UTC)
    remade = reporter(store, validation_engine, later).remake(old.id)
    assert remade.id == old.id  # the unique (month, kind) row, updated in place
    assert remade.status is ReportStatus.QUEUED
    assert remade.validation_report["valid"] is True
    assert b"<Outgoing>3</Outgoing>" in remade.xml
    assert remade.created_at == later
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.get_report(old.id) == remade
        document = uow.outbound.get(remade.outbound_document_id or "")
        assert len(uow.reporting.list_reports()) == 1
    assert document is not None
    assert document.document_number == "TSR-2026-11"
    assert document.status is DeliveryStatus.ACCEPTED


def test_a_report_whose_delivery_failed_is_remade_and_the_failed_document_is_kept(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    ids = IDs()
    made = reporter(store, validation_engine, datetime(2026, 12, 2, tzinfo=UTC), ids=ids).create(MONTH)
    failed_id = made[1].outbound_document_id or ""
    end_delivery(store, failed_id, DeliveryEvent.PERMANENT_FAILURE)
    remade = reporter(store, validation_engine, datetime(2026, 12, 5, 8, tzinfo=UTC), ids=ids).remake_month(
        MONTH
    )
    assert [(r.kind, r.id) for r in remade.remade] == [(ReportKind.EUSR, made[1].id)]
    assert [kind for kind, _ in remade.kept] == [ReportKind.TSR]
    assert "in flight" in remade.kept[0][1]
    eusr = remade.remade[0]
    assert eusr.status is ReportStatus.QUEUED
    assert eusr.outbound_document_id not in (None, failed_id)
    with store.unit_of_work(read_only=True) as uow:
        failed = uow.outbound.get(failed_id)
        new = uow.outbound.get(eusr.outbound_document_id or "")
        jobs = uow.jobs.get(eusr.outbound_document_id or "")
    assert failed is not None
    assert failed.status is DeliveryStatus.FAILED  # the evidence stays
    assert new is not None
    assert new.status is DeliveryStatus.ACCEPTED
    assert jobs is not None
    assert new.document_number == "EUSR-2026-11-remade-20261205T080000Z"


def test_remake_refuses_a_report_stored_by_design_in_flight_or_delivered(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    at = datetime(2026, 12, 2, tzinfo=UTC)
    ids = IDs()
    made = reporter(store, validation_engine, at, ids=ids).create(MONTH)
    tsr, eusr = made
    end_delivery(
        store, tsr.outbound_document_id or "", DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED
    )
    later = reporter(store, validation_engine, datetime(2026, 12, 3, tzinfo=UTC), ids=ids)
    with pytest.raises(ReportRemakeRefused, match="delivered"):
        later.remake(tsr.id)
    with pytest.raises(ReportRemakeRefused, match="in flight"):
        later.remake(eusr.id)
    with pytest.raises(ReportRemakeRefused, match=r"no report of 2026-11 may be remade"):
        later.remake_month(MONTH)
    with pytest.raises(DocumentNotFound):
        later.remake("00000000-0000-4000-8000-999999999999")
    stored = reporter(store, validation_engine, at, send=False).create(ReportMonth(2026, 10))
    with pytest.raises(ReportRemakeRefused, match="not sent by design"):
        later.remake(stored[0].id)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.get_report(tsr.id) == tsr
        assert uow.reporting.get_report(stored[0].id) == stored[0]


def test_the_scheduler_remakes_an_invalid_report_of_the_due_month_at_most_once_a_day(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    old = stored_invalid(store, ReportKind.TSR, at=datetime(2026, 12, 2, 0, 5, tzinfo=UTC))
    broken = IDs()
    # The same day it was made: the EUSR is made, the invalid TSR kept (no remake loop within a day).
    first = reporter(
        store, validation_engine, datetime(2026, 12, 2, 9, tzinfo=UTC), ids=broken
    ).run_scheduled()
    assert [r.kind for r in first] == [ReportKind.EUSR]
    # The next day (e.g. after an update fixed the cause): remade once, then left alone.
    next_day = datetime(2026, 12, 3, 1, tzinfo=UTC)
    remade = reporter(store, validation_engine, next_day, ids=broken).run_scheduled()
    assert [(r.id, r.status) for r in remade] == [(old.id, ReportStatus.QUEUED)]
    assert (
        reporter(store, validation_engine, datetime(2026, 12, 4, tzinfo=UTC), ids=broken).run_scheduled()
        == []
    )
    with store.unit_of_work(read_only=True) as uow:
        assert len(uow.reporting.list_reports()) == 2


def test_the_scheduler_leaves_an_invalid_report_outside_the_sending_window(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    old = stored_invalid(store, ReportKind.TSR, at=datetime(2026, 12, 2, tzinfo=UTC))
    stored_invalid(store, ReportKind.EUSR, at=datetime(2026, 12, 2, tzinfo=UTC))
    assert reporter(store, validation_engine, datetime(2026, 12, 16, tzinfo=UTC)).run_scheduled() == []
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.get_report(old.id) == old


def failed_tsr(store: SQLDocumentStore, engine: ValidationEngine, ids: IDs) -> tuple[StoredReport, str]:
    """The month's reports made and queued; the TSR's delivery then ended failed (its document's id)."""
    record_traffic(store)
    tsr = reporter(store, engine, datetime(2026, 12, 2, tzinfo=UTC), ids=ids).create(MONTH)[0]
    failed_id = tsr.outbound_document_id or ""
    end_delivery(store, failed_id, DeliveryEvent.PERMANENT_FAILURE)
    return tsr, failed_id


def test_a_report_remade_invalid_after_a_failed_delivery_is_queued_under_a_new_number_when_remade_again(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    ids = IDs()
    tsr, failed_id = failed_tsr(store, validation_engine, ids)
    # Remade once and found invalid (the row then links no document; the failed TSR-2026-11 stays).
    invalid = StoredReport(
        id=tsr.id,
        month=MONTH,
        kind=ReportKind.TSR,
        xml=b"<broken/>",
        validation_report={"valid": False, "issues": [{"rule": "SCH-TSR-20", "severity": "fatal"}]},
        status=ReportStatus.INVALID,
        created_at=datetime(2026, 12, 3, tzinfo=UTC),
    )
    with store.unit_of_work() as uow:
        assert uow.reporting.replace_report(invalid, was=tsr)
        uow.commit()
    remade = reporter(store, validation_engine, datetime(2026, 12, 4, 8, tzinfo=UTC), ids=ids).remake(tsr.id)
    assert remade.status is ReportStatus.QUEUED
    with store.unit_of_work(read_only=True) as uow:
        failed = uow.outbound.get(failed_id)
        new = uow.outbound.get(remade.outbound_document_id or "")
    assert failed is not None
    assert failed.document_number == "TSR-2026-11"
    assert new is not None
    assert new.document_number == "TSR-2026-11-remade-20261204T080000Z"


def test_a_retry_of_the_failed_document_racing_a_remake_never_leaves_both_to_send(
    store: SQLDocumentStore, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry asked while the remake's unit of work runs (after its check, before it rewrites the row):
    either the retry waits and is refused as superseded, or the remake is refused - never the old document
    retrying and a new one queued (on PostgreSQL, both read the other's row unlocked: write skew)."""
    ids = IDs()
    tsr, failed_id = failed_tsr(store, validation_engine, ids)
    submitter = OutboundSubmitter(
        store=store,
        validation=validation_engine,
        clock=Clock(datetime(2026, 12, 4, tzinfo=UTC)),
        ids=ids,
        seller_id=str(SENDER),
    )
    outcome: list[object] = []
    rivals: list[threading.Thread] = []

    def retry() -> None:
        try:
            outcome.append(submitter.request_retry(failed_id, requested_by="ops"))
        except Exception as exc:  # the outcome is asserted below
            outcome.append(exc)

    original = SQLReportingRepository.replace_report

    def racing(self: SQLReportingRepository, report: StoredReport, *, was: StoredReport) -> bool:
        rival = threading.Thread(target=retry)
        rivals.append(rival)
        rival.start()
        rival.join(timeout=1.0)  # done: it did not wait for this unit of work; else it waits for its end
        return original(self, report, was=was)

    monkeypatch.setattr(SQLReportingRepository, "replace_report", racing)
    later = reporter(store, validation_engine, datetime(2026, 12, 4, tzinfo=UTC), ids=ids)
    try:
        remade: StoredReport | None = later.remake(tsr.id)
    except ReportRemakeRefused:
        remade = None
    for rival in rivals:
        rival.join(timeout=10)
    assert len(outcome) == 1
    retried = not isinstance(outcome[0], Exception)
    if remade is not None:
        assert isinstance(outcome[0], ReportSuperseded)
    else:
        assert retried
    with store.unit_of_work(read_only=True) as uow:
        failed = uow.outbound.get(failed_id)
        current = uow.reporting.get_report(tsr.id)
    assert failed is not None
    assert current is not None
    assert (failed.status is not DeliveryStatus.FAILED) == retried
    assert (current.outbound_document_id == failed_id) == retried


def test_replace_report_changes_nothing_when_the_row_was_remade_meanwhile(store: SQLDocumentStore) -> None:
    """Two remakes of one report read the same row: the second finds it no longer as it read it (here both
    remakes stay invalid, so only the time tells them apart) and changes nothing."""
    old = stored_invalid(store, ReportKind.TSR, at=datetime(2026, 12, 2, tzinfo=UTC))
    first = replace(old, xml=b"<first/>", created_at=datetime(2026, 12, 3, tzinfo=UTC))
    second = replace(old, xml=b"<second/>", created_at=datetime(2026, 12, 3, 0, 0, 1, tzinfo=UTC))
    with store.unit_of_work() as uow:
        assert uow.reporting.replace_report(first, was=old)
        uow.commit()
    with store.unit_of_work() as uow:
        assert not uow.reporting.replace_report(second, was=old)
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.get_report(old.id) == first


class ValidatorWith:
    """The engine, with ``before`` run when a report of ``kind`` is validated (in a remake: after its row was
    read, before it is written)."""

    def __init__(self, engine: ValidationEngine, kind: ReportKind, before: Callable[[], None]) -> None:
        self._engine = engine
        self._rule_set = REPORT_RULE_SETS[kind]
        self._before = before

    def validate(self, xml: bytes, *, rule_set: str | None = None) -> ValidationReport:
        if rule_set == self._rule_set:
            self._before()
        return self._engine.validate(xml, rule_set=rule_set)


def with_validator(store: SQLDocumentStore, validator: ValidatorWith, at: datetime) -> PeppolReporter:
    return PeppolReporter(
        store=store,
        validator=validator,
        clock=Clock(at),
        ids=IDs(),
        settings=ReporterSettings(reporter_seat=SEAT, sender=SENDER, receiver=RECEIVER, send=True),
    )


def test_the_scheduler_still_remakes_one_kind_when_the_other_fails(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    stored_invalid(store, ReportKind.TSR, at=datetime(2026, 12, 2, tzinfo=UTC))
    eusr = stored_invalid(store, ReportKind.EUSR, at=datetime(2026, 12, 2, tzinfo=UTC))

    def store_down() -> None:
        raise StoreError("database unavailable")

    validator = ValidatorWith(validation_engine, ReportKind.TSR, store_down)
    remade = with_validator(store, validator, datetime(2026, 12, 3, tzinfo=UTC)).run_scheduled()
    assert [(r.id, r.status) for r in remade] == [(eusr.id, ReportStatus.QUEUED)]


def test_remake_month_remakes_the_other_kind_when_one_is_remade_meanwhile(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    record_traffic(store)
    tsr = stored_invalid(store, ReportKind.TSR, at=datetime(2026, 12, 2, tzinfo=UTC))
    eusr = stored_invalid(store, ReportKind.EUSR, at=datetime(2026, 12, 2, tzinfo=UTC))

    def another_process_remakes_the_tsr() -> None:
        with store.unit_of_work() as uow:
            assert uow.reporting.replace_report(
                replace(tsr, created_at=datetime(2026, 12, 3, 1, tzinfo=UTC)), was=tsr
            )
            uow.commit()

    validator = ValidatorWith(validation_engine, ReportKind.TSR, another_process_remakes_the_tsr)
    outcome = with_validator(store, validator, datetime(2026, 12, 3, 2, tzinfo=UTC)).remake_month(MONTH)
    assert [(r.id, r.status) for r in outcome.remade] == [(eusr.id, ReportStatus.QUEUED)]
    assert [kind for kind, _ in outcome.kept] == [ReportKind.TSR]
    assert "remade by another process meanwhile" in outcome.kept[0][1]


@pytest.mark.parametrize("failing", list(ReportKind))
def test_remake_month_tries_each_kind_and_returns_what_it_remade_when_one_fails(
    store: SQLDocumentStore, validation_engine: ValidationEngine, failing: ReportKind
) -> None:
    # A failure other than a refusal (the database unavailable) on one kind: the other is still remade, and
    # one remade (committed) before it is in the answer; the failed one is named, left as it was stored.
    record_traffic(store)
    stored = {kind: stored_invalid(store, kind, at=datetime(2026, 12, 2, tzinfo=UTC)) for kind in ReportKind}

    def store_down() -> None:
        raise StoreError("database unavailable")

    validator = ValidatorWith(validation_engine, failing, store_down)
    outcome = with_validator(store, validator, datetime(2026, 12, 3, 2, tzinfo=UTC)).remake_month(MONTH)
    other = next(kind for kind in ReportKind if kind is not failing)
    assert [(r.id, r.status) for r in outcome.remade] == [(stored[other].id, ReportStatus.QUEUED)]
    assert outcome.kept == []
    assert outcome.failed == [(failing, "database unavailable")]
    with store.unit_of_work(read_only=True) as uow:
        assert uow.reporting.get_report(stored[failing].id) == stored[failing]


def test_remake_month_answers_its_failures_when_every_kind_fails(
    store: SQLDocumentStore, validation_engine: ValidationEngine
) -> None:
    # Not a refusal ("no report may be remade"): both may be remade, and both failed.
    record_traffic(store)
    for kind in ReportKind:
        stored_invalid(store, kind, at=datetime(2026, 12, 2, tzinfo=UTC))

    class BothDown(ValidatorWith):
        def validate(self, xml: bytes, *, rule_set: str | None = None) -> ValidationReport:
            raise StoreError("database unavailable")

    validator = BothDown(validation_engine, ReportKind.TSR, lambda: None)
    outcome = with_validator(store, validator, datetime(2026, 12, 3, 2, tzinfo=UTC)).remake_month(MONTH)
    assert outcome.remade == []
    assert [kind for kind, _ in outcome.failed] == list(ReportKind)
