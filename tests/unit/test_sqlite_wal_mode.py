"""Switching a new SQLite file to WAL retries while another process holds a conflicting lock (SQLite answers
SQLITE_BUSY at once there, without its busy handler: two processes migrating one new file at start-up)."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.store.engine import set_wal_mode


class LockedCursor:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError("database is locked")


def test_retries_until_the_other_process_has_switched() -> None:
    cursor = LockedCursor(failures=3)
    set_wal_mode(cursor, busy_timeout=5, pause=0)
    assert cursor.calls == 4


def test_gives_up_after_the_busy_timeout_and_never_retries_other_errors() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        set_wal_mode(LockedCursor(failures=10**9), busy_timeout=0.01, pause=0.001)

    class Broken:
        def execute(self, sql: str) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk"):
        set_wal_mode(Broken(), busy_timeout=5, pause=0)
