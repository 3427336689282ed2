"""Every transmission of a stored Peppol report, and whether the report may be remade (peppol-as4.md §11).

A report is sent as an outbound document; a remake sends a new one and leaves the earlier ones with their
timeline and evidence. OpenPeppol must get each (month, kind) once, so the remake looks at all of them, not
only the one the report's row links now: one still in flight, or one the receiving access point in fact
received, refuses the remake.

"In fact received", from the evidence this gateway keeps for an outbound document:

* ``delivered`` or ``confirmed``: a receipt that verified strictly, or an authentic duplicate error after an
  earlier attempt of the same message (``delivery_outcome``: probably delivered). Also when the status was
  reached after a ``failed`` (a support retry of the same message).
* ``failed`` with a Message Level Status held for it (``pending_answers``, ``received_answers``): the MLS
  names the SBDH instance identifier of our message, a random id that only the AP which opened our message
  can know, so the report reached it although our receipt never came (a timeout). An MLS ``AP``/``AB``
  means received and accepted; an ``RE`` means received and refused.

Not evidence: a receipt that did not verify or an unsigned duplicate error (the delivery stays unproven,
``delivery_outcome``), and the lack of any answer.

The decision, as data (``remake_refusal``): stored by design - refused; the linked document missing -
refused; any transmission in flight (accepted, sending, retrying) - refused; any received and not refused
by an MLS ``RE`` - refused; otherwise (never sent, failed without evidence, or rejected by the receiving
AP's MLS) the remake goes ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from gateway.errors import GatewayError
from gateway.model.message import DeliveryStatus, DocumentKind, OutboundDocument
from gateway.model.report import ReportStatus, StoredReport
from gateway.model.responses import MLSCode
from gateway.services.ports import UnitOfWork
from gateway.ubl.application_response import ResponseKind, read_application_response

log = logging.getLogger(__name__)

#: Delivery statuses of a transmission still on its way (a remake would race it).
IN_FLIGHT: Final = frozenset({DeliveryStatus.ACCEPTED, DeliveryStatus.SENDING, DeliveryStatus.RETRYING})
#: Delivery statuses proving receipt: a verified receipt (or authentic duplicate error), and the MLS AP/AB.
RECEIVED: Final = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.CONFIRMED})


class TransmissionState(StrEnum):
    """What one transmission of a report tells about the network having it."""

    IN_FLIGHT = "in-flight"
    RECEIVED = "received"
    """In fact received, and not refused (see the module's docstring)."""
    REFUSED = "refused"
    """Received, and refused by the receiving AP's Message Level Status (RE): a remake is the remedy."""
    NOT_RECEIVED = "not-received"
    """Ended ``failed`` with no evidence that it arrived."""


@dataclass(frozen=True, slots=True)
class ReportTransmission:
    """One outbound document sent for a report.

    Attributes:
        document: the outbound document.
        late_mls: the codes of the Message Level Statuses held for it (they came while it was ``failed``:
            no receipt of ours is recorded), oldest first.
    """

    document: OutboundDocument
    late_mls: tuple[str, ...] = ()

    @property
    def state(self) -> TransmissionState:
        status = self.document.status
        if status in IN_FLIGHT:
            return TransmissionState.IN_FLIGHT
        if status in RECEIVED:
            return TransmissionState.RECEIVED
        if status is DeliveryStatus.REJECTED:
            return TransmissionState.REFUSED
        if self.late_mls:
            if all(code == MLSCode.REJECTED.value for code in self.late_mls):
                return TransmissionState.REFUSED
            return TransmissionState.RECEIVED
        return TransmissionState.NOT_RECEIVED


class RefusalCode(StrEnum):
    """Why a remake is refused; the API's problem type and the page's message follow it."""

    STORED_BY_DESIGN = "stored-by-design"
    NOT_FOUND = "not-found"
    IN_FLIGHT = "in-flight"
    RECEIVED = "received"
    REMADE_MEANWHILE = "remade-meanwhile"
    """Another process remade the report between the check and the write (``PeppolReporter.remake``)."""


@dataclass(frozen=True, slots=True)
class RemakeRefusal:
    """A refused remake: the code, the operator's text, and the transmission that stops it (if any)."""

    code: RefusalCode
    reason: str
    transmission: ReportTransmission | None = None


def remake_refusal(report: StoredReport, transmissions: Sequence[ReportTransmission]) -> RemakeRefusal | None:
    """Why ``report``, with every outbound document sent for it (``transmissions``, oldest first), may not
    be remade; None when it may."""
    what = f"the {report.kind.value.upper()} of {report.month}"
    if report.status is ReportStatus.STORED:
        return RemakeRefusal(
            RefusalCode.STORED_BY_DESIGN,
            f"{what} is valid and stored, not sent by design (reporting disabled, or OpenPeppol's receiver"
            " outside the production stage): there is nothing to remake",
        )
    linked = report.outbound_document_id
    if linked is not None and all(t.document.id != linked for t in transmissions):
        return RemakeRefusal(
            RefusalCode.NOT_FOUND, f"{what} is queued as outbound document {linked}, which is not found"
        )
    for t in transmissions:
        if t.state is TransmissionState.IN_FLIGHT:
            d = t.document
            return RemakeRefusal(
                RefusalCode.IN_FLIGHT,
                f"{what} is in flight (outbound document {d.id}, {d.document_number}, {d.status.value}):"
                " only a report whose every transmission ended failed or rejected is remade",
                t,
            )
    for t in transmissions:
        if t.state is TransmissionState.RECEIVED:
            d = t.document
            evidence = (
                f"{d.status.value}"
                if d.status in RECEIVED
                else f"{d.status.value}, but its receiver answered with an MLS {'/'.join(t.late_mls)}"
            )
            return RemakeRefusal(
                RefusalCode.RECEIVED,
                f"{what} was received (outbound document {d.id}, {d.document_number}, {evidence}):"
                " a report the network took is not sent again",
                t,
            )
    return None


def report_transmissions(
    uow: UnitOfWork,
    report: StoredReport,
    *,
    receivers: Collection[str] = (),
    for_update: bool = False,
) -> list[ReportTransmission]:
    """Every outbound document sent for ``report``, oldest first, with the MLS held for each failed one.

    Args:
        receivers: participant keys of reporting receivers to look at besides those of the report's first
            and linked documents (the configured one).
        for_update: lock each document's row for the rest of the unit of work (as a retry and a received
            answer lock it): none changes, and no answer is held for one, until the caller commits.
    """
    ids = uow.reporting.report_documents(report.month, report.kind, receivers=receivers)
    if report.outbound_document_id is not None and report.outbound_document_id not in ids:
        ids.append(report.outbound_document_id)
    found: list[ReportTransmission] = []
    for document_id in ids:
        document = uow.outbound.get(document_id, for_update=for_update)
        if document is not None:
            found.append(ReportTransmission(document, _late_mls(uow, document)))
    return sorted(found, key=lambda t: (t.document.created_at, t.document.id))


def remade_since(uow: UnitOfWork, document: OutboundDocument) -> bool:
    """Whether ``document`` carried a Peppol report that was remade since: no stored report links it any more
    (the report goes as another document; this one is kept as the record of its delivery). A retry by
    request is refused for it (``ReportSuperseded``: it would send the period's old report as well), and the
    retry offered by the API and the pages asks the same (``OutboundDetail.retry_allowed``). No query for
    any other kind of document."""
    return (
        document.kind is DocumentKind.PEPPOL_REPORT and uow.reporting.report_of_document(document.id) is None
    )


def _late_mls(uow: UnitOfWork, document: OutboundDocument) -> tuple[str, ...]:
    """The codes of the MLS held for a ``failed`` document sent at least once (none otherwise)."""
    if document.status is not DeliveryStatus.FAILED or document.as4_message_id is None:
        return ()
    codes: list[str] = []
    for held in uow.answers.for_document(document.id):
        content = uow.inbound.get_content(held.inbound_document_id)
        if content is None:
            continue
        try:
            read = read_application_response(content.body)
        except GatewayError as exc:
            log.warning(
                "answer %s held for %s cannot be read: %s", held.inbound_document_id, document.id, exc
            )
            continue
        if read.kind is ResponseKind.MLS and read.code:
            codes.append(read.code)
    return tuple(codes)
