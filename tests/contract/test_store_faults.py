"""Every store access turns a lost database connection into StoreError (never a driver exception).

The fault is real: on PostgreSQL the server terminates the backends of the test database
(``pg_terminate_backend`` from an admin connection); on SQLite, where no server can drop a connection, the
unit of work's own file connection is closed under it. Both surface in SQLAlchemy as they would in
production (OperationalError / ProgrammingError on the next statement, and on the rollback).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from store_databases import PostgresServer

from gateway.errors import StoreError
from gateway.model import BIS_INVOICE, ParticipantID
from gateway.model.message import Direction
from gateway.services.ports import InboundQuery, OutboundQuery
from gateway.store import SQLDocumentStore, SQLUnitOfWork

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SOMEONE = ParticipantID.parse("0208:0739484052")

Cut = Callable[[], None]


@pytest.fixture
def cut(backend: str, store: SQLDocumentStore, request: pytest.FixtureRequest) -> Iterator[Cut]:
    """Cut the database connection of the unit of work in progress."""
    if backend == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database = store.engine.url.database

        def terminate() -> None:
            with server.connect() as admin:
                killed = admin.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).scalar()
            assert killed, "no backend of the test database was connected"

        yield terminate
        return

    checked_out: list[Any] = []

    def remember(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        checked_out.append(dbapi_connection)

    event.listen(store.engine, "checkout", remember)
    try:
        yield lambda: checked_out[-1].close()
    finally:
        event.remove(store.engine, "checkout", remember)
        store.engine.dispose()  # drop the closed connection from the pool


READS: dict[str, Callable[[SQLUnitOfWork], object]] = {
    "outbound.get": lambda uow: uow.outbound.get("doc"),
    "outbound.find_by_number": lambda uow: uow.outbound.find_by_number("seller", "F-1", (BIS_INVOICE,)),
    "outbound.get_content": lambda uow: uow.outbound.get_content("doc"),
    "outbound.timeline": lambda uow: uow.outbound.timeline("doc"),
    "outbound.search": lambda uow: uow.outbound.search(OutboundQuery(receiver=SOMEONE)),
    "outbound.count_by_status": lambda uow: uow.outbound.count_by_status(),
    "inbound.get": lambda uow: uow.inbound.get("doc"),
    "inbound.get_by_message_id": lambda uow: uow.inbound.get_by_message_id("m@x"),
    "inbound.get_content": lambda uow: uow.inbound.get_content("doc"),
    "inbound.search": lambda uow: uow.inbound.search(InboundQuery(sender=SOMEONE)),
    "inbound.pending_validation": lambda uow: uow.inbound.pending_validation(limit=5),
    "messages.get": lambda uow: uow.messages.get("m@x", Direction.OUT),
    "messages.find_by_instance_id": lambda uow: uow.messages.find_by_instance_id("i", Direction.IN),
    "messages.instance_check": lambda uow: uow.messages.instance_check("i", "m", Direction.IN),
    "messages.for_document": lambda uow: uow.messages.for_document("doc"),
    "messages.summaries_for_document": lambda uow: uow.messages.summaries_for_document("doc", Direction.OUT),
    "messages.signals": lambda uow: uow.messages.signals("m@x", Direction.OUT),
    "idempotency.get": lambda uow: uow.idempotency.get("erp", "key"),
    "jobs.get": lambda uow: uow.jobs.get("doc"),
    "jobs.counts": lambda uow: uow.jobs.counts(now=NOW),
    "jobs.lease": lambda uow: uow.jobs.lease(now=NOW, limit=1, lease_for=timedelta(minutes=1), token="t"),
    "jobs.renew": lambda uow: uow.jobs.renew("doc", "t", now=NOW, lease_for=timedelta(minutes=1)),
    "outbox.get": lambda uow: uow.outbox.get("hook"),
    "outbox.counts": lambda uow: uow.outbox.counts(now=NOW),
}


def cut_inside(store: SQLDocumentStore, cut: Cut, then: Callable[[SQLUnitOfWork], object], **kw: Any) -> None:
    """Open a unit of work, use its connection, cut it, then call ``then`` and leave the block."""
    with store.unit_of_work(**kw) as uow:
        uow.outbound.count_by_status()  # the transaction is open on a live connection
        cut()
        then(uow)


@pytest.mark.parametrize("name", sorted(READS))
def test_a_lost_connection_raises_store_error(store: SQLDocumentStore, cut: Cut, name: str) -> None:
    with pytest.raises(StoreError):
        cut_inside(store, cut, READS[name], read_only=True)
    # The store serves the next unit of work on a fresh connection.
    with store.unit_of_work(read_only=True) as uow:
        assert uow.outbound.get("doc") is None


@pytest.mark.parametrize("read_only", [True, False], ids=["read-only", "writing"])
def test_a_failed_rollback_on_leaving_raises_store_error(
    store: SQLDocumentStore, cut: Cut, read_only: bool
) -> None:
    # Leaving without commit rolls back; on a lost connection that fails too, and must not leak.
    with pytest.raises(StoreError):
        cut_inside(store, cut, lambda uow: None, read_only=read_only)


def test_a_failed_commit_raises_store_error(store: SQLDocumentStore, cut: Cut) -> None:
    with pytest.raises(StoreError):
        cut_inside(store, cut, lambda uow: uow.commit())
