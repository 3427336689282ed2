"""SQL adapters for outbound documents (with their status timeline) and inbound documents."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from gateway.errors import InvalidTransition, StoreError
from gateway.model.document_number import number_key
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID, parse_receiver
from gateway.model.message import (
    INITIAL_STATUS,
    RESPONSE_AFTER,
    RESPONSE_ANSWERS,
    VALIDATION_PENDING,
    DeliveryEvent,
    DeliveryStatus,
    DocumentContent,
    DocumentKind,
    InboundDocument,
    InboundStatus,
    JSONObject,
    OutboundDocument,
    SlicedBody,
    TimelineEvent,
    apply_event,
)
from gateway.services.ports import MAX_PAGE_SIZE, InboundQuery, OutboundQuery, Page, PageCursor
from gateway.store.blobs import insert_with_blob
from gateway.store.errors import maps_db_errors
from gateway.store.inbound_claims import claimable_inbound
from gateway.store.job_signal import RECEIVED_CHANNEL
from gateway.store.number_search import number_conditions
from gateway.store.savepoints import first_insert_refusable
from gateway.store.tables import (
    inbound_document_bodies,
    inbound_documents,
    outbound_documents,
    outbound_events,
)

_OUTBOUND_META = [
    c
    for c in outbound_documents.c
    if c.name not in ("ubl", "validation_report", "buyer_country", "answers_inbound_document_id")
]
_INBOUND_META = [c for c in inbound_documents.c if c.name != "validation_report"]
#: How much later than its receipt a claim is dated at least (``claim_pending``).
_CLAIM_TICK = timedelta(microseconds=1)

# The statements of the delivery and receive paths are built once, with bound parameters: SQLAlchemy then
# reuses their cache key instead of rebuilding and hashing the statement on every call (≈ 0.1 ms per query
# with 17 columns, measured for issue 12). ``b_`` names keep clear of the column names the SET clauses use.
_OUTBOUND_BY_ID = select(*_OUTBOUND_META).where(outbound_documents.c.id == bindparam("b_id"))
_OUTBOUND_BY_ID_FOR_UPDATE = _OUTBOUND_BY_ID.with_for_update()
_OUTBOUND_CONTENT = select(outbound_documents.c.ubl, outbound_documents.c.validation_report).where(
    outbound_documents.c.id == bindparam("b_id")
)
_OUTBOUND_BY_NUMBER = (
    select(*_OUTBOUND_META)
    .where(
        outbound_documents.c.seller_id == bindparam("b_seller"),
        outbound_documents.c.document_number == bindparam("b_number"),
        outbound_documents.c.document_type_id.in_(bindparam("b_types", expanding=True)),
    )
    .order_by(outbound_documents.c.created_at, outbound_documents.c.id)
)
_OUTBOUND_STATUS_FOR_UPDATE = (
    select(outbound_documents.c.status, outbound_documents.c.attempts)
    .where(outbound_documents.c.id == bindparam("b_id"))
    .with_for_update()
)
_OUTBOUND_UPDATE = update(outbound_documents).where(outbound_documents.c.id == bindparam("b_id"))
#: A transition of a document read in an earlier unit of work (``transition_if``): applied only while its
#: row still has the status, attempts and message id it was read with. The UPDATE checks them itself, and
#: on PostgreSQL a concurrent change is waited for and the condition checked on the row it left (READ
#: COMMITTED), as ``SELECT ... FOR UPDATE`` then an UPDATE would: one statement instead of two.
_OUTBOUND_UPDATE_IF = _OUTBOUND_UPDATE.where(
    outbound_documents.c.status == bindparam("b_status"),
    outbound_documents.c.attempts == bindparam("b_attempts"),
    outbound_documents.c.as4_message_id.is_not_distinct_from(
        bindparam("b_message", type_=outbound_documents.c.as4_message_id.type)
    ),
)
#: A document to deliver with what its attempt needs besides: its UBL, validation report and buyer country
#: when no message was built for it yet (a message built before is resent as stored: the bytes are not
#: read). One statement where ``get`` then ``get_content`` were two (issue 12).
_UNSENT = outbound_documents.c.as4_message_id.is_(None)
_OUTBOUND_FOR_ATTEMPT = select(
    *_OUTBOUND_META,
    case((_UNSENT, outbound_documents.c.ubl)).label("unsent_ubl"),
    case((_UNSENT, outbound_documents.c.validation_report)).label("unsent_report"),
    outbound_documents.c.buyer_country,
).where(outbound_documents.c.id == bindparam("b_id"))
_INSERT_EVENT = insert(outbound_events)
_UNFINISHED = [DeliveryStatus.ACCEPTED.value, DeliveryStatus.SENDING.value, DeliveryStatus.RETRYING.value]
#: The response an Invoice Response must not overtake and its status (``earlier_response``): asked before
#: each attempt of an Invoice Response only. The document's SUBMITTED entry is its first on the
#: ``(document_id, id)`` index; the other document is read by its primary key.
_SUBMITTED = outbound_events.alias("submitted")
_EARLIER_RESPONSE = (
    select(outbound_documents.c.id, outbound_documents.c.status)
    .select_from(_SUBMITTED)
    .join(outbound_documents, outbound_documents.c.id == _SUBMITTED.c.detail[RESPONSE_AFTER].as_string())
    .where(
        _SUBMITTED.c.document_id == bindparam("b_id"),
        _SUBMITTED.c.event == DeliveryEvent.SUBMITTED.value,
    )
    .limit(1)
)
_INSERT_INBOUND = insert(inbound_documents)
_INBOUND_BY_ID = select(*_INBOUND_META).where(inbound_documents.c.id == bindparam("b_id"))
_INBOUND_UPDATE = update(inbound_documents).where(inbound_documents.c.id == bindparam("b_id"))
#: The verdict of a document still awaiting it: whoever records it first hands the document on.
_INBOUND_UPDATE_PENDING = _INBOUND_UPDATE.where(
    inbound_documents.c.status == InboundStatus.RECEIVED.value,
    inbound_documents.c.status_reason == VALIDATION_PENDING,
)

_INBOUND_CLAIMABLE = claimable_inbound(bindparam("b_claimed_before"))
#: The oldest claimable document. ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: concurrent claims take the next
#: one instead of waiting for this one's transaction (SQLite renders no lock: its writers are serialised).
_INBOUND_NEXT_CLAIMABLE = (
    select(*_INBOUND_META)
    .where(_INBOUND_CLAIMABLE)
    .order_by(inbound_documents.c.received_at, inbound_documents.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
#: The same among the documents received before a time (the pending sweep's age).
_INBOUND_NEXT_CLAIMABLE_RECEIVED_BEFORE = _INBOUND_NEXT_CLAIMABLE.where(
    inbound_documents.c.received_at <= bindparam("b_received_before")
)
_INBOUND_CLAIM = (
    update(inbound_documents)
    .where(inbound_documents.c.id == bindparam("b_id"), _INBOUND_CLAIMABLE)
    .values(updated_at=bindparam("b_claimed_at"))
)
_NOTIFY_RECEIVED = text(f"NOTIFY {RECEIVED_CHANNEL}")


def _outbound_from_row(row: Row[Any]) -> OutboundDocument:
    # By key, not attribute: a Row's attribute lookup first fails as an attribute (an AttributeError made
    # and dropped per column), ≈ three times the cost of its mapping's (issue 12).
    m = row._mapping
    return OutboundDocument(
        id=m["id"],
        kind=DocumentKind(m["kind"]),
        seller_id=m["seller_id"],
        document_number=m["document_number"],
        sender=ParticipantID.parse(m["sender_id"]),
        receiver=parse_receiver(m["receiver_id"], stored=True),
        document_type=DocumentTypeID.parse(m["document_type_id"]),
        process=ProcessID.parse(m["process_id"]),
        status=DeliveryStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        status_reason=m["status_reason"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        as4_message_id=m["as4_message_id"],
    )


def _inbound_from_row(row: Row[Any]) -> InboundDocument:
    return InboundDocument(
        id=row.id,
        as4_message_id=row.as4_message_id,
        sender=ParticipantID.parse(row.sender_id),
        receiver=ParticipantID.parse(row.receiver_id),
        document_type=DocumentTypeID.parse(row.document_type_id),
        process=ProcessID.parse(row.process_id),
        status=InboundStatus(row.status),
        received_at=row.received_at,
        updated_at=row.updated_at,
        sbdh_instance_id=row.sbdh_instance_id,
        status_reason=row.status_reason,
        document_number=row.document_number,
    )


def _number_values(number: str) -> dict[str, str]:
    return {"document_number": number, "document_number_key": number_key(number)}


def _event_from_row(row: Row[Any]) -> TimelineEvent:
    return TimelineEvent(
        document_id=row.document_id,
        at=row.at,
        from_status=DeliveryStatus(row.from_status) if row.from_status is not None else None,
        to_status=DeliveryStatus(row.to_status),
        event=DeliveryEvent(row.event),
        detail=row.detail,
    )


def _transition_values(
    event: DeliveryEvent,
    target: DeliveryStatus,
    at: datetime,
    reason: str | None,
    next_attempt_at: datetime | None,
    as4_message_id: str | None,
    attempts: int,
) -> dict[str, Any]:
    """The columns a transition to ``target`` sets (``transition``'s effects)."""
    values: dict[str, Any] = {
        "status": target.value,
        "status_reason": reason,
        "next_attempt_at": next_attempt_at,
        "updated_at": at,
    }
    if event is DeliveryEvent.SEND_STARTED:
        values["attempts"] = attempts + 1
    if as4_message_id is not None:
        values["as4_message_id"] = as4_message_id
    return values


def _newest_first_page(
    rows: Sequence[Row[Any]], limit: int, stamp: str
) -> tuple[Sequence[Row[Any]], PageCursor | None]:
    """Cut the ``limit + 1`` rows fetched into a page and the cursor of its last row (None if last page)."""
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], PageCursor(getattr(last, stamp), last.id)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"page size {limit} is not within 1..{MAX_PAGE_SIZE}")


