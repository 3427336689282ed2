"""A delivery attempt that may not send now (``services.endpoint_gate``): the job goes back to the queue
without counting as an attempt.

* **Endpoint busy** (all its slots in flight, or its half-open probe): only the job changes - due again at
  the refusal's time, ``last_error`` says why; the document keeps its status (it is merely waiting).
* **Circuit open** (the endpoint failed several sends in a row): the document also becomes ``retrying``
  with the reason (``circuit-open: <endpoint> failed N times in a row, next try at ...``), its next attempt
  time (its own place after the circuit reopens, spread over half the open period: ``EndpointGate``) and a
  timeline entry, so support sees why nothing is sent; the webhook reports a status change.
* **Circuit open past the retry window**: a document that has waited longer than its retry schedule's
  horizon (``RetryPolicy.horizon``: its attempt limit's delays at their ceilings, about 5 h by default;
  at least the breaker's longest open period, ``GateRefusal.max_open_for``, so a small attempt limit - a
  horizon of 0 s for one attempt, 30 s for two - does not fail a document behind a circuit opened by other
  documents' failures before it ever had its attempt),
  counted from when its job was first due (``DeliveryQueue.queued_at``, at or before its first attempt)
  or from when it started waiting behind the open circuit, whichever is later,
  ends as if its attempts had run out: ``failed`` by ``retries-exhausted`` with the reason
  ``circuit-open: <endpoint> unreachable since ..., retry window of ... exceeded``, the webhook, no job left.
  Deferrals are not attempts (only the probe of each open period counts), so without this a dead access
  point would keep its documents ``retrying`` for days (the last of N documents after N x max_attempts
  open periods).

When it started waiting is the earlier of the circuit's opening in this process (``GateRefusal.since``)
and the document's first circuit-open deferral since its job was queued (a ``retryable-failure`` timeline
entry with ``circuit_open`` in its detail, ``OutboundDocumentRepository.first_event_at``). The breaker lives
in the worker process: a restarted worker's circuit starts closed and, once it reopens, opened recently, so
without the timeline a worker restarted more often than the window would never give such a document up.
That first deferral is not limited to the current run of deferrals: a document deferred, then attempted
(the endpoint answered for a while) and deferred again counts from its first deferral, as its attempt limit
counts its attempts from the first; the window is the length of the whole attempt schedule, not of one
outage. Deferrals of an earlier job of the document (failed, then retried by request: a new job) are left
out, as its earlier attempts are. The timeline is read (one query over the document's entries - a few dozen
at most - on the ``(document_id, id)`` index) only once the job is older than the window.

* **Waiting for an earlier response** (``defer_behind``): an Invoice Response is not sent while the response
  to the same received document queued before it is not final (bis-billing.md §9: one status per message,
  AB -> IP -> UQ -> CA -> RE -> AP -> PD, no going back; an AP must not reach the supplier before an AB
  still being retried). Only the job changes, as for a busy endpoint: due again just after the earlier
  one's next attempt (or a few seconds on while that one is being sent), ``last_error`` says
  ``waiting-for-earlier-response: <document id>``; the document keeps its status. While the earlier one is
  being sent it looks again when that one's lease ends, or 10 s on at most (a lease is granted for longer
  than a send mostly takes). Once the earlier one is delivered it goes; once it has failed for good it goes
  too, its SEND_STARTED entry naming the failed one (``earlier_response_failed``). The earlier one's final
  outcome, or a retry request for it, makes the waiting job due at once (``wake_waiting_response``), so it
  does not keep the earlier one's old next-attempt time. A failed response is not retried by request once
  another response to the same received document was queued after it (``LaterResponseQueued``). Both rules,
  as the retry's offer and support's pages also ask them, are in ``services.response_order``.

Handing back is guarded by the lease token like every step (LeaseLost: another worker holds the job).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind, JSONObject, OutboundDocument
from gateway.services.delivery_attempt import DeliveryResult, DeliverySettings
from gateway.services.delivery_records import queue_status_webhook
from gateway.services.endpoint_gate import GateRefusal
from gateway.services.ports import DeliveryLease, IDFactory, UnitOfWork

__all__ = [
    "CIRCUIT_OPEN",
    "WAITING_FOR_EARLIER",
    "defer_attempt",
    "defer_behind",
    "format_span",
    "wake_waiting_response",
]

#: The timeline detail key marking a circuit-open deferral (and a give-up behind an open circuit).
CIRCUIT_OPEN: Final = "circuit_open"
#: The ``last_error`` of a response's job waiting for an earlier response (``defer_behind``).
WAITING_FOR_EARLIER: Final = "waiting-for-earlier-response"
#: How long after the earlier response's next attempt is due the waiting one looks again.
BEHIND_MARGIN: Final = timedelta(seconds=1)
#: While the earlier one is being sent (leased), the waiting one looks again at the end of that lease, or
#: this much later at most (a send mostly ends well before its lease; the earlier one's outcome wakes the
#: waiting one anyway: ``wake_waiting_response``).
BEHIND_WHILE_SENDING: Final = timedelta(seconds=10)
#: When the earlier one has no job and is not final (its job not visible yet), the waiting one looks again
#: this much later (final meanwhile: at once).
BEHIND_NO_JOB: Final = timedelta(seconds=30)


def waiting_reason(earlier_id: str) -> str:
    """The ``last_error`` of a response's job waiting behind ``earlier_id`` (``defer_behind``), by which its
    outcome finds it (``wake_waiting_response``)."""
    return f"{WAITING_FOR_EARLIER}: {earlier_id}"


def defer_behind(uow: UnitOfWork, lease: DeliveryLease, earlier_id: str, *, at: datetime) -> DeliveryResult:
    """Hand the leased job of an Invoice Response back in ``uow`` (the caller commits), not counted as an
    attempt: the earlier response ``earlier_id`` to the same received document is not final yet. Due again
    just after that one's next attempt; ``last_error`` names it."""
    # Locked (PostgreSQL): an outcome of the earlier one being recorded now is waited for (its job then
    # gone); or that outcome waits for this hand-back and then finds this job waiting
    # (``wake_waiting_response`` locks the jobs in the same order: the earlier one's, then this one's).
    earlier = uow.jobs.get(earlier_id, for_update=True)
    if earlier is None:
        # Final since this job read its status (its outcome found this job leased, so woke nothing): due
        # now. Else its job is not visible yet: look again later.
        done = uow.outbound.get(earlier_id)
        retry_at = at if done is None or done.status.is_final else at + BEHIND_NO_JOB
    elif earlier.leased_until is not None and earlier.leased_until > at:
        retry_at = min(earlier.leased_until, at + BEHIND_WHILE_SENDING)
    else:
        retry_at = max(at, earlier.due_at) + BEHIND_MARGIN
    reason = waiting_reason(earlier_id)
    uow.jobs.hand_back(lease.document_id, lease.token, due_at=retry_at, error=reason)
    return DeliveryResult(lease.document_id, None, reason=reason, deferred=True)


