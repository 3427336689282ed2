"""A delivery attempt that may not send now (``services.endpoint_gate``): the job goes back to the queue
without counting as an attempt.

* **Endpoint busy** (all its slots in flight, or its half-open probe): only the job changes - due again at
  the refusal's time, ``last_error`` says why; the document keeps its status (it is merely waiting).
* **Circuit open** (the endpoint failed several sends in a row): the document also becomes ``retrying``
  with the reason (``circuit-open: <endpoint> failed N times in a row, next try at ...``), its next attempt
  time and a timeline entry, so support sees why nothing is sent; the webhook reports a status change.

Handing back is guarded by the lease token like every step (LeaseLost: another worker holds the job).
"""

from __future__ import annotations

from datetime import datetime

from gateway.model.message import DeliveryEvent, JSONObject
from gateway.services.delivery_attempt import DeliveryResult, DeliverySettings
from gateway.services.delivery_records import queue_status_webhook
from gateway.services.endpoint_gate import GateRefusal
from gateway.services.ports import DeliveryLease, IDFactory, UnitOfWork

__all__ = ["defer_attempt"]


def defer_attempt(
    uow: UnitOfWork,
    lease: DeliveryLease,
    refusal: GateRefusal,
    *,
    at: datetime,
    settings: DeliverySettings,
    ids: IDFactory,
) -> DeliveryResult:
    """Hand the leased job back in ``uow`` (the caller commits) and record an open circuit on the document.

    Returns:
        The result, ``deferred`` set; ``status`` is the document's status when it changed, else None.
    """
    document = uow.outbound.get(lease.document_id)
    if document is None or document.status.is_final:
        uow.jobs.complete(lease.document_id, lease.token)  # nothing left to deliver
        return DeliveryResult(lease.document_id, document.status if document else None)
    status = None
    event = None
    if refusal.circuit_open:
        detail: JSONObject = {
            "circuit_open": True,
            "reason": refusal.reason,
            "next_try_at": refusal.retry_at.isoformat(),
        }
        entry = uow.outbound.transition(
            document.id,
            DeliveryEvent.RETRYABLE_FAILURE,
            at=at,
            reason=refusal.reason,
            detail=detail,
            next_attempt_at=refusal.retry_at,
        )
        queue_status_webhook(
            uow,
            settings=settings,
            ids=ids,
            document=document,
            change=entry,
            reason=refusal.reason,
            message_id=document.as4_message_id,
        )
        status, event = entry.to_status, DeliveryEvent.RETRYABLE_FAILURE
    # Lock order everywhere: document row (transition) before job row.
    uow.jobs.hand_back(lease.document_id, lease.token, due_at=refusal.retry_at, error=refusal.reason)
    return DeliveryResult(lease.document_id, status, event, refusal.reason, deferred=True)
