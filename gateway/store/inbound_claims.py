"""When a received document is up for a worker's claim (``GATEWAY_AS4__AFTER_RECEIPT=worker``): awaiting its
validation and claimed by no worker, or by one whose claim ran out. One definition for the claim itself
(``SQLInboundDocumentRepository.claim_pending``) and the idle worker's wake-up read
(``store.job_signal``), so the two cannot drift apart.

No column of its own: a pending document's ``updated_at`` is its receipt's time (``received_at``) until a
worker claims it, and the claim's time after that (a verdict sets it again, and ends the pending state).
One exception: a document re-derived from an accepted message's evidence (``PendingRecovery.from_evidence``)
is stored with ``updated_at`` now and ``received_at`` the message's, so it reads as claimed for
``CLAIM_FOR``; that path validates it at once, and the sweep covers it if that fails."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from gateway.model.message import VALIDATION_PENDING, InboundStatus
from gateway.store.tables import inbound_documents


def pending_inbound() -> ColumnElement[bool]:
    """The document awaits its verdict (RECEIVED, ``VALIDATION_PENDING``)."""
    return and_(
        inbound_documents.c.status == InboundStatus.RECEIVED.value,
        inbound_documents.c.status_reason == VALIDATION_PENDING,
    )


def claimable_inbound(claimed_before: Any) -> ColumnElement[bool]:
    """Pending and never claimed, or claimed no later than ``claimed_before`` (its worker died, stalled or
    failed on the store). ``claimed_before``: a datetime or a bound parameter."""
    t = inbound_documents
    return and_(pending_inbound(), or_(t.c.updated_at <= t.c.received_at, t.c.updated_at <= claimed_before))
