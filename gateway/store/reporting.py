"""SQL adapter of the reporting port: tables ``peppol_transmissions`` and ``peppol_reports``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, case, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.model.message import Direction, DocumentKind
from gateway.model.report import (
    ReportKind,
    ReportMonth,
    ReportStatus,
    StoredReport,
    Transmission,
    TransmissionDirection,
)
from gateway.services.ports import SentFacts
from gateway.store.errors import maps_db_errors
from gateway.store.tables import as4_messages, outbound_documents, peppol_reports, peppol_transmissions

#: The stored time of an outgoing message and its document's buyer country, with the UBL only when the
#: country is not stored (rows from before 0012): one round trip, a statement built once, and neither the
#: whole AS4 message nor (normally) the document is read.
_SENT_FACTS = (
    select(
        as4_messages.c.created_at,
        outbound_documents.c.buyer_country,
        case((outbound_documents.c.buyer_country.is_(None), outbound_documents.c.ubl)).label("ubl"),
    )
    .join(outbound_documents, outbound_documents.c.id == as4_messages.c.document_id)
    .where(
        as4_messages.c.message_id == bindparam("message_id"), as4_messages.c.direction == Direction.OUT.value
    )
)


@cache
def _record_statement(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on the primary key (message id, direction), built once per dialect:
    a transmission already counted stays as it was, in one statement (was: a SELECT, then the INSERT)."""
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    t = peppol_transmissions
    return dialect_insert(t).on_conflict_do_nothing(index_elements=[t.c.message_id, t.c.direction])


def _report_from_row(row: Row[Any]) -> StoredReport:
    return StoredReport(
        id=row.id,
        month=ReportMonth.parse(row.month),
        kind=ReportKind(row.kind),
        xml=bytes(row.xml),
        validation_report=dict(row.validation_report),
        status=ReportStatus(row.status),
        created_at=row.created_at,
        outbound_document_id=row.outbound_document_id,
    )


@maps_db_errors("peppol reporting")
class SQLReportingRepository:
    """ReportingRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def sent_facts(self, message_id: str) -> SentFacts | None:
        row = self._conn.execute(_SENT_FACTS, {"message_id": message_id}).first()
        if row is None:
            return None
        ubl = bytes(row.ubl) if row.ubl is not None else None
        return SentFacts(row.created_at, row.buyer_country, ubl)

    def record(self, transmission: Transmission) -> None:
        t = transmission
        self._conn.execute(
            _record_statement(self._conn.dialect.name),
            {
                "message_id": t.message_id,
                "direction": t.direction.value,
                "at": t.at,
                "other_seat": t.other_seat,
                "document_type_scheme": t.document_type_scheme,
                "document_type": t.document_type,
                "process_scheme": t.process_scheme,
                "process": t.process,
                "transport_profile": t.transport_profile,
                "c1_country": t.c1_country,
                "c4_country": t.c4_country,
                "end_user": t.end_user,
            },
        )

    def transmissions(self, since: datetime, until: datetime) -> list[Transmission]:
        c = peppol_transmissions.c
        rows = self._conn.execute(
            select(peppol_transmissions).where(c.at >= since, c.at < until).order_by(c.at, c.message_id)
        )
        return [
            Transmission(
                at=row.at,
                direction=TransmissionDirection(row.direction),
                other_seat=row.other_seat,
                document_type_scheme=row.document_type_scheme,
                document_type=row.document_type,
                process_scheme=row.process_scheme,
                process=row.process,
                transport_profile=row.transport_profile,
                c1_country=row.c1_country,
                c4_country=row.c4_country,
                end_user=row.end_user,
                message_id=row.message_id,
            )
            for row in rows
        ]

    def add_report(self, report: StoredReport) -> None:
        # A savepoint keeps the unit of work usable after a duplicate (month, kind).
        with self._conn.begin_nested():
            self._conn.execute(
                insert(peppol_reports),
                {
                    "id": report.id,
                    "month": str(report.month),
                    "kind": report.kind.value,
                    "xml": report.xml,
                    "validation_report": report.validation_report,
                    "status": report.status.value,
                    "outbound_document_id": report.outbound_document_id,
                    "created_at": report.created_at,
                },
            )

    def replace_report(self, report: StoredReport, *, was: StoredReport) -> bool:
        c = peppol_reports.c
        linked = (
            c.outbound_document_id.is_(None)
            if was.outbound_document_id is None
            else c.outbound_document_id == was.outbound_document_id
        )
        result = self._conn.execute(
            update(peppol_reports)
            .where(c.id == was.id, c.status == was.status.value, c.created_at == was.created_at, linked)
            .values(
                xml=report.xml,
                validation_report=report.validation_report,
                status=report.status.value,
                outbound_document_id=report.outbound_document_id,
                created_at=report.created_at,
            )
        )
        return result.rowcount == 1

    def set_queued(self, report_id: str, outbound_document_id: str) -> None:
        self._conn.execute(
            update(peppol_reports)
            .where(peppol_reports.c.id == report_id)
            .values(status=ReportStatus.QUEUED.value, outbound_document_id=outbound_document_id)
        )

    def report_of_document(self, outbound_document_id: str) -> StoredReport | None:
        c = peppol_reports.c
        row = self._conn.execute(
            select(peppol_reports).where(c.outbound_document_id == outbound_document_id)
        ).first()
        return _report_from_row(row) if row is not None else None

    def report_documents(
        self, month: ReportMonth, kind: ReportKind, *, receivers: Collection[str] = ()
    ) -> list[str]:
        d = outbound_documents.c
        number = f"{kind.value.upper()}-{month}"
        is_report = d.kind == DocumentKind.PEPPOL_REPORT.value
        # The first document of a report carries the bare number: found through the number's index, with
        # the receiver it went to. Every document of the report went to a reporting receiver; read through
        # the receiver's index, the remade numbers (``<number>-remade-<UTC time>``) need no LIKE index.
        keys = set(receivers)
        keys.update(
            self._conn.execute(select(d.receiver_key).where(d.document_number == number, is_report)).scalars()
        )
        if not keys:
            return []
        rows = self._conn.execute(
            select(d.id)
            .where(
                d.receiver_key.in_(sorted(keys)),
                is_report,
                or_(d.document_number == number, d.document_number.like(f"{number}-remade-%")),
            )
            .order_by(d.created_at, d.id)
        )
        return list(rows.scalars())

    def get_report(self, report_id: str) -> StoredReport | None:
        row = self._conn.execute(select(peppol_reports).where(peppol_reports.c.id == report_id)).first()
        return _report_from_row(row) if row is not None else None

    def find_report(self, month: ReportMonth, kind: ReportKind) -> StoredReport | None:
        row = self._conn.execute(
            select(peppol_reports).where(
                peppol_reports.c.month == str(month), peppol_reports.c.kind == kind.value
            )
        ).first()
        return _report_from_row(row) if row is not None else None

    def list_reports(self, *, limit: int = 100) -> list[StoredReport]:
        c = peppol_reports.c
        rows = self._conn.execute(
            select(peppol_reports).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        )
        return [_report_from_row(row) for row in rows]
