"""The login rate limit of ``PasswordAuthenticator`` on a real SQLite database: per name, per client
address, and a sliding window after which a person may try again."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.config import Role, WebSettings
from gateway.store import make_engine, upgrade_database
from gateway.store.people import SQLPeopleStore
from gateway.store.tables import web_login_failures
from gateway.web.accounts import save_account
from gateway.web.passwords import verify_password
from gateway.web.people import SOURCE_FACTOR, LoginRefused, PasswordAuthenticator, failure_key

PASSWORD = "correct horse battery"


class MovableClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


@pytest.fixture(name="people")
def people_fixture(tmp_path: Path) -> Iterator[SQLPeopleStore]:
    url = f"sqlite:///{tmp_path / 'people.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    yield SQLPeopleStore(engine)
    engine.dispose()


def test_a_name_is_refused_after_the_limit_until_the_window_moves_on(people: SQLPeopleStore) -> None:
    clock = MovableClock()
    settings = WebSettings(login_max_failures=3, login_window_seconds=600)
    save_account(people, "ann", Role.SUPPORT, [], PASSWORD, clock=clock)
    login = PasswordAuthenticator(people, clock, settings)
    for _ in range(3):
        assert login.authenticate("ann", "not the password", source="10.0.0.1") is None
    with pytest.raises(LoginRefused):
        login.authenticate("ann", PASSWORD, source="10.0.0.2")  # the right password does not help
    clock.at += timedelta(seconds=601)
    checked = login.authenticate("ann", PASSWORD, source="10.0.0.2")
    assert checked is not None
    assert checked.person.role is Role.SUPPORT
    assert checked.password_hash == people.get_person("ann").password_hash  # type: ignore[union-attr]


def test_an_address_trying_many_names_is_refused(people: SQLPeopleStore) -> None:
    clock = MovableClock()
    settings = WebSettings(login_max_failures=2, login_window_seconds=600)
    save_account(people, "ann", Role.SUPPORT, [], PASSWORD, clock=clock)
    login = PasswordAuthenticator(people, clock, settings)
    for n in range(SOURCE_FACTOR * 2):
        assert login.authenticate(f"guess-{n}", "whatever password", source="10.0.0.9") is None
    with pytest.raises(LoginRefused):
        login.authenticate("ann", PASSWORD, source="10.0.0.9")
    assert login.authenticate("ann", PASSWORD, source="10.0.0.10") is not None  # another address


def test_unknown_and_deactivated_names_fail_like_a_wrong_password(people: SQLPeopleStore) -> None:
    clock = MovableClock()
    login = PasswordAuthenticator(people, clock, WebSettings())
    assert login.authenticate("nobody", PASSWORD) is None
    assert people.failures_since(failure_key("nobody"), clock.now() - timedelta(minutes=1)) == 1


def test_an_empty_stored_hash_matches_no_password() -> None:
    """An account whose hash was blanked (to disable its password, or a login without one) must not
    accept the dummy hash's password, which every unknown name is verified against."""
    assert not verify_password("", "not a password of anyone")
    assert not verify_password(None, "not a password of anyone")


def test_a_login_does_not_show_its_hash_in_its_repr(people: SQLPeopleStore) -> None:
    clock = MovableClock()
    save_account(people, "ann", Role.SUPPORT, [], PASSWORD, clock=clock)
    login = PasswordAuthenticator(people, clock, WebSettings())
    checked = login.authenticate("ann", PASSWORD, source="10.0.0.9")
    assert checked is not None
    assert checked.password_hash is not None
    assert checked.password_hash not in repr(checked)


def test_the_audit_log_names_accounts_only_never_other_typed_text(
    people: SQLPeopleStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A password typed into the name field must not reach the log: an unknown name shows as its length."""
    clock = MovableClock()
    save_account(people, "ann", Role.SUPPORT, [], PASSWORD, clock=clock)
    login = PasswordAuthenticator(people, clock, WebSettings(login_max_failures=2, login_window_seconds=600))
    typed = "my secret pass phrase"
    caplog.clear()  # "account created" above is captured too when an earlier test left the logger at INFO
    with caplog.at_level(logging.INFO, logger="gateway.web.audit"):
        for _ in range(2):
            assert login.authenticate(typed, "whatever", source="10.0.0.7") is None
            assert login.authenticate("ann", "not the password", source="10.0.0.7") is None
        with pytest.raises(LoginRefused):
            login.authenticate(typed, "whatever", source="10.0.0.7")
        with pytest.raises(LoginRefused):
            login.authenticate("ann", PASSWORD, source="10.0.0.7")
    lines = [record.getMessage() for record in caplog.records if record.name == "gateway.web.audit"]
    assert lines == [
        "login failed for an unknown name (21 characters) from 10.0.0.7",
        "login failed for 'ann' from 10.0.0.7",
    ] * 2 + [
        "login refused (rate limit) for an unknown name (21 characters) from 10.0.0.7",
        "login refused (rate limit) for 'ann' from 10.0.0.7",
    ]
    assert typed not in caplog.text


def test_the_failure_counter_never_keeps_the_typed_name(people: SQLPeopleStore) -> None:
    """The per-name counter keyed a failure by the typed text: a password typed into the name field stayed
    in the database until a later failure purged the window (and in its backups). Counted by its digest,
    a name still has its own limit, and a name spelt like an address's key is not that address's count."""
    clock = MovableClock()
    save_account(people, "ann", Role.SUPPORT, [], PASSWORD, clock=clock)
    login = PasswordAuthenticator(people, clock, WebSettings(login_max_failures=2, login_window_seconds=600))
    typed = "my secret pass phrase"
    for name in (typed, typed, "source:10.0.0.8", "source:10.0.0.8"):
        assert login.authenticate(name, "whatever", source="10.0.0.7") is None
    with people._engine.connect() as connection:  # what the table holds
        kept = [row.name for row in connection.execute(select(web_login_failures.c.name))]
    assert len(kept) == 8
    assert not any(typed in key or key == "source:10.0.0.8" for key in kept)
    # Nor a fast digest of it: a dictionary run over a copy of the table would find a weak password.
    fast = {hashlib.new(algorithm, typed.encode()).hexdigest() for algorithm in ("sha256", "sha512", "md5")}
    assert not any(key.removeprefix("name:") in fast for key in kept)
    with pytest.raises(LoginRefused):
        login.authenticate(typed, "whatever", source="10.0.0.9")  # the typed name's own limit still holds
    assert login.authenticate("ann", PASSWORD, source="10.0.0.8") is not None
