"""Read side of Peppol reporting for support: stored reports with the delivery state of their outbound
document."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import DocumentNotFound
from gateway.model.message import OutboundDocument
from gateway.model.report import StoredReport
from gateway.services.ports import DocumentStore


@dataclass(frozen=True, slots=True)
class ReportView:
    """A stored report and, once queued, the outbound document that carries it."""

    report: StoredReport
    delivery: OutboundDocument | None


def list_reports(store: DocumentStore, *, limit: int) -> list[ReportView]:
    """The newest reports first."""
    with store.unit_of_work(read_only=True) as uow:
        reports = uow.reporting.list_reports(limit=limit)
        return [
            ReportView(r, uow.outbound.get(r.outbound_document_id) if r.outbound_document_id else None)
            for r in reports
        ]


def get_report(store: DocumentStore, report_id: str) -> ReportView:
    """One report.

    Raises:
        DocumentNotFound: no such report.
    """
    with store.unit_of_work(read_only=True) as uow:
        report = uow.reporting.get_report(report_id)
        if report is None:
            raise DocumentNotFound(report_id, "Peppol report")
        delivery = uow.outbound.get(report.outbound_document_id) if report.outbound_document_id else None
    return ReportView(report, delivery)
