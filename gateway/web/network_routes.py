"""The access point's network duties for support staff and admins (product.md: expiring certificates):
our AP certificate - seat id, issuer, end and days left with the warning of ``/readyz`` and the daily
check (``gateway.crypto.lifecycle``) - and the monthly Peppol reports (peppol-as4.md §11) with their
delivery, whether the previous month's are sent by the 15th, and for admins a remake of a report the
network never took (the rule and the use case of ``POST /v1/reports/{id}/remake``)."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from gateway.config import Role
from gateway.crypto.lifecycle import EXPIRY_WARNING_DAYS, CertificateRole, expiries
from gateway.errors import ReportRemakeRefused
from gateway.model.report import ReportKind, ReportMonth, ReportStatus
from gateway.services.report_queries import ReportView, get_report, list_reports
from gateway.services.report_transmissions import RefusalCode, TransmissionState
from gateway.services.reporting import LAST_SENDING_DAY
from gateway.web.pages import Forbidden, PageContext, PageRoute, checked_form, page, require_staff
from gateway.web.people import audit
from gateway.web.state_labels import STATE_LABELS

log = logging.getLogger("gateway.web.network")

router = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)

StaffDep = Annotated[PageContext, Depends(require_staff)]

#: The reports shown: a year of TSR and EUSR.
REPORTS_SHOWN: Final = 24
REMADE: Final = "The report is remade from the month's records as they are now."
ONLY_ADMINS: Final = "Only admins remake reports."
REFUSED: Final = "This report may not be remade now."
#: A refused remake in the person's language, by the refusal's code (``RefusalCode``): never the service's
#: English reason.
REMAKE_REFUSALS: Final = {
    RefusalCode.STORED_BY_DESIGN: (
        "This report may not be remade: it is valid and kept here, not sent by design (reporting is off, or"
        " OpenPeppol's receiver is not on the production network). There is nothing to remake."
    ),
    RefusalCode.NOT_FOUND: (
        "This report may not be remade: the outbound document it was queued as cannot be found. Ask the"
        " gateway's operator to look into it."
    ),
    RefusalCode.IN_FLIGHT: (
        "This report may not be remade: a transmission of it is still on its way. Its outcome decides"
        " whether a remake is needed."
    ),
    RefusalCode.RECEIVED: (
        "This report may not be remade: OpenPeppol's access point already received it. Sending it again would"
        " report the month twice."
    ),
    RefusalCode.REMADE_MEANWHILE: (
        "This report may not be remade: someone else remade it meanwhile. The list below shows it as it is"
        " now."
    ),
}
assert set(REMAKE_REFUSALS) == set(RefusalCode), "every refusal is said in words of the page"
NO_REPORTER: Final = "Peppol reporting needs our AP key (the Seat ID): no report can be remade."


def _certificate(context: PageContext) -> dict[str, Any] | None:
    """Our AP certificate with its expiry as ``/readyz`` and the daily check see it (None without one)."""
    services = context.services
    if services.identity is None:
        return None
    expiry = next(
        e for e in expiries(services.certificates, services.clock.now()) if e.role is CertificateRole.AP
    )
    return {
        "expiry": expiry,
        "issuer": services.identity.certificate.issuer.rfc4514_string(),
        "stage": services.settings.truststore.stage,
    }


def _delivered(view: ReportView) -> bool:
    """The network took the report: one of its transmissions was in fact received and not refused
    (``report_transmissions``)."""
    return any(t.state is TransmissionState.RECEIVED for t in view.transmissions)


def _due(context: PageContext, views: list[ReportView]) -> dict[str, Any]:
    """The previous month's reports: ``sent`` (TSR and EUSR in fact received), ``kept`` (each received or
    stored and not sent by design: reporting off, or not the production stage - nothing is owed),
    ``not-yet`` or ``late`` (day 16+)."""
    today = context.services.clock.now().astimezone(UTC).date()
    month = ReportMonth.of(today).previous()
    owed = [v for v in views if v.report.month == month]
    delivered = {v.report.kind for v in owed if _delivered(v)}
    kept = {v.report.kind for v in owed if v.report.status is ReportStatus.STORED}
    if delivered == set(ReportKind):
        state = "sent"
    elif kept and delivered | kept == set(ReportKind):
        state = "kept"
    else:
        state = "late" if today.day > LAST_SENDING_DAY else "not-yet"
    return {"month": str(month), "state": state, "day": LAST_SENDING_DAY}


def _network_page(context: PageContext, status: int = 200, **values: Any) -> Response:
    views = list_reports(context.services.store, limit=REPORTS_SHOWN)
    reports = [{"view": v, "refusal": v.refusal} for v in views]
    return page(
        context.request,
        "network.html",
        status,
        session=context.session,
        certificate=_certificate(context),
        reports=reports,
        due=_due(context, views),
        warning_days=EXPIRY_WARNING_DAYS,
        admin=context.person.role is Role.ADMIN,
        states=STATE_LABELS,
        **{"done": None, "error": None, "error_document": None, **values},
    )


@router.get("/network")
def network(context: StaffDep, done: str | None = None) -> Response:
    """Our AP certificate and the Peppol reports."""
    return _network_page(context, done=REMADE if done == "remade" else None)


@router.post("/network/remake")
async def remake(context: StaffDep) -> Response:
    """Remake a report (admins): what ``POST /v1/reports/{id}/remake`` does; a refusal is a form message."""
    form = await checked_form(context)
    if context.person.role is not Role.ADMIN:  # a remake sends a new report to the network
        raise Forbidden(ONLY_ADMINS)
    return await anyio.to_thread.run_sync(_remake, context, form.get("report", ""))


def _remake(context: PageContext, report_id: str) -> Response:
    get_report(context.services.store, report_id)  # an unknown report: the 404 page
    reporter = context.services.reporter
    if reporter is None:
        return _network_page(context, 503, error=NO_REPORTER)
    try:
        report = reporter.remake(report_id)
    except ReportRemakeRefused as exc:
        return _network_page(context, 409, **_refusal(context, report_id, exc))
    audit.info(
        "report remade: %s (%s of %s) by %s", report.id, report.kind, report.month, context.person.name
    )
    return RedirectResponse("/web/network?done=remade", status_code=303)


def _refusal(context: PageContext, report_id: str, exc: ReportRemakeRefused) -> dict[str, Any]:
    """The form message of a refused remake, by its code in the person's language (the service's English
    reason goes to the log only), with a link to the transmission that stops it, if one."""
    message = next((text for code, text in REMAKE_REFUSALS.items() if code == exc.code), None)
    if message is None:
        log.info("remake of report %s refused without a code: %s", report_id, exc.reason)
    view = get_report(context.services.store, report_id)
    stops = next((t for t in view.transmissions if t.document.id == exc.document_id), None)
    return {"error": message or REFUSED, "error_document": stops.document if stops is not None else None}
