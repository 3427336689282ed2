"""Savepoints around an insert a unique constraint may refuse, where the database needs one.

A caller that catches ``DuplicateMessage`` goes on in the same transaction (it reads the stored original).
PostgreSQL aborts the whole transaction on a failed statement, so the insert runs in a savepoint there.
SQLite undoes only the failed statement and keeps the transaction active (its default conflict resolution,
ABORT: "changes caused by prior SQL statements within the same transaction are preserved and the
transaction remains active"), so there the savepoint adds two statements and nothing else: a SAVEPOINT
and RELEASE pair costs about 60 us of CPU per insert (issue 12, three per received document).

Only for blocks in which the one statement that can be refused by a unique constraint comes first: what
follows it in the block cannot be refused (an autoincrement key, or a row keyed by the row just inserted),
so when the first statement is refused nothing of the block was written, with or without the savepoint.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from sqlalchemy import Connection


def first_insert_refusable(connection: Connection) -> AbstractContextManager[object]:
    """A savepoint on PostgreSQL; nothing on SQLite (see the module)."""
    if connection.dialect.name == "sqlite":
        return nullcontext()
    return connection.begin_nested()
