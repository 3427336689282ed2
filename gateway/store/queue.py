"""SQL adapters for the two leased queues: delivery jobs and the webhook outbox.

Leasing (semantics in ``gateway.services.ports``): one SELECT picks due, unleased-or-expired rows
``ORDER BY due_at LIMIT n FOR UPDATE SKIP LOCKED`` - on PostgreSQL concurrent workers skip each other's rows
and get disjoint sets; SQLite ignores the clause, which is fine because the unit of work already holds the
database write lock (BEGIN IMMEDIATE). Every later step is an UPDATE/DELETE guarded by the lease token, so
a worker whose lease was taken over changes nothing and gets LeaseLost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    Row,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ClauseElement

from gateway.errors import LeaseLost
from gateway.services.ports import (
    DeliveryJob,
    DeliveryLease,
    OutboxCounts,
    OutboxEntry,
    QueueCounts,
    WebhookLease,
    WebhookMessage,
)
from gateway.store.errors import maps_db_errors
from gateway.store.job_signal import JOBS_CHANNEL
from gateway.store.leases import up_for_lease
from gateway.store.savepoints import first_insert_refusable
from gateway.store.tables import delivery_jobs, outbound_documents, webhook_outbox


@cache
def _guarded(table: Table, key: str) -> tuple[Any, Any]:
    """The UPDATE (its SET from the execution's parameters) and DELETE of a row still held by a lease token
    (parameters ``b_key``, ``b_token``), built once per table: building a statement and its cache key costs
    more than running it on SQLite (issue 12)."""
    held = and_(table.c[key] == bindparam("b_key"), table.c.lease_token == bindparam("b_token"))
    return update(table).where(held), delete(table).where(held)


def _lease_statements(
    table: Table, key: Column[str], *open_conditions: Any, also: tuple[Any, ...] = ()
) -> tuple[Any, Any]:
    """A queue's lease: the SELECT of due rows (parameters ``b_now``, ``b_limit``; its columns: the key, the
    attempts and ``also``) and the UPDATE that marks them leased (``b_keys``, ``b_token``, ``b_until``), built
    once per queue with bound parameters: building them and their cache key on every lease cost ≈ 0.09 ms a
    query (issue 12)."""
    now = bindparam("b_now", type_=table.c.due_at.type)
    pick = (
        select(key, table.c.attempts, *also)
        .where(up_for_lease(table, now), *open_conditions)
        .order_by(table.c.due_at, key)
        .limit(bindparam("b_limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    mark = (
        update(table)
        .where(key.in_(bindparam("b_keys", expanding=True)))
        .values(
            lease_token=bindparam("b_token", type_=table.c.lease_token.type),
            leased_until=bindparam("b_until", type_=table.c.leased_until.type),
            attempts=table.c.attempts + 1,
        )
    )
    return pick, mark


#: The stored UBL's size in bytes of a delivery job's document, read with the lease (the worker's memory
#: budget, ``worker.budget``): ``length`` of a BLOB (SQLite) or a bytea (PostgreSQL) is its byte count, and
#: neither database reads the value for it (SQLite takes it from the record header, PostgreSQL from the
#: TOAST pointer). A scalar subquery in the select list: FOR UPDATE locks the job rows only, not the
#: documents', and it costs no second query.
_JOB_DOCUMENT_SIZE = (
    select(func.length(outbound_documents.c.ubl))
    .where(outbound_documents.c.id == delivery_jobs.c.document_id)
    .scalar_subquery()
)
_JOB_LEASE = _lease_statements(
    delivery_jobs,
    delivery_jobs.c.document_id,
    also=(_JOB_DOCUMENT_SIZE.label("size"), delivery_jobs.c.due_at),
)
_WEBHOOK_LEASE = _lease_statements(
    webhook_outbox,
    webhook_outbox.c.id,
    webhook_outbox.c.delivered_at.is_(None),
    webhook_outbox.c.failed_at.is_(None),
)


class _LeasedTable:
    """Lease statements shared by both queues: a table with due_at, attempts, lease_token, leased_until."""

    def __init__(
        self, connection: Connection, table: Table, key: Column[str], statements: tuple[Any, Any]
    ) -> None:
        self.conn = connection
        self.table = table
        self.key = key
        self.statements = statements

    def take(
        self, *, now: datetime, limit: int, lease_for: timedelta, token: str
    ) -> tuple[list[tuple[Any, ...]], datetime]:
        """Lease up to ``limit`` due rows; return the picked rows (key, attempts before this lease, and the
        queue's further columns) and when their lease ends."""
        if limit < 1:
            raise ValueError("lease limit must be at least 1")
        pick, mark = self.statements
        until = now + lease_for
        rows = [tuple(row) for row in self.conn.execute(pick, {"b_now": now, "b_limit": limit})]
        if rows:
            keys = [row[0] for row in rows]
            self.conn.execute(mark, {"b_keys": keys, "b_token": token, "b_until": until})
        return rows, until

    def guarded_update(self, key: str, token: str, values: dict[str, Any]) -> None:
        """Update the row if ``token`` still holds it, else raise LeaseLost (``values``: columns only; the
        built-once statement takes its SET from them, so another key would be dropped or, as ``b_key``,
        override the guard: refused)."""
        unknown = values.keys() - self.table.c.keys()
        if unknown:
            raise ValueError(f"not columns of {self.table.name}: {sorted(unknown)}")
        if any(isinstance(value, ClauseElement) for value in values.values()):  # e.g. attempts - 1
            statement: Any = (
                update(self.table).where(self.key == key, self.table.c.lease_token == token).values(values)
            )
            result = self.conn.execute(statement)
        else:  # plain values: the statement built once (a lease is renewed for every document sent)
            statement, _ = _guarded(self.table, self.key.name)
            result = self.conn.execute(statement, {"b_key": key, "b_token": token, **values})
        if result.rowcount != 1:
            raise LeaseLost(f"lease on {self.table.name} {key!r} is no longer held by this token")

    def guarded_delete(self, key: str, token: str) -> None:
        """Delete the row if ``token`` still holds it, else raise LeaseLost."""
        _, statement = _guarded(self.table, self.key.name)
        result = self.conn.execute(statement, {"b_key": key, "b_token": token})
        if result.rowcount != 1:
            raise LeaseLost(f"lease on {self.table.name} {key!r} is no longer held by this token")


_NOTIFY_JOBS = text(f"NOTIFY {JOBS_CHANNEL}")
_INSERT_WEBHOOK = insert(webhook_outbox)


@cache
def _enqueue_statement(dialect_name: str) -> Any:
    """INSERT ... ON CONFLICT for one dialect, built once (both dialects share the upsert syntax)."""
    t = delivery_jobs
    if dialect_name == "postgresql":
        stmt: Any = postgresql.insert(t)
        earlier = func.least(t.c.due_at, stmt.excluded.due_at)
    else:
        stmt = sqlite.insert(t)
        earlier = func.min(t.c.due_at, stmt.excluded.due_at)  # SQLite's two-argument scalar min()
    # One job per document (primary key). An unleased job is brought forward, never pushed back; a
    # leased one belongs to its worker, which reschedules or completes it - unless that lease ran out by
    # the requested time (the worker died or stalled): then the request takes the job over, released and
    # due at the requested time (never before the old lease's end, so a live holder is never overlapped;
    # the old holder's next step gets LeaseLost).
    released = t.c.lease_token.is_(None)
    return stmt.on_conflict_do_update(
        index_elements=[t.c.document_id],
        set_={
            "due_at": case((released, earlier), else_=stmt.excluded.due_at),
            "lease_token": None,
            "leased_until": None,
        },
        where=or_(released, t.c.leased_until <= stmt.excluded.due_at),
    )


@maps_db_errors("delivery queue")
class SQLDeliveryQueue:
    """DeliveryQueue on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._leases = _LeasedTable(connection, delivery_jobs, delivery_jobs.c.document_id, _JOB_LEASE)

    def enqueue(self, document_id: str, *, due_at: datetime) -> None:
        statement = _enqueue_statement(self._conn.dialect.name)
        self._conn.execute(
            statement, {"document_id": document_id, "due_at": due_at, "attempts": 0, "created_at": due_at}
        )
        if self._conn.dialect.name == "postgresql":
            # Wakes the listening workers (``store.job_signal``) when this transaction commits; a rollback
            # sends nothing, and PostgreSQL folds the notifications of one transaction into one.
            self._conn.execute(_NOTIFY_JOBS)

    def get(self, document_id: str, *, for_update: bool = False) -> DeliveryJob | None:
        t = delivery_jobs
        stmt = select(t).where(t.c.document_id == document_id)
        row = self._conn.execute(stmt.with_for_update() if for_update else stmt).first()
        if row is None:
            return None
        return DeliveryJob(
            row.document_id, row.due_at, row.attempts, row.lease_token, row.leased_until, row.last_error
        )

    def queued_at(self, document_id: str) -> datetime | None:
        t = delivery_jobs
        # ``created_at`` is set to the first ``due_at`` by ``enqueue`` and never changed by its upsert.
        found: datetime | None = self._conn.execute(
            select(t.c.created_at).where(t.c.document_id == document_id)
        ).scalar_one_or_none()
        return found

    def lease(self, *, now: datetime, limit: int, lease_for: timedelta, token: str) -> list[DeliveryLease]:
        rows, until = self._leases.take(now=now, limit=limit, lease_for=lease_for, token=token)
        return [
            DeliveryLease(key, token, until, attempts + 1, size or 0, due_at)
            for key, attempts, size, due_at in rows
        ]

    def renew(self, document_id: str, token: str, *, now: datetime, lease_for: timedelta) -> datetime:
        until = now + lease_for
        self._leases.guarded_update(document_id, token, {"leased_until": until})
        return until

    def complete(self, document_id: str, token: str) -> None:
        self._leases.guarded_delete(document_id, token)

    def reschedule(self, document_id: str, token: str, *, due_at: datetime, error: str | None = None) -> None:
        self._leases.guarded_update(
            document_id,
            token,
            {"due_at": due_at, "lease_token": None, "leased_until": None, "last_error": error},
        )

    def hand_back(self, document_id: str, token: str, *, due_at: datetime, error: str) -> None:
        t = delivery_jobs
        refunded = case((t.c.attempts > 0, t.c.attempts - 1), else_=0)
        self._leases.guarded_update(
            document_id,
            token,
            {
                "due_at": due_at,
                "lease_token": None,
                "leased_until": None,
                "last_error": error,
                "attempts": refunded,
            },
        )

    def fail(self, document_id: str, token: str, *, error: str) -> None:
        self._leases.guarded_delete(document_id, token)

    def counts(self, *, now: datetime) -> QueueCounts:
        t = delivery_jobs
        leased = and_(t.c.leased_until.is_not(None), t.c.leased_until > now)
        row = self._conn.execute(
            select(
                func.count().filter(leased),
                func.count().filter(~leased, t.c.due_at <= now),
                func.count().filter(~leased, t.c.due_at > now),
            )
        ).one()
        return QueueCounts(due=int(row[1]), scheduled=int(row[2]), leased=int(row[0]))


def _webhook_from_row(row: Row[Any]) -> WebhookMessage:
    return WebhookMessage(row.id, row.target, row.payload, row.created_at, row.document_id)


@maps_db_errors("webhook outbox")
class SQLWebhookOutbox:
    """WebhookOutbox on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        t = webhook_outbox
        self._leases = _LeasedTable(connection, t, t.c.id, _WEBHOOK_LEASE)

    def add(self, message: WebhookMessage) -> None:
        # Its one statement in a savepoint on PostgreSQL only: a refused insert leaves the unit of work
        # usable on SQLite without one (``first_insert_refusable``; two statements fewer per webhook).
        with first_insert_refusable(self._conn):
            self._conn.execute(
                _INSERT_WEBHOOK,
                {
                    "id": message.id,
                    "target": message.target,
                    "payload": message.payload,
                    "document_id": message.document_id,
                    "created_at": message.created_at,
                    "due_at": message.created_at,
                    "attempts": 0,
                },
            )

    def get(self, message_id: str) -> OutboxEntry | None:
        t = webhook_outbox
        row = self._conn.execute(select(t).where(t.c.id == message_id)).first()
        if row is None:
            return None
        return OutboxEntry(
            _webhook_from_row(row), row.due_at, row.attempts, row.delivered_at, row.failed_at, row.last_error
        )

    def lease(self, *, now: datetime, limit: int, lease_for: timedelta, token: str) -> list[WebhookLease]:
        taken, until = self._leases.take(now=now, limit=limit, lease_for=lease_for, token=token)
        if not taken:
            return []
        t = webhook_outbox
        rows = self._conn.execute(select(t).where(t.c.id.in_([key for key, _ in taken]))).all()
        by_id = {row.id: _webhook_from_row(row) for row in rows}
        return [WebhookLease(by_id[key], token, until, attempts + 1) for key, attempts in taken]

    def mark_delivered(self, message_id: str, token: str, *, at: datetime) -> None:
        self._leases.guarded_update(
            message_id,
            token,
            {"delivered_at": at, "lease_token": None, "leased_until": None, "last_error": None},
        )

    def reschedule(self, message_id: str, token: str, *, due_at: datetime, error: str) -> None:
        self._leases.guarded_update(
            message_id,
            token,
            {"due_at": due_at, "lease_token": None, "leased_until": None, "last_error": error},
        )

    def fail(self, message_id: str, token: str, *, at: datetime, error: str) -> None:
        self._leases.guarded_update(
            message_id,
            token,
            {"failed_at": at, "lease_token": None, "leased_until": None, "last_error": error},
        )

    def counts(self, *, now: datetime) -> OutboxCounts:
        t = webhook_outbox
        pending = and_(t.c.delivered_at.is_(None), t.c.failed_at.is_(None))
        row = self._conn.execute(
            select(func.count().filter(pending), func.count().filter(t.c.failed_at.is_not(None)))
        ).one()
        return OutboxCounts(pending=int(row[0]), failed=int(row[1]))
