"""The people store (accounts, sessions, failed logins) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy import exc as sa_exc

from gateway.store import SQLDocumentStore
from gateway.store.people import PersonRecord, SQLPeopleStore
from gateway.store.tables import web_people

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _people(store: SQLDocumentStore) -> SQLPeopleStore:
    return SQLPeopleStore(store.engine)


def test_accounts_are_created_then_replaced_and_a_replacement_ends_the_sessions(
    store: SQLDocumentStore,
) -> None:
    people = _people(store)
    ann = PersonRecord("ann", "member", frozenset({"PU04711", "PU00123"}), "$argon2id$first")
    assert people.save_person(ann, at=AT) is True
    people.open_session(
        "a" * 64, "ann", "csrf-1", at=AT, expires_at=AT + timedelta(hours=8), password_hash=None
    )
    found = people.find_session("a" * 64, at=AT + timedelta(minutes=1))
    assert found is not None
    assert found.person == ann
    assert found.csrf_token == "csrf-1"

    assert people.save_person(PersonRecord("ann", "support", frozenset(), "$argon2id$second"), at=AT) is False
    assert people.find_session("a" * 64, at=AT + timedelta(minutes=2)) is None  # a new password logs out
    stored = people.get_person("ann")
    assert stored is not None
    assert (stored.role, stored.units, stored.password_hash) == ("support", frozenset(), "$argon2id$second")
    assert [p.name for p in people.list_people()] == ["ann"]
    assert people.get_person("bob") is None


def test_sessions_expire_close_and_need_an_active_account(store: SQLDocumentStore) -> None:
    people = _people(store)
    people.save_person(PersonRecord("ann", "admin", frozenset(), "h"), at=AT)
    people.open_session("b" * 64, "ann", "c", at=AT, expires_at=AT + timedelta(hours=1), password_hash=None)
    assert people.find_session("b" * 64, at=AT + timedelta(hours=1)) is None  # expired at its end
    people.open_session(
        "c" * 64,
        "ann",
        "c",
        at=AT + timedelta(hours=2),
        expires_at=AT + timedelta(hours=3),
        password_hash=None,
    )
    assert people.find_session("c" * 64, at=AT + timedelta(hours=2)) is not None
    people.close_session("c" * 64)
    assert people.find_session("c" * 64, at=AT + timedelta(hours=2)) is None

    people.open_session("d" * 64, "ann", "c", at=AT, expires_at=AT + timedelta(hours=9), password_hash=None)
    people.save_person(PersonRecord("ann", "admin", frozenset(), "h", active=False), at=AT)
    people.open_session("e" * 64, "ann", "c", at=AT, expires_at=AT + timedelta(hours=9), password_hash=None)
    assert people.find_session("e" * 64, at=AT) is None  # a deactivated account has no live session


def test_failed_logins_are_counted_in_a_window_cleared_and_purged(store: SQLDocumentStore) -> None:
    people = _people(store)
    for minute in range(3):
        people.record_failure("ann", at=AT + timedelta(minutes=minute))
    people.record_failure("bob", at=AT)
    assert people.failures_since("ann", AT + timedelta(minutes=1)) == 2
    people.purge_failures(AT + timedelta(minutes=1))
    assert people.failures_since("ann", AT - timedelta(days=1)) == 2
    assert people.failures_since("bob", AT - timedelta(days=1)) == 0
    people.clear_failures("ann")
    assert people.failures_since("ann", AT - timedelta(days=1)) == 0


def test_create_never_replaces_update_keeps_the_password_and_a_new_password_ends_sessions(
    store: SQLDocumentStore,
) -> None:
    people = _people(store)
    ann = PersonRecord("ann", "member", frozenset({"PU04711"}), "$argon2id$first")
    assert people.create_person(ann, at=AT) is True
    assert people.create_person(PersonRecord("ann", "admin", frozenset(), "$argon2id$other"), at=AT) is False
    assert people.get_person("ann") == ann  # the taken name kept its account

    people.open_session("f" * 64, "ann", "c", at=AT, expires_at=AT + timedelta(hours=8), password_hash=None)
    later = AT + timedelta(minutes=1)
    assert people.update_person("ann", role="support", units=frozenset(), active=True, at=later) is True
    found = people.find_session("f" * 64, at=later)
    assert found is not None  # a role change keeps the session, which reads the new role
    assert (found.person.role, found.person.units, found.person.password_hash) == (
        "support",
        frozenset(),
        "$argon2id$first",
    )
    assert people.update_person("ann", role="support", units=frozenset(), active=False, at=later) is True
    assert people.update_person("ann", role="support", units=frozenset(), active=True, at=later) is True
    assert people.find_session("f" * 64, at=later) is None  # deactivating ended it for good

    people.open_session(
        "g" * 64, "ann", "c", at=later, expires_at=AT + timedelta(hours=8), password_hash=None
    )
    assert people.set_password_hash("ann", "$argon2id$second", at=later) is True
    assert people.find_session("g" * 64, at=later) is None
    assert people.get_person("ann").password_hash == "$argon2id$second"  # type: ignore[union-attr]
    assert people.update_person("bob", role="admin", units=frozenset(), active=True, at=later) is False
    assert people.set_password_hash("bob", "$argon2id$x", at=later) is False


def test_a_name_taken_between_the_check_and_the_insert_is_refused_not_an_error(
    store: SQLDocumentStore, backend: str
) -> None:
    """``gateway users add`` (another process) creates the name while the admin page's create runs."""
    if backend == "sqlite":
        pytest.skip("SQLite: BEGIN IMMEDIATE holds the write lock from the check on, no other writer fits")
    people = _people(store)
    cli = PersonRecord("ann", "admin", frozenset(), "$argon2id$cli")

    done: list[bool] = []

    def meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WEB_PEOPLE") and not done:
            done.append(True)
            assert _people(store).save_person(cli, at=AT) is True  # its own connection, committed

    event.listen(store.engine, "before_cursor_execute", meanwhile)
    try:
        web = PersonRecord("ann", "member", frozenset({"PU1"}), "$argon2id$web")
        created = people.create_person(web, at=AT)
    finally:
        event.remove(store.engine, "before_cursor_execute", meanwhile)
    assert done
    assert created is False
    assert people.get_person("ann") == cli


