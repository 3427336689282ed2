"""Read side of Peppol reporting for support: stored reports with the delivery state of their outbound
document, every outbound document sent for each (``report_transmissions``) and whether it may be remade."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import DocumentNotFound
from gateway.model.message import OutboundDocument
from gateway.model.report import StoredReport
from gateway.services.ports import DocumentStore, UnitOfWork
from gateway.services.report_transmissions import (
    RemakeRefusal,
    ReportTransmission,
    remake_refusal,
    report_transmissions,
)


@dataclass(frozen=True, slots=True)
class ReportView:
    """A stored report and, once queued, the outbound document that carries it.

    Attributes:
        transmissions: every outbound document sent for it, oldest first (the linked one among them).
        refusal: why it may not be remade now; None when it may.
    """

    report: StoredReport
    delivery: OutboundDocument | None
    transmissions: tuple[ReportTransmission, ...] = ()
    refusal: RemakeRefusal | None = None


def _view(uow: UnitOfWork, report: StoredReport) -> ReportView:
    transmissions = report_transmissions(uow, report)
    linked = next((t.document for t in transmissions if t.document.id == report.outbound_document_id), None)
    return ReportView(report, linked, tuple(transmissions), remake_refusal(report, transmissions))


def list_reports(store: DocumentStore, *, limit: int) -> list[ReportView]:
    """The newest reports first."""
    with store.unit_of_work(read_only=True) as uow:
        return [_view(uow, r) for r in uow.reporting.list_reports(limit=limit)]


def get_report(store: DocumentStore, report_id: str) -> ReportView:
    """One report.

    Raises:
        DocumentNotFound: no such report.
    """
    with store.unit_of_work(read_only=True) as uow:
        report = uow.reporting.get_report(report_id)
        if report is None:
            raise DocumentNotFound(report_id, "Peppol report")
        return _view(uow, report)