def _before_cursor(stamp: ColumnElement[datetime], ident: ColumnElement[str], cursor: PageCursor) -> Any:
    # Keyset pagination (newest first): strictly older, ties broken by id, so no item repeats or is skipped.
    return or_(stamp < cursor.at, and_(stamp == cursor.at, ident < cursor.id))


def _responses_to(inbound_document_id: str | ColumnElement[str]) -> Select[str]:
    """The Invoice Responses to ``inbound_document_id`` (``answers_inbound_document_id``, the partial index
    on it: the few responses to that document, however many the supplier has had), joined with their
    SUBMITTED entry (``outbound_events``, on its ``(document_id, id)`` index): that entry's id is the
    order they were queued in (an autoincrement taken in the queueing transaction; never a date, which a
    clock running behind could have written earlier, nor created_at, which may tie)."""
    t, e = outbound_documents, outbound_events
    return (
        select(t.c.id)
        .join(e, e.c.document_id == t.c.id)
        .where(
            t.c.answers_inbound_document_id == inbound_document_id,
            t.c.answers_inbound_document_id.is_not(None),  # the partial index's predicate, verbatim
            t.c.kind == DocumentKind.INVOICE_RESPONSE.value,
            e.c.event == DeliveryEvent.SUBMITTED.value,
        )
    )


