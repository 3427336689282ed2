"""The SQL document store: units of work (one transaction each) over the SQL repositories and queues."""

from __future__ import annotations

import contextlib
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Connection, Engine, RootTransaction

from gateway.errors import StoreError
from gateway.store.answers import SQLPendingAnswerRepository
from gateway.store.documents import SQLInboundDocumentRepository, SQLOutboundDocumentRepository
from gateway.store.engine import (
    SQLiteWriteLock,
    make_engine,
    sqlite_begin_deferred,
    sqlite_begin_forgotten,
    sqlite_write_lock,
)
from gateway.store.errors import map_db_errors
from gateway.store.expenses import SQLExpenseRepository, SQLUnitRepository
from gateway.store.messages import SQLAS4MessageRepository, SQLIdempotencyRepository
from gateway.store.queue import SQLDeliveryQueue, SQLWebhookOutbox
from gateway.store.reporting import SQLReportingRepository

if TYPE_CHECKING:
    from gateway.services.ports import DocumentStore


class SQLUnitOfWork:
    """One database transaction with every repository bound to it (implements ``UnitOfWork``).

    The transaction starts on ``__enter__`` (SQLite: BEGIN IMMEDIATE, or BEGIN DEFERRED when read-only) and
    ends with ``commit()`` or, on leaving the block without commit, a rollback. On SQLite a writing unit of
    work holds the engine's ``SQLiteWriteLock`` from before its BEGIN to its end, so writers queue there
    and wake at once instead of sleeping in SQLite's busy handler. Database errors surface as
    StoreError subclasses; after one (other than DuplicateMessage, which undoes only the refused write)
    the unit of work should be abandoned.
    """

    def __init__(
        self, engine: Engine, *, read_only: bool = False, write_lock: SQLiteWriteLock | None = None
    ) -> None:
        self._engine = engine
        self._read_only = read_only
        self._write_lock = None if read_only else write_lock
        self._locked = False
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work can be entered only once")
        with map_db_errors("begin transaction"):
            if self._write_lock is not None:
                self._write_lock.acquire()
                self._locked = True
            try:
                connection = self._engine.connect()
            except BaseException:
                self._unlock()
                raise
            sqlite = connection.dialect.name == "sqlite"
            try:
                if sqlite:
                    if self._read_only:  # else the engine's BEGIN IMMEDIATE
                        sqlite_begin_deferred(connection)
                elif self._read_only:
                    connection.execution_options(postgresql_readonly=True)
                self._transaction = connection.begin()
            except BaseException:
                try:
                    if sqlite:
                        with contextlib.suppress(Exception):
                            sqlite_begin_forgotten(connection)
                    connection.close()
                finally:
                    self._unlock()
                raise
        self._connection = connection
        return self

    # The repositories are made on first use: a unit of work touches two or three of the ten, and some
    # build SQL expressions when made (measured: ≈ 2 % of a delivery worker's CPU, issue 12).

    @cached_property
    def outbound(self) -> SQLOutboundDocumentRepository:
        return SQLOutboundDocumentRepository(self.connection)

    @cached_property
    def inbound(self) -> SQLInboundDocumentRepository:
        return SQLInboundDocumentRepository(self.connection)

    @cached_property
    def messages(self) -> SQLAS4MessageRepository:
        return SQLAS4MessageRepository(self.connection)

    @cached_property
    def idempotency(self) -> SQLIdempotencyRepository:
        return SQLIdempotencyRepository(self.connection)

    @cached_property
    def jobs(self) -> SQLDeliveryQueue:
        return SQLDeliveryQueue(self.connection)

    @cached_property
    def outbox(self) -> SQLWebhookOutbox:
        return SQLWebhookOutbox(self.connection)

    @cached_property
    def expenses(self) -> SQLExpenseRepository:
        return SQLExpenseRepository(self.connection)

    @cached_property
    def units(self) -> SQLUnitRepository:
        return SQLUnitRepository(self.connection)

    @cached_property
    def answers(self) -> SQLPendingAnswerRepository:
        return SQLPendingAnswerRepository(self.connection)

    @cached_property
    def reporting(self) -> SQLReportingRepository:
        return SQLReportingRepository(self.connection)

    def commit(self) -> None:
        """Commit the transaction; raise StoreError if the database refuses."""
        transaction = self._require_transaction()
        with map_db_errors("commit"):
            transaction.commit()
        self._unlock()

    def rollback(self) -> None:
        """Roll the transaction back (no-op once it ended)."""
        transaction = self._require_transaction()
        if transaction.is_active:
            with map_db_errors("rollback"):
                transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            with map_db_errors("end transaction"):
                try:
                    if self._transaction is not None and self._transaction.is_active:
                        self._transaction.rollback()
                finally:
                    try:
                        connection.close()
                    finally:
                        self._unlock()
        except StoreError:
            # A rollback on a lost connection fails too; the error that left the block matters more.
            if exc is None:
                raise

    def _unlock(self) -> None:
        if self._locked and self._write_lock is not None:
            self._locked = False
            self._write_lock.release()

    @property
    def connection(self) -> Connection:
        """The connection of this unit of work (for adapters outside the repositories, e.g. retention)."""
        if self._connection is None:
            raise StoreError("the unit of work was not entered (use it in a with block)")
        return self._connection

    def _require_transaction(self) -> RootTransaction:
        if self._transaction is None:
            raise StoreError("the unit of work was not entered (use it in a with block)")
        return self._transaction


class SQLDocumentStore:
    """DocumentStore over a SQLAlchemy engine (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_lock = sqlite_write_lock(engine)

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> SQLDocumentStore:
        """A store on a new engine made by ``make_engine(url, **engine_options)`` (e.g. ``pool_size``,
        ``max_overflow``); the schema must be migrated already."""
        return cls(make_engine(url, **engine_options))

    def unit_of_work(self, *, read_only: bool = False) -> SQLUnitOfWork:
        """Open a transaction; see ``gateway.services.ports.DocumentStore``."""
        return SQLUnitOfWork(self.engine, read_only=read_only, write_lock=self._write_lock)

    def close(self) -> None:
        """Dispose of the engine's pooled connections."""
        self.engine.dispose()


if TYPE_CHECKING:

    def _implements_port(engine: Engine) -> DocumentStore:
        # mypy checks here, structurally, that the adapter satisfies the DocumentStore port.
        return SQLDocumentStore(engine)
