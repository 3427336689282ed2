"""The Peppol reporting port: per-transmission records and the monthly reports (peppol-as4.md §11)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.model.report import ReportKind, ReportMonth, StoredReport, Transmission


@dataclass(frozen=True, slots=True)
class SentFacts:
    """What the reporting record of a delivered transmission needs from the store.

    Attributes:
        sent_at: when the outgoing AS4 message was stored (its Timestamp).
        buyer_country: the document's BT-55 as read at submit; None when not stored (before 0012).
        ubl: the document's UBL, read only when ``buyer_country`` is None (to find it there).
    """

    sent_at: datetime
    buyer_country: str | None
    ubl: bytes | None = None


class ReportingRepository(Protocol):
    """Transmission records and stored reports, inside a unit of work."""

    def record(self, transmission: Transmission) -> None:
        """Keep one transmission; a second record of the same message and direction is ignored."""
        ...

    def sent_facts(self, message_id: str) -> SentFacts | None:
        """When the outgoing AS4 message ``message_id`` was stored and the buyer country of its outbound
        document (its UBL only when the country is not stored); None if either is unknown. One narrow read."""
        ...

    def transmissions(self, since: datetime, until: datetime) -> list[Transmission]:
        """The transmissions with ``since <= at < until`` (aware UTC), oldest first."""
        ...

    def add_report(self, report: StoredReport) -> None:
        """Store a report.

        Raises:
            DuplicateMessage: a report of that month and kind exists (the unit of work stays usable).
        """
        ...

    def replace_report(self, report: StoredReport, *, was: StoredReport) -> bool:
        """Remake a stored report in place: its row (same id, month and kind) takes ``report``'s XML,
        validation report, status, time and outbound document link, if it still is as ``was`` (status,
        outbound document and time): False, and nothing changed, when another process remade it first.
        The outbound document the row linked stays as it is."""
        ...

    def set_queued(self, report_id: str, outbound_document_id: str) -> None:
        """Mark a stored report queued as ``outbound_document_id``."""
        ...

    def report_of_document(self, outbound_document_id: str) -> StoredReport | None:
        """The report whose row links the outbound document ``outbound_document_id`` (None: another
        document, or a report's earlier document, kept after a remake)."""
        ...

    def report_documents(
        self, month: ReportMonth, kind: ReportKind, *, receivers: Collection[str] = ()
    ) -> list[str]:
        """The ids of the outbound documents sent for the report of ``month`` and ``kind``, oldest first:
        its first (number ``TSR-YYYY-MM``) and every remade one (``...-remade-<UTC time>``), to the
        receiver of the first or to one of ``receivers`` (participant keys). A remake keeps them all."""
        ...

    def get_report(self, report_id: str) -> StoredReport | None:
        """A report by id."""
        ...

    def find_report(self, month: ReportMonth, kind: ReportKind) -> StoredReport | None:
        """The report of that month and kind, if stored."""
        ...

    def list_reports(self, *, limit: int = 100) -> list[StoredReport]:
        """The newest reports first (at most ``limit``)."""
        ...
