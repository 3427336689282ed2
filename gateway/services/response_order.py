"""Where an Invoice Response stands among the responses to the same received document (bis-billing.md §9:
one status per message, AB -> IP -> UQ -> CA -> RE -> AP -> PD, no going back), as delivery, retry and
support see it:

* ``waits_behind`` / ``waiting_for``: the earlier response, not final yet, that it is not sent before (the
  deliverer hands its job back meanwhile: ``delivery_deferral.defer_behind``). Shown to support (the API's
  ``waiting_for_document_id``, the document's page) while it actually waits.
* ``retry_refused_by``: the later response that keeps a failed one from being retried by request (it may have
  reached the supplier: this one would follow it). ``OutboundSubmitter.request_retry`` refuses by it
  (``LaterResponseQueued``), and the retry offered by the API (``retry_allowed``) and the staff pages asks it
  too (``OutboundDetail.retry_allowed``), so the offer and the rule cannot drift apart.

Each asks the store only about an Invoice Response in the status it concerns: an ordinary invoice costs no
query.
"""

from __future__ import annotations

from gateway.model.message import DeliveryStatus, DocumentKind, OutboundDocument
from gateway.services.ports import UnitOfWork

__all__ = ["retry_refused_by", "waiting_for", "waits_behind"]


def waits_behind(earlier: tuple[str, DeliveryStatus] | None) -> str | None:
    """The response to wait for, given the earlier response a response names and that one's status
    (``earlier_response``): it while it is not final (delivered, or failed for good: then no more)."""
    return earlier[0] if earlier is not None and not earlier[1].is_final else None


def waiting_for(uow: UnitOfWork, document: OutboundDocument) -> str | None:
    """The earlier response to the same received document that ``document`` (an Invoice Response not final
    yet) waits for; None when it waits for none, or for any other document (no query then)."""
    if document.kind is not DocumentKind.INVOICE_RESPONSE or document.status.is_final:
        return None
    return waits_behind(uow.outbound.earlier_response(document.id))


def retry_refused_by(uow: UnitOfWork, document: OutboundDocument) -> str | None:
    """The response to the same received document queued after ``document``, a failed Invoice Response: a
    retry by request is refused because of it (whatever its status: it may have reached the supplier). None
    when there is none, or for any other document or status (no query then: a retrying response is only
    brought forward, the later one waiting behind it)."""
    if document.kind is not DocumentKind.INVOICE_RESPONSE or document.status is not DeliveryStatus.FAILED:
        return None
    return uow.outbound.later_response(document.id)