def wake_waiting_response(uow: UnitOfWork, document: OutboundDocument, *, at: datetime) -> None:
    """In ``uow`` (the caller commits): the Invoice Response ``document`` became final or was retried by
    request; the response waiting behind it (queued right after it, its job's ``last_error`` naming it)
    becomes due at ``at`` instead of at ``document``'s old next attempt. Nothing for any other kind of
    document (no query on the ordinary invoice path)."""
    if document.kind is not DocumentKind.INVOICE_RESPONSE:
        return
    later_id = uow.outbound.later_response(document.id)
    if later_id is None:
        return
    job = uow.jobs.get(later_id)
    if job is None or job.last_error != waiting_reason(document.id):
        return
    # An unleased job is only brought forward; a leased one is left to its worker (its lease ended by ``at``:
    # taken over and due at ``at``).
    uow.jobs.enqueue(later_id, due_at=at)


def defer_attempt(
    uow: UnitOfWork,
    lease: DeliveryLease,
    refusal: GateRefusal,
    *,
    at: datetime,
    settings: DeliverySettings,
    ids: IDFactory,
    horizon: timedelta | None = None,
) -> DeliveryResult:
    """Hand the leased job back in ``uow`` (the caller commits) and record an open circuit on the document;
    or, behind an open circuit and queued longer than ``horizon`` ago (None: never; at least the circuit's
    longest open period), give the document up.

    Returns:
        The result, ``deferred`` set when the job was handed back; ``status`` is the document's status when
        it changed, else None.
    """
    document = uow.outbound.get(lease.document_id)
    if document is None or document.status.is_final:
        uow.jobs.complete(lease.document_id, lease.token)  # nothing left to deliver
        return DeliveryResult(lease.document_id, document.status if document else None)
    status = None
    event = None
    if refusal.circuit_open and horizon is not None:
        if refusal.max_open_for is not None:
            horizon = max(horizon, refusal.max_open_for)
        queued_at = uow.jobs.queued_at(lease.document_id)
        # The wait cannot be longer than the job's age: the timeline is read only for a job older than the
        # window (one query then; none for the many deferrals of its first hours).
        if queued_at is not None and at - queued_at > horizon:
            since = _unreachable_since(uow, lease.document_id, refusal, queued_at)
            # The wait behind the open circuit: from the later of the job's first due time and the circuit's
            # opening, so a job that sat in the queue for hours (a worker down) is not given up the moment
            # the circuit opens, before the endpoint was unreachable for a whole window.
            waiting_since = max(queued_at, since) if since is not None else queued_at
            if at - waiting_since > horizon:
                return _give_up(
                    uow, lease, document, refusal, since, at=at, settings=settings, ids=ids, horizon=horizon
                )
    if refusal.circuit_open:
        detail: JSONObject = {
            CIRCUIT_OPEN: True,
            "reason": refusal.reason,
            "next_try_at": refusal.retry_at.isoformat(),
        }
        event = DeliveryEvent.RETRYABLE_FAILURE
        status = _transition(
            uow,
            document,
            event,
            refusal.reason,
            detail,
            at=at,
            settings=settings,
            ids=ids,
            next_at=refusal.retry_at,
        )
    # Lock order everywhere: document row (transition) before job row.
    uow.jobs.hand_back(lease.document_id, lease.token, due_at=refusal.retry_at, error=refusal.reason)
    return DeliveryResult(lease.document_id, status, event, refusal.reason, deferred=True)


