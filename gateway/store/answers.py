"""SQL adapter of the answers held until the receipt of the document they answer (``pending_answers``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, delete, insert, not_, or_, select

from gateway.errors import StoreError
from gateway.model.message import DeliveryStatus
from gateway.services.ports import PendingAnswer
from gateway.store.errors import maps_db_errors
from gateway.store.tables import outbound_documents, pending_answers

# Asked after every delivered document (services/received_answers.py): built once (see store/documents.py).
_FOR_DOCUMENT = (
    select(pending_answers)
    .where(pending_answers.c.outbound_document_id == bindparam("b_id"))
    .order_by(pending_answers.c.held_at, pending_answers.c.inbound_document_id)
)

# Every received answer locks its document's row (services/received_answers.py).
_LOCK_DOCUMENT = (
    select(outbound_documents.c.id).where(outbound_documents.c.id == bindparam("b_id")).with_for_update()
)


# What services/received_answers.py ``awaits_receipt`` tells from a document's row.
_AWAITS_RECEIPT = or_(
    outbound_documents.c.status.in_([DeliveryStatus.SENDING.value, DeliveryStatus.RETRYING.value]),
    and_(
        outbound_documents.c.status == DeliveryStatus.FAILED.value,
        outbound_documents.c.as4_message_id.is_not(None),
    ),
)


def _after(after: PendingAnswer | None) -> Any:
    """Keyset condition: the held answers after ``after`` in (held_at, inbound_document_id) order."""
    t = pending_answers
    if after is None:
        return None
    return or_(
        t.c.held_at > after.held_at,
        and_(t.c.held_at == after.held_at, t.c.inbound_document_id > after.inbound_document_id),
    )


def _answer_from_row(row: Row[Any]) -> PendingAnswer:
    return PendingAnswer(row.inbound_document_id, row.outbound_document_id, row.held_at)


@maps_db_errors("pending answers")
class SQLPendingAnswerRepository:
    """Implements ``PendingAnswerRepository``."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def lock_document(self, outbound_document_id: str) -> bool:
        # FOR UPDATE, like a transition: the receiver holding an answer and the worker recording the receipt
        # serialise on the document row (SQLite serialises writers already).
        row = self._conn.execute(_LOCK_DOCUMENT, {"b_id": outbound_document_id})
        return row.first() is not None

    def hold(self, answer: PendingAnswer) -> None:
        if not self.lock_document(answer.outbound_document_id):
            raise StoreError(f"no outbound document {answer.outbound_document_id!r}")
        t = pending_answers
        held = self._conn.execute(
            select(t.c.inbound_document_id).where(t.c.inbound_document_id == answer.inbound_document_id)
        ).first()
        if held is not None:
            return
        self._conn.execute(
            insert(t).values(
                inbound_document_id=answer.inbound_document_id,
                outbound_document_id=answer.outbound_document_id,
                held_at=answer.held_at,
            )
        )

    def for_document(self, outbound_document_id: str) -> list[PendingAnswer]:
        rows = self._conn.execute(_FOR_DOCUMENT, {"b_id": outbound_document_id})
        return [_answer_from_row(row) for row in rows]

    def take(self, inbound_document_id: str) -> PendingAnswer | None:
        t = pending_answers
        row = self._conn.execute(select(t).where(t.c.inbound_document_id == inbound_document_id)).first()
        if row is None:
            return None
        self.lock_document(row.outbound_document_id)
        # Removed by this unit of work only if still there (a concurrent one may have taken it meanwhile).
        deleted = self._conn.execute(delete(t).where(t.c.inbound_document_id == inbound_document_id))
        return _answer_from_row(row) if deleted.rowcount == 1 else None

    def settleable(self, *, limit: int, after: PendingAnswer | None = None) -> list[PendingAnswer]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        t = pending_answers
        query = (
            select(t)
            # Inner: a held answer goes with its document (ON DELETE CASCADE).
            .join(outbound_documents, outbound_documents.c.id == t.c.outbound_document_id)
            .where(not_(_AWAITS_RECEIPT))
            .order_by(t.c.held_at, t.c.inbound_document_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(_after(after))
        return [_answer_from_row(row) for row in self._conn.execute(query)]
