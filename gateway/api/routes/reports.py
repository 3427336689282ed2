"""Peppol reports (TSR, EUSR) for support staff: each report, its validation, its delivery status and the
link to the delivery evidence (peppol-as4.md §11); an admin remakes one the network never took."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from gateway.api.auth import Principal
from gateway.api.deps import ServicesDep, require_roles
from gateway.api.errors import problem_responses
from gateway.api.file_responses import file_response
from gateway.api.outbound_schemas import outbound_url
from gateway.api.schemas import DocumentIdPath
from gateway.config import Role
from gateway.model.message import DeliveryStatus
from gateway.model.report import ReportKind, ReportStatus
from gateway.render.file_names import download_headers
from gateway.services.document_files import report_file
from gateway.services.report_queries import ReportView, get_report, list_reports
from gateway.services.report_transmissions import ReportTransmission, TransmissionState

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=problem_responses(401, 403, 422, 503))

SupportDep = Annotated[Principal, Depends(require_roles(Role.SUPPORT))]
#: The ``Content-Disposition`` of a report's XML.
REPORT_NAME: Final = (
    "attachment; filename=\"<kind>-<month>.xml\"; filename*=UTF-8''<kind>-<month>.xml (RFC 6266): "
    "transaction-statistics-report-2026-11.xml for a TSR, end-user-statistics-report-2026-11.xml for an EUSR"
)
#: Remaking a report sends a new one to the network: admin only.
AdminDep = Annotated[Principal, Depends(require_roles())]


class ReportTransmissionSummary(BaseModel):
    """One outbound document sent for a report (the first, and one per remake)."""

    outbound_document_id: str
    document_number: str
    delivery_status: DeliveryStatus
    delivery_status_reason: str | None = None
    state: TransmissionState = Field(
        description="in-flight; received (delivered, confirmed, or failed but answered by an MLS AP/AB);"
        " refused (an MLS RE); not-received (failed, no evidence it arrived)"
    )
    late_mls: list[str] = Field(
        default_factory=list, description="Codes of the MLS held for it, come while it was failed"
    )
    created_at: datetime
    updated_at: datetime
    status_url: str


class ReportSummary(BaseModel):
    """A monthly Peppol report."""

    id: str
    month: str = Field(description="The report period, YYYY-MM")
    kind: ReportKind
    status: ReportStatus = Field(description="stored (not sent), invalid (never sent) or queued")
    valid: bool = Field(description="No fatal finding under the official XSD + Schematron")
    created_at: datetime
    outbound_document_id: str | None = None
    delivery_status: DeliveryStatus | None = Field(None, description="Status of the outbound document")
    delivery_status_reason: str | None = None
    status_url: str | None = Field(None, description="The outbound document carrying the report")
    evidence_url: str | None = Field(None, description="The AS4 exchange and the signed receipt")
    xml_url: str
    transmissions: list[ReportTransmissionSummary] = Field(
        default_factory=list, description="Every outbound document sent for the report, oldest first"
    )
    remake_refusal: str | None = Field(
        None, description="Why a remake would be refused now (null: an admin may remake it)"
    )


class ReportDetail(ReportSummary):
    """A report with its validation report."""

    validation_report: dict[str, Any]


class ReportList(BaseModel):
    items: list[ReportSummary]


def _url(report_id: str) -> str:
    return f"/v1/reports/{report_id}"


def _summary(view: ReportView) -> dict[str, Any]:
    report, delivery = view.report, view.delivery
    document_id = report.outbound_document_id
    return {
        "id": report.id,
        "month": str(report.month),
        "kind": report.kind,
        "status": report.status,
        "valid": bool(report.validation_report.get("valid")),
        "created_at": report.created_at,
        "outbound_document_id": document_id,
        "delivery_status": delivery.status if delivery else None,
        "delivery_status_reason": delivery.status_reason if delivery else None,
        "status_url": outbound_url(document_id) if document_id else None,
        "evidence_url": f"{outbound_url(document_id)}/evidence" if document_id else None,
        "xml_url": f"{_url(report.id)}/xml",
        "transmissions": [_transmission(t) for t in view.transmissions],
        "remake_refusal": view.refusal.reason if view.refusal is not None else None,
    }


def _transmission(transmission: ReportTransmission) -> dict[str, Any]:
    document = transmission.document
    return {
        "outbound_document_id": document.id,
        "document_number": document.document_number,
        "delivery_status": document.status,
        "delivery_status_reason": document.status_reason,
        "state": transmission.state,
        "late_mls": list(transmission.late_mls),
        "created_at": document.created_at,
        "updated_at": document.updated_at,
        "status_url": outbound_url(document.id),
    }


@router.get("", response_model=ReportList)
def list_all(
    services: ServicesDep, _who: SupportDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> ReportList:
    """The stored reports, newest first."""
    return ReportList(items=[ReportSummary(**_summary(v)) for v in list_reports(services.store, limit=limit)])


@router.get("/{report_id}", response_model=ReportDetail, responses=problem_responses(404))
def show(services: ServicesDep, _who: SupportDep, report_id: DocumentIdPath) -> ReportDetail:
    """One report: status, validation report, delivery status and evidence link."""
    view = get_report(services.store, report_id)
    return ReportDetail(**_summary(view), validation_report=view.report.validation_report)


@router.get(
    "/{report_id}/xml",
    response_class=Response,
    responses={
        200: file_response("The report document as stored and sent", "application/xml", header=REPORT_NAME),
        **problem_responses(404),
    },
)
def show_xml(services: ServicesDep, _who: SupportDep, report_id: DocumentIdPath) -> Response:
    """The TSR or EUSR document, byte for byte, named after its kind and month."""
    xml, named = report_file(services.store, report_id)
    return Response(
        content=xml, media_type="application/xml", headers=download_headers(named.disposition("xml"))
    )


@router.post("/{report_id}/remake", response_model=ReportDetail, responses=problem_responses(404, 409))
def remake(services: ServicesDep, _who: AdminDep, report_id: DocumentIdPath) -> ReportDetail:
    """Remake a report the network never took - stored ``invalid``, or whose every transmission ended
    ``failed`` without evidence of receipt or ``rejected`` - from its month's records as they are now:
    validated again and, when valid, queued as a new outbound document (the failed one stays). 409 for a
    report stored and not sent by design (``report-remake-refused``), with a transmission in flight
    (``report-in-flight``) or one received - delivered, or failed but answered by the receiving AP's MLS
    AP/AB (``report-already-received``); the problem's ``outbound_document_id`` names that transmission.
    Returns the report as now stored."""
    get_report(services.store, report_id)  # 404 for an unknown report, whatever the configuration
    reporter = services.reporter
    if reporter is None:
        raise HTTPException(status_code=503, detail="Peppol reporting needs our AP key (the Seat ID)")
    reporter.remake(report_id)
    view = get_report(services.store, report_id)
    return ReportDetail(**_summary(view), validation_report=view.report.validation_report)