#: The unfinished response to a received document queued last (``latest_unfinished_response``).
_LATEST_UNFINISHED_RESPONSE = (
    _responses_to(bindparam("b_inbound"))
    .where(outbound_documents.c.status.in_(_UNFINISHED))
    .order_by(outbound_events.c.id.desc())
    .limit(1)
)
#: The response queued right after a response to the same received document (``later_response``): the
#: document's own row and SUBMITTED entry, then the responses to what it answers with a higher entry.
_OWN = outbound_documents.alias("own")
_OWN_SUBMITTED = outbound_events.alias("own_submitted")
_LATER_RESPONSE = (
    _responses_to(_OWN.c.answers_inbound_document_id)
    .join(_OWN_SUBMITTED, outbound_events.c.id > _OWN_SUBMITTED.c.id)
    .join(_OWN, _OWN.c.id == _OWN_SUBMITTED.c.document_id)
    .where(
        _OWN.c.id == bindparam("b_id"),
        _OWN_SUBMITTED.c.event == DeliveryEvent.SUBMITTED.value,
        outbound_documents.c.id != _OWN.c.id,
    )
    .order_by(outbound_events.c.id)
    .limit(1)
)


def _answered(document: OutboundDocument, detail: JSONObject | None) -> str | None:
    """The received document an Invoice Response answers, as its SUBMITTED detail names it."""
    if document.kind is not DocumentKind.INVOICE_RESPONSE or detail is None:
        return None
    answers = detail.get(RESPONSE_ANSWERS)
    return str(answers) if answers is not None else None


