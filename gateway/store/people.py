"""People who log in to the pages: accounts, opaque server-side sessions and failed logins (SQL adapter).

The web edge (``gateway.web``) depends on this store through its ``PeopleStore`` protocol. The store keeps
only an argon2 hash of each password and the SHA-256 of each session token, never the secrets themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select, update

from gateway.errors import DuplicateMessage
from gateway.store.errors import map_db_errors
from gateway.store.tables import web_login_failures, web_people, web_sessions


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A stored account.

    Attributes:
        name: the login name (also the name in audit trails).
        role: ``support``, ``admin`` or ``member``.
        units: unit keys a member acts on.
        password_hash: the argon2 (PHC string) hash.
        active: a deactivated account cannot log in.
    """

    name: str
    role: str
    units: frozenset[str]
    password_hash: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A live session: whose, its CSRF token and when it ends."""

    person: PersonRecord
    csrf_token: str
    expires_at: datetime


class SQLPeopleStore:
    """Accounts, sessions and failed logins in the gateway's database (SQLite or PostgreSQL).

    Args:
        engine: the engine of the document store (the schema is migrated by ``upgrade_database``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save_person(self, person: PersonRecord, *, at: datetime) -> bool:
        """Create or replace an account (a replaced password ends its sessions). True if created."""
        values = {
            "password_hash": person.password_hash,
            "role": person.role,
            "units": " ".join(sorted(person.units)),
            "active": person.active,
            "updated_at": at,
        }
        with map_db_errors("save person"), self._engine.begin() as connection:
            changed = connection.execute(
                update(web_people).where(web_people.c.name == person.name).values(**values)
            ).rowcount
            if changed:
                connection.execute(delete(web_sessions).where(web_sessions.c.person == person.name))
                return False
            connection.execute(insert(web_people).values(name=person.name, created_at=at, **values))
            return True

    def create_person(self, person: PersonRecord, *, at: datetime) -> bool:
        """Add an account unless one of this name exists (then nothing changes). True if added."""
        values = {
            "name": person.name,
            "password_hash": person.password_hash,
            "role": person.role,
            "units": " ".join(sorted(person.units)),
            "active": person.active,
            "created_at": at,
            "updated_at": at,
        }
        try:
            with map_db_errors("create person"), self._engine.begin() as connection:
                taken = connection.execute(select(web_people.c.name).where(web_people.c.name == person.name))
                if taken.first() is not None:
                    return False
                connection.execute(insert(web_people).values(**values))
                return True
        except DuplicateMessage:  # created meanwhile by another process (``gateway users add``)
            return False

    def update_person(
        self, name: str, *, role: str, units: frozenset[str], active: bool, at: datetime
    ) -> bool:
        """Change an account's role, units and whether it is active (deactivating ends its sessions); the
        password stays. False if there is no such account."""
        values = {"role": role, "units": " ".join(sorted(units)), "active": active, "updated_at": at}
        with map_db_errors("update person"), self._engine.begin() as connection:
            changed = connection.execute(
                update(web_people).where(web_people.c.name == name).values(**values)
            ).rowcount
            if changed and not active:
                connection.execute(delete(web_sessions).where(web_sessions.c.person == name))
            return bool(changed)

    def set_password_hash(self, name: str, password_hash: str, *, at: datetime) -> bool:
        """Replace an account's password hash and end its sessions. False if there is no such account."""
        with map_db_errors("set password"), self._engine.begin() as connection:
            changed = connection.execute(
                update(web_people)
                .where(web_people.c.name == name)
                .values(password_hash=password_hash, updated_at=at)
            ).rowcount
            if changed:
                connection.execute(delete(web_sessions).where(web_sessions.c.person == name))
            return bool(changed)

    def get_person(self, name: str) -> PersonRecord | None:
        """The account of ``name``, or None (a name with a NUL, which PostgreSQL cannot compare, has none)."""
        if "\x00" in name:
            return None
        with map_db_errors("read person"), self._engine.connect() as connection:
            row = connection.execute(select(web_people).where(web_people.c.name == name)).first()
        if row is None:
            return None
        return PersonRecord(
            name=row.name,
            role=row.role,
            units=frozenset(row.units.split()),
            password_hash=row.password_hash,
            active=row.active,
        )

    def list_people(self) -> list[PersonRecord]:
        """Every account, by name."""
        with map_db_errors("list people"), self._engine.connect() as connection:
            rows = connection.execute(select(web_people).order_by(web_people.c.name)).all()
        return [
            PersonRecord(r.name, r.role, frozenset(r.units.split()), r.password_hash, r.active) for r in rows
        ]

    def open_session(
        self,
        token_sha256: str,
        person: str,
        csrf_token: str,
        *,
        at: datetime,
        expires_at: datetime,
        password_hash: str | None,
    ) -> bool:
        """Record a new session (and drop the expired ones), unless the account is deactivated or its
        password hash is no longer ``password_hash``, the one the login was checked against (a new
        password or a replacement meanwhile ended the sessions, and this one must not outlive it; None:
        a login without a password, only the account's being active counts). The stored hash is
        compared, not times: a ``gateway users add`` on a host whose clock runs ahead changes nothing.
        True if opened."""
        conditions = [web_people.c.name == person, web_people.c.active.is_(True)]
        if password_hash is not None:
            conditions.append(web_people.c.password_hash == password_hash)
        unchanged = (
            select(web_people.c.name)
            .where(*conditions)
            .with_for_update()  # PostgreSQL: a concurrent change waits, then its delete sees this session
        )
        with map_db_errors("open session"), self._engine.begin() as connection:
            # The account's row lock first, then the sessions' (the order of set_password_hash): no deadlock.
            if connection.execute(unchanged).first() is None:
                return False
            connection.execute(delete(web_sessions).where(web_sessions.c.expires_at <= at))
            connection.execute(
                insert(web_sessions).values(
                    token_sha256=token_sha256,
                    person=person,
                    csrf_token=csrf_token,
                    created_at=at,
                    expires_at=expires_at,
                )
            )
            return True

    def find_session(self, token_sha256: str, *, at: datetime) -> SessionRecord | None:
        """The live session of this token hash, with its active account; None if unknown or expired."""
        query = (
            select(web_sessions.c.csrf_token, web_sessions.c.expires_at, web_people)
            .join(web_people, web_people.c.name == web_sessions.c.person)
            .where(web_sessions.c.token_sha256 == token_sha256, web_sessions.c.expires_at > at)
        )
        with map_db_errors("read session"), self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or not row.active:
            return None
        person = PersonRecord(row.name, row.role, frozenset(row.units.split()), row.password_hash, row.active)
        return SessionRecord(person, row.csrf_token, row.expires_at)

    def close_session(self, token_sha256: str) -> None:
        """End a session (logout)."""
        with map_db_errors("close session"), self._engine.begin() as connection:
            connection.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == token_sha256))

    def record_failure(self, name: str, *, at: datetime) -> None:
        """Count one failed login for ``name``."""
        with map_db_errors("record login failure"), self._engine.begin() as connection:
            connection.execute(insert(web_login_failures).values(name=name[:200], at=at))

    def failures_since(self, name: str, since: datetime) -> int:
        """Failed logins for ``name`` at or after ``since``."""
        query = select(func.count()).where(
            web_login_failures.c.name == name[:200], web_login_failures.c.at >= since
        )
        with map_db_errors("count login failures"), self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def clear_failures(self, name: str) -> None:
        """Forget the failed logins of ``name`` (after a successful login)."""
        with map_db_errors("clear login failures"), self._engine.begin() as connection:
            connection.execute(delete(web_login_failures).where(web_login_failures.c.name == name[:200]))

    def purge_failures(self, before: datetime) -> None:
        """Forget every failed login older than ``before`` (outside the rate limit's window)."""
        with map_db_errors("purge login failures"), self._engine.begin() as connection:
            connection.execute(delete(web_login_failures).where(web_login_failures.c.at < before))
