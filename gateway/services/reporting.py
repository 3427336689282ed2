"""Peppol reporting use case (peppol-as4.md §11): build the monthly TSR and EUSR from the recorded
transmissions, validate them with the official rules, store them once per (month, kind), and queue them over
AS4 to OpenPeppol's reporting participant through the normal outbound queue.

"Exactly once" rests on the unique (month, kind) of ``peppol_reports``: the report row and its outbound
document are written in one unit of work, so two workers (or a worker and the CLI) racing on the same month
leave one report and one outbound document; the loser reads the winner's row.

A report the network never took - stored ``invalid`` (never sent), or whose every transmission ended
``failed`` without evidence of receipt or ``rejected`` - may be remade (``remake``, ``remake_month``): its
row is rebuilt in place from the month's records as they are now, validated again and, when valid, queued
as a new outbound document (the one that failed stays, with its timeline). One stored by design (not sent),
or with a transmission in flight or in fact received (``report_transmissions``: every outbound document sent
for it counts, not only the one its row links now) is never remade.
The scheduler remakes an ``invalid`` report of the due month by itself, at most once a day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final

from gateway.errors import (
    DocumentNotFound,
    DuplicateMessage,
    GatewayError,
    ReportAlreadyReceived,
    ReportRemakeRefused,
    ReportTransmissionInFlight,
)
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
from gateway.services.ports import Clock, DocumentStore, DocumentValidator, IDFactory, UnitOfWork
from gateway.services.report_transmissions import (
    RefusalCode,
    RemakeRefusal,
    ReportTransmission,
    remake_refusal,
    report_transmissions,
)
from gateway.services.responses import QueuedResponse, queue_response
from gateway.ubl.reporting import (
    REPORT_DOCUMENT_TYPES,
    REPORT_RULE_SETS,
    REPORTING_PROCESS,
    build_eusr,
    build_tsr,
)

if TYPE_CHECKING:
    from gateway.validation import ValidationReport

log = logging.getLogger(__name__)

#: OpenPeppol's reporting participant (peppol-as4.md §11 "Transport").
OPENPEPPOL_REPORTING_RECEIVER: Final = ParticipantID("9925", "be0848934496")
#: Reports for month M are sent between day 1 and day 15 of month M+1 (later ones are not processed).
LAST_SENDING_DAY: Final = 15
#: The scheduler leaves a month's transmissions this long after its end to be recorded before it makes the
#: month's reports, which are never made again once sent: a send is recorded, with the AS4 Timestamp of its
#: stored message, only when its receipt comes - after its retries of the same bytes (about five hours with
#: the default backoff) - and a received message carries its sender's Timestamp. A day still leaves days
#: 2..15.
SETTLING_TIME: Final = timedelta(days=1)


def refused(refusal: RemakeRefusal) -> ReportRemakeRefused:
    """The error of a refused remake: its class names the reason (the API's problem type follows it)."""
    errors: dict[RefusalCode, type[ReportRemakeRefused]] = {
        RefusalCode.RECEIVED: ReportAlreadyReceived,
        RefusalCode.IN_FLIGHT: ReportTransmissionInFlight,
    }
    stops = refusal.transmission.document.id if refusal.transmission is not None else None
    return errors.get(refusal.code, ReportRemakeRefused)(refusal.reason, stops, refusal.code)


@dataclass(frozen=True, slots=True)
class RemakeOutcome:
    """What ``PeppolReporter.remake_month`` did.

    Attributes:
        remade: the reports remade, as now stored.
        kept: the month's other kinds that may not be remade, and why each was kept as it is.
        failed: the kinds whose remake failed (a ``GatewayError`` other than a refusal: the database
            unavailable, ...), and the error; each was left as it was stored, to be tried again.
    """

    remade: list[StoredReport]
    kept: list[tuple[ReportKind, str]]
    failed: list[tuple[ReportKind, str]] = field(default_factory=list)


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

        A report already stored for (month, kind) is kept as it is: the call is idempotent (``remake``
        rebuilds one the network never took).

        Returns:
            The TSR and the EUSR of the month as stored.

        Raises:
            GatewayError: ``month`` is not over, or ended less than ``SETTLING_TIME`` ago (its reports would
                lack its last transmissions, and a sent report is never made again).
        """
        ready = _utc_start(month.next().start) + SETTLING_TIME
        if self._clock.now() < ready:
            raise GatewayError(
                f"the reports of {month} are made from {ready.isoformat(timespec='minutes')}, a day after its"
                " end: its last sends are recorded when their receipts come, and a sent report is never made"
                " again"
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
        """The scheduler's step, from ``SETTLING_TIME`` after the due month's end until day 15: create the
        month's missing reports, and remake its ``invalid`` ones (never sent: an update may have fixed the
        cause) made before today (UTC), so that one staying invalid is remade at most once a day.

        Returns:
            The reports created or remade now (none when nothing was to do).
        """
        now = self._clock.now().astimezone(UTC)
        month = due_month(now.date())
        if month is None or now - _utc_start(month.next().start) < SETTLING_TIME:
            return []
        with self._store.unit_of_work(read_only=True) as uow:
            found = {kind: uow.reporting.find_report(month, kind) for kind in ReportKind}
        done: list[StoredReport] = []
        if any(report is None for report in found.values()):
            done = [r for r in self.create(month) if found[r.kind] is None]
        for report in found.values():
            if (
                report is not None
                and report.status is ReportStatus.INVALID
                and report.created_at.astimezone(UTC).date() < now.date()
            ):
                try:
                    done.append(self.remake(report.id))
                except ReportRemakeRefused as exc:  # another process remade it meanwhile
                    log.info("%s", exc)
                except GatewayError as exc:  # this one only: the other kind is still remade, and what was
                    # made above is still returned; the next look tries again
                    log.error("Peppol reporting: remaking the %s of %s: %s", report.kind.value, month, exc)
        return done

    def remake(self, report_id: str) -> StoredReport:
        """Remake the stored report ``report_id`` in place from its month's records as they are now:
        validated again, stored, and (when valid and sending) queued as a new outbound document.

        Returns:
            The report as now stored.

        Raises:
            DocumentNotFound: no such report.
            ReportRemakeRefused: the report may not be remade (see ``remake_refusal``), or another process
                remade it meanwhile.
        """
        with self._store.unit_of_work(read_only=True) as uow:
            report = uow.reporting.get_report(report_id)
            if report is None:
                raise DocumentNotFound(report_id, "Peppol report")
            refusal = remake_refusal(report, self._transmissions(uow, report))
            if refusal is not None:
                raise refused(refusal)
            rows = uow.reporting.transmissions(
                _utc_start(report.month.start), _utc_start(report.month.next().start)
            )
        return self._remake_one(report, rows)

    def remake_month(
        self, month: ReportMonth, kinds: tuple[ReportKind, ...] = tuple(ReportKind)
    ) -> RemakeOutcome:
        """Remake the reports of ``month`` (of ``kinds``) that may be remade; keep the others.

        Each kind is tried, as ``run_scheduled`` does: a remake failing otherwise than by a refusal (a
        ``GatewayError``: the database unavailable, ...) is among ``failed``, and neither stops the other
        kind's remake nor drops one already made (committed) from the answer.

        Raises:
            ReportRemakeRefused: none of them may be remade (the message says why for each) and none failed.
        """
        kept: list[tuple[ReportKind, str]] = []
        remakable: list[tuple[ReportKind, str]] = []
        with self._store.unit_of_work(read_only=True) as uow:
            for kind in kinds:
                report = uow.reporting.find_report(month, kind)
                if report is None:
                    kept.append((kind, f"no {kind.value.upper()} of {month} is stored: create it first"))
                    continue
                refusal = remake_refusal(report, self._transmissions(uow, report))
                if refusal is None:
                    remakable.append((kind, report.id))
                else:
                    kept.append((kind, refusal.reason))
        remade: list[StoredReport] = []
        failed: list[tuple[ReportKind, str]] = []
        for kind, report_id in remakable:
            try:
                remade.append(self.remake(report_id))
            except ReportRemakeRefused as exc:  # another process remade it (or its delivery moved) meanwhile
                kept.append((kind, exc.reason))
            except GatewayError as exc:  # this kind only: the other is still tried, what was made is returned
                log.error("Peppol reporting: remaking the %s of %s: %s", kind.value, month, exc)
                failed.append((kind, str(exc)))
        if not remade and not failed:
            raise ReportRemakeRefused(
                f"no report of {month} may be remade: " + "; ".join(reason for _, reason in kept)
            )
        return RemakeOutcome(remade, kept, failed)

    def _transmissions(
        self, uow: UnitOfWork, report: StoredReport, *, for_update: bool = False
    ) -> list[ReportTransmission]:
        """Every outbound document sent for ``report`` (``report_transmissions``), the configured receiver's
        included."""
        return report_transmissions(
            uow, report, receivers=(self._settings.receiver.key,), for_update=for_update
        )

    def _build(
        self, month: ReportMonth, kind: ReportKind, rows: list[Transmission]
    ) -> tuple[bytes, ValidationReport]:
        seat = self._settings.reporter_seat
        builders: dict[ReportKind, Callable[[], bytes]] = {
            ReportKind.TSR: lambda: build_tsr(transaction_statistics(month, seat, rows)),
            ReportKind.EUSR: lambda: build_eusr(end_user_statistics(month, seat, rows)),
        }
        xml = builders[kind]()
        # Validated outside any transaction (Schematron takes time; SQLite's write lock is not held).
        return xml, self._validator.validate(xml, rule_set=REPORT_RULE_SETS[kind])

    def _queue(
        self, uow: UnitOfWork, report: StoredReport, validation: ValidationReport, number: str
    ) -> StoredReport:
        """Queue the valid ``report`` as an outbound document numbered ``number`` when sending."""
        if not (validation.valid and self._settings.send):
            return report
        document_id = queue_response(
            uow,
            QueuedResponse(
                kind=DocumentKind.PEPPOL_REPORT,
                number=number,
                sender=self._settings.sender,
                receiver=self._settings.receiver,
                document_type=REPORT_DOCUMENT_TYPES[report.kind],
                process=REPORTING_PROCESS,
                body=report.xml,
                report=validation.to_dict(),
            ),
            ids=self._ids,
            at=report.created_at,
            webhook_url=self._settings.webhook_url,
        )
        uow.reporting.set_queued(report.id, document_id)
        return replace(report, status=ReportStatus.QUEUED, outbound_document_id=document_id)

    def _remake_one(self, old: StoredReport, rows: list[Transmission]) -> StoredReport:
        xml, validation = self._build(old.month, old.kind, rows)
        now = self._clock.now()
        report = replace(
            old,
            xml=xml,
            validation_report=validation.to_dict(),
            status=ReportStatus.STORED if validation.valid else ReportStatus.INVALID,
            created_at=now,
            outbound_document_id=None,
        )
        with self._store.unit_of_work() as uow:
            # Again in this unit of work: a retry of the failed document may have been requested meanwhile,
            # or an MLS about an earlier one held. Every transmission's row is locked until the commit: a
            # retry (``request_retry`` locks it too) waits, then finds it superseded, and so does an answer
            # (``received_answers`` locks it before it holds one); on PostgreSQL each would read the other's
            # rows unlocked.
            refusal = remake_refusal(old, self._transmissions(uow, old, for_update=True))
            if refusal is not None:
                raise refused(refusal)
            # The (sender, type, number) of an outbound document is unique: one that failed keeps its
            # number, the row's own or that of a document an earlier remake left behind (then remade
            # invalid: no link).
            number = f"{old.kind.value.upper()}-{old.month}"
            if uow.outbound.find_by_number(
                str(self._settings.sender), number, (REPORT_DOCUMENT_TYPES[old.kind],)
            ):
                number += f"-remade-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            if not uow.reporting.replace_report(report, was=old):
                raise ReportRemakeRefused(
                    f"the {old.kind.value.upper()} of {old.month} was remade by another process meanwhile",
                    code=RefusalCode.REMADE_MEANWHILE,
                )
            report = self._queue(uow, report, validation, number)
            uow.commit()
        self._log_made(report, validation, "remade")
        return report

    def _create_one(self, month: ReportMonth, kind: ReportKind, rows: list[Transmission]) -> None:
        xml, validation = self._build(month, kind, rows)
        stored = StoredReport(
            id=self._ids.new_id(),
            month=month,
            kind=kind,
            xml=xml,
            validation_report=validation.to_dict(),
            status=ReportStatus.STORED if validation.valid else ReportStatus.INVALID,
            created_at=self._clock.now(),
        )
        with self._store.unit_of_work() as uow:
            try:
                uow.reporting.add_report(stored)
            except DuplicateMessage:
                log.info("%s of %s: already stored by another process", kind.value, month)
                return
            stored = self._queue(uow, stored, validation, f"{kind.value.upper()}-{month}")
            uow.commit()
        self._log_made(stored, validation, "stored")

    @staticmethod
    def _log_made(report: StoredReport, validation: ValidationReport, made: str) -> None:
        if not validation.valid:
            rules = sorted({f.rule for f in validation.fatal})
            log.error(
                "%s of %s is invalid under the official rules (%s): %s, not sent",
                report.kind,
                report.month,
                rules,
                made,
            )
        else:
            queued = " and queued" if report.status is ReportStatus.QUEUED else ""
            log.info("%s of %s %s%s", report.kind.value, report.month, made, queued)
