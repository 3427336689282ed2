"""SQL adapters for AS4 messages (raw bytes and every signal kept as evidence) and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql

from gateway.errors import DuplicateMessage, IdempotencyConflict, StoreError
from gateway.model.message import (
    AS4MessageRecord,
    AS4MessageSummary,
    AS4Signal,
    Direction,
    HTTPHeaders,
    RawHTTPMessage,
    SignalKind,
)
from gateway.services.ports import IdempotencyRecord, InstanceCheck, InstanceMessage
from gateway.store.blobs import insert_with_blob
from gateway.store.errors import map_db_errors, maps_db_errors
from gateway.store.tables import as4_messages, as4_signals, idempotency_keys, outbound_documents


def _headers_to_json(headers: HTTPHeaders) -> list[list[str]]:
    return [[name, value] for name, value in headers]


def _headers_from_json(value: list[list[str]]) -> HTTPHeaders:
    return tuple((str(name), str(text)) for name, text in value)


# Statements of the delivery and receive paths, built once (see store/documents.py).
_MESSAGE_KEY = (
    as4_messages.c.message_id == bindparam("b_id"),
    as4_messages.c.direction == bindparam("b_direction"),
)
_MESSAGE = select(as4_messages).where(*_MESSAGE_KEY)
# PostgreSQL: a MessageId stored already is refused before its row is written. A plain INSERT refused by
# the primary key writes the whole tuple first (the request body to TOAST and the WAL, left dead): a
# 20 MB message resent by its sender cost 22 MB of WAL and 20 MB of table, where ON CONFLICT costs 5 kB
# (measured for review2). Never on SQLite: there the body may be streamed into the row found by its key.
# RETURNING tells whether the row was written (the rowcount of this INSERT is -1 through the driver).
_ADD_UNLESS_STORED = (
    postgresql.insert(as4_messages)
    .on_conflict_do_nothing(index_elements=[as4_messages.c.message_id, as4_messages.c.direction])
    .returning(as4_messages.c.message_id)
)
_MESSAGE_DOCUMENT = select(as4_messages.c.document_id).where(*_MESSAGE_KEY)
_MESSAGE_UPDATE = update(as4_messages).where(*_MESSAGE_KEY)
_INSERT_SIGNAL = insert(as4_signals)


def _earliest_of_instance(*columns: Any) -> Select[Any]:
    """The earliest message (``columns`` of it) carrying an SBDH instance in one direction: the first entry of
    ix_as4_messages_instance_order (migration 0014)."""
    return (
        select(*columns)
        .where(
            as4_messages.c.sbdh_instance_id == bindparam("b_instance"),
            as4_messages.c.direction == bindparam("b_direction"),
        )
        .order_by(as4_messages.c.created_at, as4_messages.c.message_id)
        .limit(1)
    )


_BY_INSTANCE = _earliest_of_instance(as4_messages)
# Every received message is checked against its SBDH instance (``instance_check``): the earliest message
# without its bytes, and whether the received MessageId is one of the instance's (its primary key). Never
# every message of the instance: a sender reusing one InstanceIdentifier thousands of times made each
# later message read all of them.
_INSTANCE_EARLIEST = _earliest_of_instance(as4_messages.c.message_id, as4_messages.c.document_id)
_IN_INSTANCE = (
    select(as4_messages.c.message_id)
    .where(*_MESSAGE_KEY, as4_messages.c.sbdh_instance_id == bindparam("b_instance"))
    .limit(1)
)
# PostgreSQL: deliveries of one SBDH instance are checked one at a time, until the checking transaction ends
# (``instance_check``). Under READ COMMITTED two overlapping deliveries (an application-level resend under a
# new MessageId while the original's receipt is still being stored) both found no earlier message and each
# stored the document: two documents, two expense drafts, two MLS. SQLite's BEGIN IMMEDIATE serialises them.
#: The two-key form: its key space is apart from the one-key locks (``job_signal.LISTENER_LOCK``, held for as
#: long as a worker listens), which a sender's chosen instance id could otherwise hash onto. Two instances
#: sharing a 32-bit hash only wait for each other's short transaction.
_INSTANCE_LOCK_CLASS = 0x73626468  # "sbdh"
_LOCK_INSTANCE = select(
    func.pg_advisory_xact_lock(_INSTANCE_LOCK_CLASS, func.hashtext(bindparam("b_instance")))
)
# A document's messages in one direction without their bytes (the status views poll them: a 20 MB
# document's stored message was read in full on every poll).
_t = as4_messages
_SUMMARIES = (
    select(
        _t.c.message_id,
        _t.c.direction,
        _t.c.created_at,
        _t.c.signal_kind,
        _t.c.signal_headers,
        _t.c.signal_body,
        _t.c.signal_at,
        _t.c.ebms_error_code,
        _t.c.receipt_summary,
    )
    .where(_t.c.document_id == bindparam("b_document"), _t.c.direction == bindparam("b_direction"))
    .order_by(_t.c.created_at, _t.c.message_id)
)
# The receipt summaries an MLS is checked against (services/received_answers.py), without the bytes: the
# full rows carried the whole request body of every message of the document and of the MLS itself.
_INSTANCE_RECEIPTS = select(_t.c.receipt_summary).where(
    _t.c.document_id == bindparam("b_document"),
    _t.c.sbdh_instance_id == bindparam("b_instance"),
    _t.c.direction == bindparam("b_direction"),
    _t.c.signal_kind == SignalKind.RECEIPT.value,
)
_SIGNAL_SUMMARY = select(_t.c.signal_kind, _t.c.receipt_summary).where(*_MESSAGE_KEY)
_ATTEMPTS = select(outbound_documents.c.attempts).where(outbound_documents.c.id == bindparam("b_id"))


def _signal_columns(signal: AS4Signal) -> dict[str, Any]:
    return {
        "signal_kind": signal.kind.value,
        "signal_headers": _headers_to_json(signal.raw.headers),
        "signal_body": signal.raw.body,
        "signal_at": signal.at,
        "ebms_error_code": signal.ebms_error_code,
        "receipt_summary": signal.receipt_summary,
    }


def _history_values(
    message_id: str, direction: Direction, signal: AS4Signal, attempt: int | None
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "direction": direction.value,
        "at": signal.at,
        "kind": signal.kind.value,
        "ebms_error_code": signal.ebms_error_code,
        "headers": _headers_to_json(signal.raw.headers),
        "body": signal.raw.body,
        "summary": signal.receipt_summary,
        "attempt": attempt,
    }


def _signal_from_history(row: Row[Any]) -> AS4Signal:
    return AS4Signal(
        kind=SignalKind(row.kind),
        raw=RawHTTPMessage(_headers_from_json(row.headers), bytes(row.body)),
        at=row.at,
        ebms_error_code=row.ebms_error_code,
        receipt_summary=row.summary,
    )


def _signal_from_row(row: Any) -> AS4Signal | None:  # a Row of a message or of its summary
    if row.signal_kind is None:
        return None
    return AS4Signal(
        kind=SignalKind(row.signal_kind),
        raw=RawHTTPMessage(_headers_from_json(row.signal_headers or []), bytes(row.signal_body or b"")),
        at=row.signal_at,
        ebms_error_code=row.ebms_error_code,
        receipt_summary=row.receipt_summary,
    )


def _message_from_row(row: Row[Any]) -> AS4MessageRecord:
    signal = _signal_from_row(row)
    return AS4MessageRecord(
        message_id=row.message_id,
        direction=Direction(row.direction),
        request=RawHTTPMessage(_headers_from_json(row.request_headers), bytes(row.request_body)),
        created_at=row.created_at,
        document_id=row.document_id,
        sbdh_instance_id=row.sbdh_instance_id,
        signal=signal,
    )


@maps_db_errors("AS4 messages")
class SQLAS4MessageRepository:
    """AS4MessageRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, record: AS4MessageRecord) -> None:
        values: dict[str, Any] = {
            "message_id": record.message_id,
            "direction": record.direction.value,
            "document_id": record.document_id,
            "sbdh_instance_id": record.sbdh_instance_id,
            "request_headers": _headers_to_json(record.request.headers),
            "created_at": record.created_at,
        }
        if record.signal is not None:
            values.update(_signal_columns(record.signal))
        # On a duplicate the caller reads the stored original in the same unit of work (and no history row
        # of the refused duplicate is written: the message row is the first statement). No savepoint: on
        # PostgreSQL ON CONFLICT DO NOTHING refuses a stored key without failing the statement (the key is
        # the table's only unique constraint), so the transaction stays usable; SQLite undoes only the
        # refused statement (``store.savepoints``).
        if self._conn.dialect.name == "postgresql":
            body = {**values, "request_body": record.request.body}
            if self._conn.execute(_ADD_UNLESS_STORED, body).first() is None:
                raise DuplicateMessage("AS4 messages.add: already stored")
        else:
            insert_with_blob(self._conn, as4_messages, values, "request_body", record.request.body)
        # A signal kept as its hash only (the answer to an anonymous rejected request) has nothing for the
        # history: its summary is on the message row, once.
        if record.signal is not None and record.signal.raw.body:
            attempt = self._attempt(record.direction, record.document_id)
            history = _history_values(record.message_id, record.direction, record.signal, attempt)
            self._conn.execute(_INSERT_SIGNAL, history)

    def get(self, message_id: str, direction: Direction) -> AS4MessageRecord | None:
        row = self._conn.execute(_MESSAGE, {"b_id": message_id, "b_direction": direction.value}).first()
        return _message_from_row(row) if row is not None else None

    def find_by_instance_id(self, sbdh_instance_id: str, direction: Direction) -> AS4MessageRecord | None:
        row = self._conn.execute(
            _BY_INSTANCE, {"b_instance": sbdh_instance_id, "b_direction": direction.value}
        ).first()
        return _message_from_row(row) if row is not None else None

    def earliest_of_instance(self, sbdh_instance_id: str, direction: Direction) -> InstanceMessage | None:
        row = self._conn.execute(
            _INSTANCE_EARLIEST, {"b_instance": sbdh_instance_id, "b_direction": direction.value}
        ).first()
        return InstanceMessage(row.message_id, row.document_id) if row is not None else None

    def instance_check(self, sbdh_instance_id: str, message_id: str, direction: Direction) -> InstanceCheck:
        if self._conn.dialect.name == "postgresql":  # see _LOCK_INSTANCE
            self._conn.execute(_LOCK_INSTANCE, {"b_instance": sbdh_instance_id})
        earliest = self.earliest_of_instance(sbdh_instance_id, direction)
        if earliest is None:  # a first delivery: one index probe
            return InstanceCheck(None, resent=False)
        if earliest.message_id == message_id:
            return InstanceCheck(earliest, resent=True)
        keys = {"b_instance": sbdh_instance_id, "b_direction": direction.value, "b_id": message_id}
        resent = self._conn.execute(_IN_INSTANCE, keys).first() is not None
        return InstanceCheck(earliest, resent=resent)

    def for_document(self, document_id: str) -> list[AS4MessageRecord]:
        t = as4_messages
        rows = self._conn.execute(
            select(t).where(t.c.document_id == document_id).order_by(t.c.created_at, t.c.message_id)
        ).all()
        return [_message_from_row(row) for row in rows]

    def summaries_for_document(self, document_id: str, direction: Direction) -> list[AS4MessageSummary]:
        rows = self._conn.execute(_SUMMARIES, {"b_document": document_id, "b_direction": direction.value})
        return [
            AS4MessageSummary(row.message_id, Direction(row.direction), row.created_at, _signal_from_row(row))
            for row in rows
        ]

    def receipt_summaries(
        self, document_id: str, sbdh_instance_id: str, direction: Direction
    ) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            _INSTANCE_RECEIPTS,
            {"b_document": document_id, "b_instance": sbdh_instance_id, "b_direction": direction.value},
        )
        return [dict(row.receipt_summary) for row in rows if row.receipt_summary]

    def signal_summary(self, message_id: str, direction: Direction) -> dict[str, Any] | None:
        row = self._conn.execute(
            _SIGNAL_SUMMARY, {"b_id": message_id, "b_direction": direction.value}
        ).first()
        if row is None or row.signal_kind is None or not row.receipt_summary:
            return None
        return dict(row.receipt_summary)

    def record_signal(
        self, message_id: str, direction: Direction, signal: AS4Signal, *, attempt: int | None = None
    ) -> None:
        key = {"b_id": message_id, "b_direction": direction.value}
        if attempt is None:
            row = self._conn.execute(_MESSAGE_DOCUMENT, key).first()
            if row is None:
                raise StoreError(f"no {direction.value} AS4 message {message_id!r}")
            attempt = self._attempt(direction, row.document_id)
        # Latest signal on the message row (what callers show), and appended to the history: an
        # earlier answer (invalid receipt, retryable error) stays as evidence.
        updated = self._conn.execute(_MESSAGE_UPDATE, {**key, **_signal_columns(signal)})
        if updated.rowcount != 1:
            raise StoreError(f"no {direction.value} AS4 message {message_id!r}")
        self._conn.execute(_INSERT_SIGNAL, _history_values(message_id, direction, signal, attempt))

    def signals(self, message_id: str, direction: Direction) -> list[AS4Signal]:
        s = as4_signals
        rows = self._conn.execute(
            select(s)
            .where(s.c.message_id == message_id, s.c.direction == direction.value)
            .order_by(s.c.at, s.c.id)
        ).all()
        return [_signal_from_history(row) for row in rows]

    def purge_rejected(self, key_prefix: str, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` inbound records keyed ``key_prefix…`` that hold no document (rejected
        requests) created before ``before``, with their signal history; returns how
        many (``RejectedEvidencePurge``)."""
        t, s = as4_messages, as4_signals
        with map_db_errors("rejected AS4 evidence"):
            keys = list(
                self._conn.execute(
                    select(t.c.message_id)
                    .where(
                        t.c.message_id.startswith(key_prefix, autoescape=True),
                        t.c.direction == Direction.IN.value,
                        # A sender may call its message "rejected-…": an accepted message always names
                        # its document, a rejection never does; only rejections are purged.
                        t.c.document_id.is_(None),
                        t.c.created_at < before,
                    )
                    .order_by(t.c.created_at)
                    .limit(limit)
                ).scalars()
            )
            if not keys:
                return 0
            inbound = Direction.IN.value
            self._conn.execute(delete(s).where(s.c.message_id.in_(keys), s.c.direction == inbound))
            self._conn.execute(delete(t).where(t.c.message_id.in_(keys), t.c.direction == inbound))
        return len(keys)

    def _attempt(self, direction: Direction, document_id: str | None) -> int | None:
        """The delivery attempt an outbound signal answers: the document's attempt counter, which the
        SEND_STARTED transition of the same attempt has already incremented. None for inbound."""
        if direction is not Direction.OUT or document_id is None:
            return None
        value = self._conn.execute(_ATTEMPTS, {"b_id": document_id}).scalar()
        return int(value) if value is not None else None


def _idempotency_from_row(row: Row[Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        client=row.client,
        key=row.key,
        fingerprint=row.fingerprint,
        response_status=row.response_status,
        response_body=row.response_body,
        created_at=row.created_at,
        document_id=row.document_id,
    )


@maps_db_errors("idempotency keys")
class SQLIdempotencyRepository:
    """IdempotencyRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, client: str, key: str) -> IdempotencyRecord | None:
        k = idempotency_keys
        row = self._conn.execute(select(k).where(k.c.client == client, k.c.key == key)).first()
        return _idempotency_from_row(row) if row is not None else None

    def claim(self, record: IdempotencyRecord) -> IdempotencyRecord:
        stored = self.get(record.client, record.key)
        if stored is None:
            try:
                # On PostgreSQL a concurrent claim of the same key blocks here on the primary key until the
                # other transaction ends; if it committed we get a unique violation, roll back only the
                # savepoint and read its record below (READ COMMITTED sees it in a new statement).
                with map_db_errors("idempotency key"), self._conn.begin_nested():
                    self._conn.execute(
                        insert(idempotency_keys).values(
                            client=record.client,
                            key=record.key,
                            fingerprint=record.fingerprint,
                            document_id=record.document_id,
                            response_status=record.response_status,
                            response_body=record.response_body,
                            created_at=record.created_at,
                        )
                    )
                return record
            except DuplicateMessage:
                stored = self.get(record.client, record.key)
                if stored is None:
                    raise
        if stored.fingerprint != record.fingerprint:
            raise IdempotencyConflict(record.key)
        return stored