def test_a_database_error_never_carries_a_password_hash(store: SQLDocumentStore) -> None:
    """A failed write's message (logged with the traceback of a 500) names no bound value."""
    people = _people(store)
    people.save_person(PersonRecord("ann", "member", frozenset(), "$argon2id$first"), at=AT)
    with pytest.raises(sa_exc.IntegrityError) as raised, store.engine.begin() as connection:
        connection.execute(
            insert(web_people).values(
                name="ann",
                password_hash="$argon2id$SECRET",
                role="x",
                units="",
                active=True,
                created_at=AT,
                updated_at=AT,
            )
        )
    assert "SECRET" not in "".join(traceback.format_exception(raised.value))


def test_a_name_with_a_nul_character_has_no_account(store: SQLDocumentStore) -> None:
    """PostgreSQL cannot even compare such a text (a 500 on ``/web/person?name=%00``); no name holds one."""
    people = _people(store)
    people.save_person(PersonRecord("ann", "admin", frozenset(), "h"), at=AT)
    assert people.get_person("ann\x00") is None


def test_a_session_is_opened_only_for_an_account_unchanged_since_its_check(store: SQLDocumentStore) -> None:
    """A login whose password was checked against a hash replaced since (a new password, a replacement:
    the check takes argon2's time), or whose account was deactivated meanwhile, gets no session: the
    change ended the sessions already open."""
    people = _people(store)
    people.save_person(PersonRecord("ann", "member", frozenset({"PU1"}), "$argon2id$first"), at=AT)
    people.set_password_hash("ann", "$argon2id$second", at=AT + timedelta(seconds=11))
    opened_at = AT + timedelta(seconds=12)
    hours = AT + timedelta(hours=8)
    assert (
        people.open_session(
            "a" * 64, "ann", "c", at=opened_at, expires_at=hours, password_hash="$argon2id$first"
        )
        is False
    )
    assert people.find_session("a" * 64, at=opened_at) is None
    assert people.open_session(
        "b" * 64, "ann", "c", at=opened_at, expires_at=hours, password_hash="$argon2id$second"
    )
    assert people.find_session("b" * 64, at=opened_at) is not None
    people.update_person("ann", role="member", units=frozenset({"PU1"}), active=False, at=opened_at)
    for password_hash in ("$argon2id$second", None):
        assert (
            people.open_session(
                "c" * 64, "ann", "c", at=opened_at, expires_at=hours, password_hash=password_hash
            )
            is False
        )