def _unreachable_since(
    uow: UnitOfWork, document_id: str, refusal: GateRefusal, queued_at: datetime
) -> datetime | None:
    """When the document started waiting behind an open circuit: the earlier of the circuit's opening in
    this process and the document's first circuit-open deferral of its current job (in its timeline, so
    across worker restarts); None when neither is known."""
    deferred = uow.outbound.first_event_at(
        document_id, DeliveryEvent.RETRYABLE_FAILURE, flag=CIRCUIT_OPEN, since=queued_at
    )
    known = [t for t in (refusal.since, deferred) if t is not None]
    return min(known) if known else None


def _give_up(
    uow: UnitOfWork,
    lease: DeliveryLease,
    document: OutboundDocument,
    refusal: GateRefusal,
    since: datetime | None,
    *,
    at: datetime,
    settings: DeliverySettings,
    ids: IDFactory,
    horizon: timedelta,
) -> DeliveryResult:
    """End the document as the attempt limit would (``record_outcome``'s RETRIES_EXHAUSTED): ``failed``
    with the reason, its webhook, the job removed."""
    unreachable = (since or at).isoformat(timespec="seconds")
    window = format_span(horizon)
    reason = f"circuit-open: {refusal.endpoint} unreachable since {unreachable}, "
    reason += f"retry window of {window} exceeded"
    detail: JSONObject = {
        CIRCUIT_OPEN: True,
        "reason": refusal.reason,
        "retry_window_seconds": horizon.total_seconds(),
    }
    event = DeliveryEvent.RETRIES_EXHAUSTED
    status = _transition(uow, document, event, reason, detail, at=at, settings=settings, ids=ids)
    # Lock order everywhere: document row (transition) before job row.
    uow.jobs.fail(lease.document_id, lease.token, error=reason)
    wake_waiting_response(uow, document, at=at)
    return DeliveryResult(lease.document_id, status, event, reason)


def _transition(
    uow: UnitOfWork,
    document: OutboundDocument,
    event: DeliveryEvent,
    reason: str,
    detail: JSONObject,
    *,
    at: datetime,
    settings: DeliverySettings,
    ids: IDFactory,
    next_at: datetime | None = None,
) -> DeliveryStatus:
    """Record ``event`` on the document with its status webhook; returns the new status."""
    entry = uow.outbound.transition(
        document.id, event, at=at, reason=reason, detail=detail, next_attempt_at=next_at
    )
    queue_status_webhook(
        uow,
        settings=settings,
        ids=ids,
        document=document,
        change=entry,
        reason=reason,
        message_id=document.as4_message_id,
    )
    return entry.to_status


def format_span(span: timedelta) -> str:
    """``5 h 3 min 30 s``: hours, minutes and seconds, the zero ones left out (``0 s`` for none)."""
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((hours, "h"), (minutes, "min"), (seconds, "s")) if n]
    return " ".join(parts) or "0 s"
