"""Who is logged in: people, the authentication port (passwords today, OIDC later), sessions and CSRF.

``Authenticator`` is the seam for another login method: an OIDC adapter would answer the same
``Person`` after its redirect dance, and ``SessionManager`` would open the session the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from gateway.config import Role, WebSettings
from gateway.model.expense import Actor, ActorRole
from gateway.services.ports import Clock
from gateway.store.people import PersonRecord, SQLPeopleStore
from gateway.web.passwords import verify_password

audit = logging.getLogger("gateway.web.audit")

#: Roles a person may have (``sender`` is the invoicing system's API key, not a person).
PERSON_ROLES = (Role.SUPPORT, Role.ADMIN, Role.MEMBER)


@dataclass(frozen=True, slots=True)
class Person:
    """A logged-in person: name (as in audit trails), role and, for a member, unit keys."""

    name: str
    role: Role
    units: frozenset[str] = frozenset()

    @property
    def staff(self) -> bool:
        """Support or admin: reads documents, retries, triages."""
        return self.role in (Role.SUPPORT, Role.ADMIN)

    def actor(self) -> Actor:
        """The expense workflow's view of this person."""
        role = {Role.MEMBER: ActorRole.MEMBER, Role.SUPPORT: ActorRole.SUPPORT, Role.ADMIN: ActorRole.ADMIN}
        return Actor(self.name, role[self.role], self.units)


def person_of(record: PersonRecord) -> Person:
    return Person(record.name, Role(record.role), record.units)


@dataclass(frozen=True, slots=True)
class Login:
    """A successful check of credentials: the person, and the stored password hash the password matched
    (None for a login method without a password). A session opens only while that hash is still the
    account's: a new password set meanwhile ends it before it starts."""

    person: Person
    password_hash: str | None = field(repr=False)  # never in a log line or a traceback's repr


class Authenticator(Protocol):
    """A login method: the person behind the credentials, or None.

    ``source`` is where the attempt comes from (the client address), for rate limits.
    """

    def authenticate(self, name: str, password: str, *, source: str | None = None) -> Login | None: ...


class LoginRefused(Exception):
    """Too many failed logins for this name, or from this address, within the window (the rate limit)."""


#: A client address may fail this many times the per-name limit (it may try several names).
SOURCE_FACTOR = 4


def _logged_name(name: str, record: PersonRecord | None) -> str:
    """The typed name as the audit log shows it: an account's name quoted, any other text never (it may be
    a password typed into the name field), only its length."""
    if record is not None:
        return repr(name)
    return f"an unknown name ({len(name)} characters)"


#: The salt of ``failure_key`` (fixed: every process of a deployment must count a name alike, and the
#: pages have no secret of their own to key it with).
_FAILURE_SALT = b"gateway: web login failures"


def failure_key(name: str) -> str:
    """The failure counter of a typed name: a digest, never the text (it may be a password typed into the
    name field, and a row stays until a later failure purges the window), and never a ``source:`` key.

    A memory-hard one (scrypt, 4 MiB, ≈ 5-7 ms here: a few per cent of the argon2 check every attempt
    pays anyway): a plain SHA-256 of a weak password typed as a name would fall to a dictionary run over a
    copy of the database.
    """
    typed = name.encode("utf-8", "surrogatepass")
    digest = hashlib.scrypt(typed, salt=_FAILURE_SALT, n=2**12, r=8, p=1, dklen=32)
    return "name:" + digest.hex()


class PasswordAuthenticator:
    """Name and password against the stored argon2 hashes, with failure limits per name and per client
    address within a sliding window."""

    def __init__(self, store: SQLPeopleStore, clock: Clock, settings: WebSettings) -> None:
        self._store = store
        self._clock = clock
        self._max = settings.login_max_failures
        self._window = timedelta(seconds=settings.login_window_seconds)

    def authenticate(self, name: str, password: str, *, source: str | None = None) -> Login | None:
        """The person and the hash checked, or None for a wrong name or password (counted for the name
        and the address).

        Raises:
            LoginRefused: too many failures within the window; the password is not checked.
        """
        now = self._clock.now()
        since = now - self._window
        by_source = f"source:{source}" if source else None
        by_name = failure_key(name)
        if self._store.failures_since(by_name, since) >= self._max or (
            by_source and self._store.failures_since(by_source, since) >= SOURCE_FACTOR * self._max
        ):
            shown = _logged_name(name, self._store.get_person(name))
            audit.warning("login refused (rate limit) for %s from %s", shown, source or "?")
            raise LoginRefused(name)
        record = self._store.get_person(name)
        usable = record is not None and record.active
        if not verify_password(record.password_hash if usable and record else None, password):
            self._store.purge_failures(since)  # the table keeps one window only
            self._store.record_failure(by_name, at=now)
            if by_source:
                self._store.record_failure(by_source, at=now)
            audit.warning("login failed for %s from %s", _logged_name(name, record), source or "?")
            return None
        assert record is not None
        self._store.clear_failures(by_name)
        return Login(person_of(record), record.password_hash)


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: the person and the CSRF token its forms carry."""

    person: Person
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionManager:
    """Opaque server-side sessions: the cookie carries 32 random bytes; the database only their SHA-256."""

    def __init__(self, store: SQLPeopleStore, clock: Clock, settings: WebSettings) -> None:
        self._store = store
        self._clock = clock
        self._lifetime = timedelta(hours=settings.session_hours)

    @property
    def lifetime_seconds(self) -> int:
        return int(self._lifetime.total_seconds())

    def open(self, person: Person, *, password_hash: str | None) -> str | None:
        """Open a session for ``person`` whose password was checked against ``password_hash`` (see
        ``Login``); the token to put in the cookie, or None if the account got another password or was
        deactivated since (then no session)."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        csrf = secrets.token_urlsafe(32)
        expires_at = now + self._lifetime
        if not self._store.open_session(
            _digest(token), person.name, csrf, at=now, expires_at=expires_at, password_hash=password_hash
        ):
            audit.warning("login of %s refused: the account changed while it was checked", person.name)
            return None
        audit.info("login: %s (%s)", person.name, person.role.value)
        return token

    def find(self, token: str | None) -> Session | None:
        """The live session of a cookie token, or None."""
        if not token or len(token) > 100:
            return None
        record = self._store.find_session(_digest(token), at=self._clock.now())
        if record is None:
            return None
        return Session(person_of(record.person), record.csrf_token)

    def close(self, token: str | None, person: Person | None) -> None:
        """Log out."""
        if token:
            self._store.close_session(_digest(token))
        if person is not None:
            audit.info("logout: %s", person.name)


def tokens_match(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; a missing one never matches."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
