"""Large byte columns written without whole copies on SQLite.

Binding a 20 MB ``bytes`` value makes SQLite copy it (pysqlite binds with ``SQLITE_TRANSIENT``) and then
build the whole record from that copy before it writes the pages: two transient copies of every body. On
SQLite the row is therefore inserted with ``zeroblob(n)`` (a length, no bytes) and the bytes are written
into it through the incremental blob API, a slice at a time, straight from the caller's buffer. The blob
is written inside the caller's transaction, so a rollback undoes it with the row. PostgreSQL takes the
bound value as it is (its driver sends it from the buffer). Bodies under ``STREAM_FROM`` are bound on
SQLite too: their copies cost nothing, the extra statements would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam, func, insert, literal_column, select

from gateway.errors import StoreError
from gateway.model.message import SlicedBody

#: Bytes written per ``blob.write`` call (the slices are views: no copy).
SLICE = 1024 * 1024
#: Smallest body written in slices on SQLite.
STREAM_FROM = SLICE


@cache
def _insert(table: Table) -> Insert:
    # Built once per table: a statement built per call has its cache key generated on every execution.
    return insert(table)


@cache
def _insert_zeroblob(table: Table, column: str) -> Insert:
    # Built once per table (SQLAlchemy then reuses its cache key); the other columns come as parameters.
    return insert(table).values({column: func.zeroblob(bindparam("b_length"))})


def insert_with_blob(
    connection: Connection, table: Table, values: dict[str, Any], column: str, data: bytes | SlicedBody
) -> None:
    """Insert a row of ``table`` whose ``column`` holds ``data``; ``values`` are its other columns, which
    must include the whole primary key (the written row is found by it).

    ``data`` may be a ``SlicedBody`` (a document held in a temporary file): on SQLite its slices are written
    as they are read, so the whole bytes never exist in the process; elsewhere they are read whole.

    Raises:
        StoreError: also when a ``SlicedBody`` cannot be read (its file failed: EIO, cut short), so the
            caller rolls back and answers what it answers any failed write (503, Retry-After), not a bug.
    """
    if connection.dialect.name != "sqlite" or len(data) < STREAM_FROM:
        whole = data if isinstance(data, bytes) else _read_whole(data, f"{table.name}.{column}")
        connection.execute(_insert(table), {**values, column: whole})
        return
    connection.execute(_insert_zeroblob(table, column), {**values, "b_length": len(data)})
    key = [table.c[c.name] == values[c.name] for c in table.primary_key.columns]
    rowid: int = connection.execute(
        select(literal_column("rowid")).select_from(table).where(*key)
    ).scalar_one()
    driver = connection.connection.driver_connection
    slices = _slices(data) if isinstance(data, bytes) else data.slices()
    try:
        with driver.blobopen(table.name, column, rowid) as blob:  # type: ignore[union-attr]
            for piece in slices:
                blob.write(piece)
    except sqlite3.Error as exc:  # the driver's own API: SQLAlchemy does not wrap it (store/errors.py)
        raise StoreError(f"{table.name}.{column}: {type(exc).__name__} while writing the bytes") from exc
    except OSError as exc:  # the body's file (``SlicedBody.slices``)
        raise StoreError(f"{table.name}.{column}: {type(exc).__name__} while reading the bytes") from exc


def _read_whole(data: SlicedBody, what: str) -> bytes:
    try:
        return data.data()
    except OSError as exc:  # the body's file; also HeldDocumentLost
        raise StoreError(f"{what}: {type(exc).__name__} while reading the bytes") from exc


def _slices(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), SLICE):
        yield view[start : start + SLICE]
