"""Peppol reporting use case (peppol-as4.md §11): build the monthly TSR and EUSR from the recorded
transmissions, validate them with the official rules, store them once per (month, kind), and queue them over
AS4 to OpenPeppol's reporting participant through the normal outbound queue.

"Exactly once" rests on the unique (month, kind) of ``peppol_reports``: the report row and its outbound
document are written in one unit of work, so two workers (or a worker and the CLI) racing on the same month
leave one report and one outbound document; the loser reads the winner's row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from gateway.errors import DuplicateMessage, GatewayError
from gateway.model.identifiers import ParticipantID
from gateway.model.message import DocumentKind
from gateway.model.report import (
    ReportKind,
    ReportMonth,
    ReportStatus,
    StoredReport,
    Transmission,
    end_user_statistics,
    transaction_statistics,
)
from gateway.services.ports import Clock, DocumentStore, DocumentValidator, IDFactory
from gateway.services.responses import QueuedResponse, queue_response
from gateway.ubl.reporting import (
    REPORT_DOCUMENT_TYPES,
    REPORT_RULE_SETS,
    REPORTING_PROCESS,
    build_eusr,
    build_tsr,
)

log = logging.getLogger(__name__)

#: OpenPeppol's reporting participant (peppol-as4.md §11 "Transport").
OPENPEPPOL_REPORTING_RECEIVER: Final = ParticipantID("9925", "be0848934496")
#: Reports for month M are sent between day 1 and day 15 of month M+1 (later ones are not processed).
LAST_SENDING_DAY: Final = 15
#: The scheduler leaves a month's transmissions this long after its end to be recorded before it makes the
#: month's reports, which are never made again: a send is recorded, with the AS4 Timestamp of its stored
#: message, only when its receipt comes - after its retries of the same bytes (about five hours with the
#: default backoff) - and a received message carries its sender's Timestamp. A day still leaves days 2..15.
SETTLING_TIME: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ReporterSettings:
    """How reports are made and sent.

    Attributes:
        reporter_seat: our Seat ID (CN of our AP certificate), the ReporterID.
        sender: the SBDH sender of the reports: a participant id of ours (our SPID ``0242:…``).
        receiver: the reporting participant (OpenPeppol's, or a test receiver).
        send: queue the reports (enabled, and the production stage or a test receiver); else only store.
        webhook_url: status-change webhooks of the outbound documents, as for any other.
    """

    reporter_seat: str
    sender: ParticipantID
    receiver: ParticipantID = OPENPEPPOL_REPORTING_RECEIVER
    send: bool = True
    webhook_url: str | None = None


def due_month(today: date) -> ReportMonth | None:
    """The month whose reports are due ``today`` (the previous month, on days 1..15), else None."""
    if today.day > LAST_SENDING_DAY:
        return None
    return ReportMonth.of(today).previous()


def _utc_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


class PeppolReporter:
    """Creates, stores and queues the monthly reports."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        validator: DocumentValidator,
        clock: Clock,
        ids: IDFactory,
        settings: ReporterSettings,
    ) -> None:
        self._store = store
        self._validator = validator
        self._clock = clock
        self._ids = ids
        self._settings = settings

    def create(self, month: ReportMonth) -> list[StoredReport]:
        """Build, validate, store and (when sending) queue the TSR and EUSR of ``month``.

        A report already stored for (month, kind) is kept as it is: the call is idempotent.

        Returns:
            The TSR and the EUSR of the month as stored.

        Raises:
            GatewayError: ``month`` is not over, or ended less than ``SETTLING_TIME`` ago (its reports would
                lack its last transmissions, and are never made again).
        """
        ready = _utc_start(month.next().start) + SETTLING_TIME
        if self._clock.now() < ready:
            raise GatewayError(
                f"the reports of {month} are made from {ready.isoformat(timespec='minutes')}, a day after its"
                " end: its last sends are recorded when their receipts come, and a report is never made again"
            )
        with self._store.unit_of_work(read_only=True) as uow:
            missing = [kind for kind in ReportKind if uow.reporting.find_report(month, kind) is None]
            rows = (
                uow.reporting.transmissions(_utc_start(month.start), _utc_start(month.next().start))
                if missing
                else []
            )
        for kind in missing:
            self._create_one(month, kind, rows)
        with self._store.unit_of_work(read_only=True) as uow:
            found = [uow.reporting.find_report(month, kind) for kind in ReportKind]
        return [report for report in found if report is not None]

    def run_scheduled(self) -> list[StoredReport]:
        """The scheduler's step: create the reports of the due month unless both exist (then do nothing), from
        ``SETTLING_TIME`` after the month's end."""
        now = self._clock.now().astimezone(UTC)
        month = due_month(now.date())
        if month is None or now - _utc_start(month.next().start) < SETTLING_TIME:
            return []
        with self._store.unit_of_work(read_only=True) as uow:
            done = all(uow.reporting.find_report(month, kind) is not None for kind in ReportKind)
        return [] if done else self.create(month)

    def _create_one(self, month: ReportMonth, kind: ReportKind, rows: list[Transmission]) -> None:
        seat = self._settings.reporter_seat
        builders: dict[ReportKind, Callable[[], bytes]] = {
            ReportKind.TSR: lambda: build_tsr(transaction_statistics(month, seat, rows)),
            ReportKind.EUSR: lambda: build_eusr(end_user_statistics(month, seat, rows)),
        }
        xml = builders[kind]()
        # Validated outside any transaction (Schematron takes time; SQLite's write lock is not held).
        report = self._validator.validate(xml, rule_set=REPORT_RULE_SETS[kind])
        now = self._clock.now()
        stored = StoredReport(
            id=self._ids.new_id(),
            month=month,
            kind=kind,
            xml=xml,
            validation_report=report.to_dict(),
            status=ReportStatus.STORED if report.valid else ReportStatus.INVALID,
            created_at=now,
        )
        with self._store.unit_of_work() as uow:
            try:
                uow.reporting.add_report(stored)
            except DuplicateMessage:
                log.info("%s of %s: already stored by another process", kind.value, month)
                return
            if report.valid and self._settings.send:
                document_id = queue_response(
                    uow,
                    QueuedResponse(
                        kind=DocumentKind.PEPPOL_REPORT,
                        number=f"{kind.value.upper()}-{month}",
                        sender=self._settings.sender,
                        receiver=self._settings.receiver,
                        document_type=REPORT_DOCUMENT_TYPES[kind],
                        process=REPORTING_PROCESS,
                        body=xml,
                        report=report.to_dict(),
                    ),
                    ids=self._ids,
                    at=now,
                    webhook_url=self._settings.webhook_url,
                )
                uow.reporting.set_queued(stored.id, document_id)
            uow.commit()
        if not report.valid:
            rules = sorted({f.rule for f in report.fatal})
            log.error(
                "%s of %s is invalid under the official rules (%s): stored, not sent", kind, month, rules
            )
        else:
            log.info("%s of %s stored%s", kind.value, month, " and queued" if self._settings.send else "")