def test_an_account_written_by_a_clock_ahead_still_opens_sessions(store: SQLDocumentStore) -> None:
    """``gateway users add`` on a host whose clock runs an hour ahead stamps the account in this server's
    future: the session check compares the hash, not the times, so the login works at once."""
    people = _people(store)
    people.save_person(
        PersonRecord("bob", "support", frozenset(), "$argon2id$bob"), at=AT + timedelta(hours=1)
    )
    assert people.open_session(
        "h" * 64, "bob", "c", at=AT, expires_at=AT + timedelta(hours=8), password_hash="$argon2id$bob"
    )
    assert people.find_session("h" * 64, at=AT) is not None


def test_a_new_password_committed_during_the_session_check_is_not_outlived(
    store: SQLDocumentStore, backend: str
) -> None:
    """Truly concurrent on PostgreSQL: a new password whose UPDATE holds the account's row while a login
    checked against the old hash opens its session. The open waits for the row lock, re-reads the row
    and finds another hash: no session."""
    if backend == "sqlite":
        pytest.skip("SQLite: one writer at a time, no interleaving to test")
    people = _people(store)
    people.save_person(PersonRecord("ann", "member", frozenset({"PU1"}), "$argon2id$first"), at=AT)
    opened: list[bool] = []

    def meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The password's UPDATE ran, uncommitted: the login's open starts now and must wait for it.
        if statement.lstrip().upper().startswith("DELETE FROM WEB_SESSIONS") and not threads:
            thread = threading.Thread(
                target=lambda: opened.append(
                    _people(store).open_session(
                        "r" * 64,
                        "ann",
                        "c",
                        at=AT,
                        expires_at=AT + timedelta(hours=8),
                        password_hash="$argon2id$first",
                    )
                )
            )
            threads.append(thread)
            thread.start()
            thread.join(timeout=0.5)
            assert thread.is_alive()  # blocked on the row lock

    threads: list[threading.Thread] = []
    event.listen(store.engine, "before_cursor_execute", meanwhile)
    try:
        assert people.set_password_hash("ann", "$argon2id$second", at=AT) is True
    finally:
        event.remove(store.engine, "before_cursor_execute", meanwhile)
    threads[0].join(timeout=10)
    assert opened == [False]
    assert people.find_session("r" * 64, at=AT) is None


def test_a_new_password_during_the_session_insert_ends_that_session(
    store: SQLDocumentStore, backend: str
) -> None:
    """The other order on PostgreSQL: the open holds the row lock and inserts its session while a new
    password is being set; the password's UPDATE waits, then its DELETE sees the session and ends it."""
    if backend == "sqlite":
        pytest.skip("SQLite: one writer at a time, no interleaving to test")
    people = _people(store)
    people.save_person(PersonRecord("ann", "member", frozenset({"PU1"}), "$argon2id$first"), at=AT)
    threads: list[threading.Thread] = []

    def meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WEB_SESSIONS") and not threads:
            thread = threading.Thread(
                target=lambda: _people(store).set_password_hash("ann", "$argon2id$second", at=AT)
            )
            threads.append(thread)
            thread.start()
            thread.join(timeout=0.5)
            assert thread.is_alive()  # blocked on the row lock the open holds

    event.listen(store.engine, "before_cursor_execute", meanwhile)
    try:
        opened = people.open_session(
            "s" * 64, "ann", "c", at=AT, expires_at=AT + timedelta(hours=8), password_hash="$argon2id$first"
        )
    finally:
        event.remove(store.engine, "before_cursor_execute", meanwhile)
    threads[0].join(timeout=10)
    assert opened is True
    assert people.get_person("ann").password_hash == "$argon2id$second"  # type: ignore[union-attr]
    assert people.find_session("s" * 64, at=AT) is None