@maps_db_errors("outbound documents")
class SQLOutboundDocumentRepository:
    """OutboundDocumentRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(
        self,
        document: OutboundDocument,
        content: DocumentContent,
        *,
        body: SlicedBody | None = None,
        detail: JSONObject | None = None,
    ) -> TimelineEvent:
        if document.status is not INITIAL_STATUS:
            raise InvalidTransition(None, DeliveryEvent.SUBMITTED)
        entry = TimelineEvent(
            document_id=document.id,
            at=document.created_at,
            from_status=None,
            to_status=INITIAL_STATUS,
            event=DeliveryEvent.SUBMITTED,
            detail=detail,
        )
        values = {
            "id": document.id,
            "kind": document.kind.value,
            "seller_id": document.seller_id,
            "document_number": document.document_number,
            "sender_id": str(document.sender),
            "receiver_id": str(document.receiver),
            "receiver_key": document.receiver.key,
            "document_type_id": document.document_type.uri,
            "process_id": document.process.uri,
            "validation_report": content.validation_report,
            "buyer_country": content.buyer_country,
            "status": document.status.value,
            "status_reason": document.status_reason,
            "attempts": document.attempts,
            "next_attempt_at": document.next_attempt_at,
            "as4_message_id": document.as4_message_id,
            "created_at": document.created_at,
            "updated_at": document.updated_at,
            "answers_inbound_document_id": _answered(document, detail),
        }
        # The unit of work stays usable after a duplicate (the caller then reads the original): the document
        # row is the block's one refusable insert and comes first (``first_insert_refusable``: a savepoint
        # on PostgreSQL only; on SQLite it cost two statements per submission, issue 12).
        with first_insert_refusable(self._conn):
            # A large body is written a slice at a time on SQLite (``insert_with_blob``): from ``body`` the
            # caller need not hold the bytes at all (BENCHMARKS.md, *Memory, eighteenth pass*).
            insert_with_blob(
                self._conn, outbound_documents, values, "ubl", content.body if body is None else body
            )
            self._append(entry)
        return entry

    def get(self, document_id: str, *, for_update: bool = False) -> OutboundDocument | None:
        statement = _OUTBOUND_BY_ID_FOR_UPDATE if for_update else _OUTBOUND_BY_ID
        row = self._conn.execute(statement, {"b_id": document_id}).first()
        return _outbound_from_row(row) if row is not None else None

    def get_for_attempt(self, document_id: str) -> tuple[OutboundDocument, DocumentContent | None] | None:
        row: Any = self._conn.execute(_OUTBOUND_FOR_ATTEMPT, {"b_id": document_id}).first()
        if row is None:
            return None
        document = _outbound_from_row(row)
        m = row._mapping
        if document.as4_message_id is not None or m["unsent_ubl"] is None:
            return document, None
        return document, DocumentContent(bytes(m["unsent_ubl"]), m["unsent_report"], m["buyer_country"])

    def find_by_number(
        self, seller_id: str, document_number: str, document_types: Collection[DocumentTypeID]
    ) -> list[OutboundDocument]:
        if not document_types:
            return []
        rows = self._conn.execute(
            _OUTBOUND_BY_NUMBER,
            {"b_seller": seller_id, "b_number": document_number, "b_types": [t.uri for t in document_types]},
        )
        return [_outbound_from_row(row) for row in rows]

    def get_content(self, document_id: str) -> DocumentContent | None:
        row = self._conn.execute(_OUTBOUND_CONTENT, {"b_id": document_id}).first()
        return DocumentContent(bytes(row.ubl), row.validation_report) if row is not None else None

    def transition(
        self,
        document_id: str,
        event: DeliveryEvent,
        *,
        at: datetime,
        reason: str | None = None,
        detail: JSONObject | None = None,
        next_attempt_at: datetime | None = None,
        as4_message_id: str | None = None,
        locked: OutboundDocument | None = None,
    ) -> TimelineEvent:
        if locked is not None:
            # Read with ``get(for_update=True)`` in this transaction: its row is locked already and its
            # status and attempts are current; reading them again would cost a statement (issue 12).
            if locked.id != document_id:
                raise ValueError(f"locked document {locked.id!r} is not {document_id!r}")
            current, attempts = locked.status, locked.attempts
        else:
            # FOR UPDATE: a concurrent transition of the same document waits for this transaction, then
            # re-reads the new status (PostgreSQL); SQLite already serialises writers (BEGIN IMMEDIATE).
            row = self._conn.execute(_OUTBOUND_STATUS_FOR_UPDATE, {"b_id": document_id}).first()
            if row is None:
                raise StoreError(f"no outbound document {document_id!r}")
            current, attempts = DeliveryStatus(row.status), row.attempts
        target = apply_event(current, event)
        values = _transition_values(event, target, at, reason, next_attempt_at, as4_message_id, attempts)
        self._conn.execute(_OUTBOUND_UPDATE, {"b_id": document_id, **values})
        entry = TimelineEvent(document_id, at, current, target, event, detail)
        self._append(entry)
        return entry

    def transition_if(
        self,
        document: OutboundDocument,
        event: DeliveryEvent,
        *,
        at: datetime,
        reason: str | None = None,
        detail: JSONObject | None = None,
        next_attempt_at: datetime | None = None,
        as4_message_id: str | None = None,
    ) -> TimelineEvent | None:
        target = apply_event(document.status, event)
        values = _transition_values(
            event, target, at, reason, next_attempt_at, as4_message_id, document.attempts
        )
        guard = {
            "b_id": document.id,
            "b_status": document.status.value,
            "b_attempts": document.attempts,
            "b_message": document.as4_message_id,
        }
        if self._conn.execute(_OUTBOUND_UPDATE_IF, {**guard, **values}).rowcount != 1:
            return None  # changed since it was read, or gone: nothing written
        entry = TimelineEvent(document.id, at, document.status, target, event, detail)
        self._append(entry)
        return entry

    def _append(self, entry: TimelineEvent) -> None:
        self._conn.execute(
            _INSERT_EVENT,
            {
                "document_id": entry.document_id,
                "at": entry.at,
                "from_status": entry.from_status.value if entry.from_status is not None else None,
                "to_status": entry.to_status.value,
                "event": entry.event.value,
                "detail": entry.detail,
            },
        )

    def timeline(self, document_id: str) -> list[TimelineEvent]:
        e = outbound_events
        rows = self._conn.execute(select(e).where(e.c.document_id == document_id).order_by(e.c.id)).all()
        return [_event_from_row(row) for row in rows]

    def latest_unfinished_response(self, inbound_document_id: str) -> str | None:
        found: str | None = self._conn.execute(
            _LATEST_UNFINISHED_RESPONSE, {"b_inbound": inbound_document_id}
        ).scalar_one_or_none()
        return found

    def later_response(self, document_id: str) -> str | None:
        found: str | None = self._conn.execute(_LATER_RESPONSE, {"b_id": document_id}).scalar_one_or_none()
        return found

    def earlier_response(self, document_id: str) -> tuple[str, DeliveryStatus] | None:
        row = self._conn.execute(_EARLIER_RESPONSE, {"b_id": document_id}).first()
        return (row.id, DeliveryStatus(row.status)) if row is not None else None

    def first_event_at(
        self,
        document_id: str,
        event: DeliveryEvent,
        *,
        flag: str | None = None,
        since: datetime | None = None,
    ) -> datetime | None:
        e = outbound_events
        conditions: list[Any] = [e.c.document_id == document_id, e.c.event == event.value]
        if since is not None:
            conditions.append(e.c.at >= since)
        if flag is not None:
            conditions.append(e.c.detail[flag].as_boolean())
        # Walks the document's entries on the (document_id, id) index, oldest first, and stops at the first
        # match: one document's few entries, no index of its own needed.
        stmt = select(e.c.at).where(*conditions).order_by(e.c.id).limit(1)
        return self._conn.execute(stmt).scalar_one_or_none()

    def search(self, query: OutboundQuery) -> Page[OutboundDocument]:
        _check_limit(query.limit)
        t = outbound_documents
        conditions: list[Any] = []
        if query.status is not None:
            conditions.append(t.c.status == query.status.value)
        if query.receiver is not None:
            conditions.append(t.c.receiver_key == query.receiver.key)
        if query.number is not None:
            conditions.append(t.c.document_number == query.number)
        if query.seller_id is not None:
            conditions.append(t.c.seller_id == query.seller_id)
        if query.since is not None:
            conditions.append(t.c.created_at >= query.since)
        if query.after is not None:
            conditions.append(_before_cursor(t.c.created_at, t.c.id, query.after))
        stmt = (
            select(*_OUTBOUND_META)
            .where(*conditions)
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(query.limit + 1)
        )
        rows, cursor = _newest_first_page(self._conn.execute(stmt).all(), query.limit, "created_at")
        return Page(tuple(_outbound_from_row(row) for row in rows), cursor)

    def count_by_status(self) -> dict[DeliveryStatus, int]:
        t = outbound_documents
        counts = dict.fromkeys(DeliveryStatus, 0)
        for status, count in self._conn.execute(select(t.c.status, func.count()).group_by(t.c.status)):
            counts[DeliveryStatus(status)] = int(count)
        return counts


@maps_db_errors("inbound documents")
class SQLInboundDocumentRepository:
    """InboundDocumentRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, document: InboundDocument, content: DocumentContent, *, wake_workers: bool = False) -> None:
        values = {
            "id": document.id,
            "as4_message_id": document.as4_message_id,
            "sender_id": str(document.sender),
            "sender_key": document.sender.key,
            "receiver_id": str(document.receiver),
            "receiver_key": document.receiver.key,
            "document_type_id": document.document_type.uri,
            "process_id": document.process.uri,
            "sbdh_instance_id": document.sbdh_instance_id,
            "validation_report": content.validation_report,
            "status": document.status.value,
            "status_reason": document.status_reason,
            "received_at": document.received_at,
            "updated_at": document.updated_at,
            "document_number": None,
            "document_number_key": None,
        }
        if document.document_number is not None:  # the receiver reads it later, with the verdict
            values.update(_number_values(document.document_number))
        with first_insert_refusable(self._conn):  # the body row is keyed by the document's id
            self._conn.execute(_INSERT_INBOUND, values)
            # The bytes in their own row: the status updates that follow never rewrite them (tables.exchange).
            insert_with_blob(
                self._conn, inbound_document_bodies, {"document_id": document.id}, "body", content.body
            )
        if wake_workers and self._conn.dialect.name == "postgresql":
            # Wakes the workers that finish received documents (``store.job_signal``,
            # ``GATEWAY_AS4__AFTER_RECEIPT=worker``) when the receipt commits. Only then: none listen
            # otherwise, and PostgreSQL serialises the commits of transactions that notified.
            self._conn.execute(_NOTIFY_RECEIVED)

    def get(self, document_id: str) -> InboundDocument | None:
        row = self._conn.execute(_INBOUND_BY_ID, {"b_id": document_id}).first()
        return _inbound_from_row(row) if row is not None else None

    def get_by_message_id(self, as4_message_id: str) -> InboundDocument | None:
        row = self._conn.execute(
            select(*_INBOUND_META).where(inbound_documents.c.as4_message_id == as4_message_id)
        ).first()
        return _inbound_from_row(row) if row is not None else None

    def get_content(self, document_id: str) -> DocumentContent | None:
        t, b = inbound_documents, inbound_document_bodies
        row = self._conn.execute(
            select(b.c.body, t.c.validation_report).join_from(t, b).where(t.c.id == document_id)
        ).first()
        return DocumentContent(bytes(row.body), row.validation_report) if row is not None else None

    def search(self, query: InboundQuery) -> Page[InboundDocument]:
        _check_limit(query.limit)
        t = inbound_documents
        conditions: list[Any] = []
        if query.status is not None:
            conditions.append(t.c.status == query.status.value)
        if query.sender is not None:
            conditions.append(t.c.sender_key == query.sender.key)
        if query.receiver is not None:
            conditions.append(t.c.receiver_key == query.receiver.key)
        if query.number is not None:
            conditions.extend(
                number_conditions(t.c.document_number_key, query.number, self._conn.dialect.name)
            )
        if query.since is not None:
            conditions.append(t.c.received_at >= query.since)
        if query.after is not None:
            conditions.append(_before_cursor(t.c.received_at, t.c.id, query.after))
        stmt = (
            select(*_INBOUND_META)
            .where(*conditions)
            .order_by(t.c.received_at.desc(), t.c.id.desc())
            .limit(query.limit + 1)
        )
        rows, cursor = _newest_first_page(self._conn.execute(stmt).all(), query.limit, "received_at")
        return Page(tuple(_inbound_from_row(row) for row in rows), cursor)

    def record_validation(
        self,
        document_id: str,
        *,
        status: InboundStatus,
        report: JSONObject | None,
        reason: str | None,
        at: datetime,
        only_pending: bool = False,
        number: str | None = None,
    ) -> bool:
        values = {
            "status": status.value,
            "validation_report": report,
            "status_reason": reason,
            "updated_at": at,
            **(_number_values(number) if number is not None else {}),
        }
        statement = _INBOUND_UPDATE_PENDING if only_pending else _INBOUND_UPDATE
        result = self._conn.execute(statement, {"b_id": document_id, **values})
        if only_pending:
            return result.rowcount == 1
        if result.rowcount != 1:
            raise StoreError(f"no inbound document {document_id!r}")
        return True

    def pending_validation(self, *, limit: int) -> list[InboundDocument]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        t = inbound_documents
        stmt = (
            select(*_INBOUND_META)
            .where(t.c.status == InboundStatus.RECEIVED.value, t.c.status_reason == VALIDATION_PENDING)
            .order_by(t.c.received_at, t.c.id)
            .limit(limit)
        )
        rows = self._conn.execute(stmt).all()
        return [_inbound_from_row(row) for row in rows]

    def claim_pending(
        self, *, now: datetime, claimed_before: datetime, received_before: datetime | None = None
    ) -> InboundDocument | None:
        if received_before is None:
            row = self._conn.execute(_INBOUND_NEXT_CLAIMABLE, {"b_claimed_before": claimed_before}).first()
        else:
            parameters = {"b_claimed_before": claimed_before, "b_received_before": received_before}
            row = self._conn.execute(_INBOUND_NEXT_CLAIMABLE_RECEIVED_BEFORE, parameters).first()
        if row is None:
            return None
        document = _inbound_from_row(row)
        # Later than its receipt, however coarse the clock: a claimed row never reads as unclaimed.
        claimed_at = max(now, document.received_at + _CLAIM_TICK)
        result = self._conn.execute(
            _INBOUND_CLAIM,
            {"b_id": document.id, "b_claimed_before": claimed_before, "b_claimed_at": claimed_at},
        )
        if result.rowcount != 1:  # claimed by a concurrent transaction meanwhile
            return None
        return replace(document, updated_at=claimed_at)

    def count_by_status(self) -> dict[InboundStatus, int]:
        t = inbound_documents
        counts = dict.fromkeys(InboundStatus, 0)
        rows = self._conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all()
        for status, count in rows:
            counts[InboundStatus(status)] = int(count)
        return counts

    def without_number(self, *, after: str, limit: int) -> list[InboundDocument]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        t = inbound_documents
        stmt = (
            select(*_INBOUND_META)
            .where(t.c.document_number.is_(None), t.c.id > after)
            .order_by(t.c.id)
            .limit(limit)
        )
        return [_inbound_from_row(row) for row in self._conn.execute(stmt)]

    def fill_number(self, document_id: str, number: str) -> bool:
        t = inbound_documents
        stmt = (
            update(t)
            .where(t.c.id == document_id, t.c.document_number.is_(None))
            .values(**_number_values(number))
        )
        return self._conn.execute(stmt).rowcount == 1
