"""People's accounts: the checks shared by ``gateway users`` and the admin pages, and an audit line for
every change. Passwords are hashed here (argon2id) and never logged.

An ``AccountError`` carries its message as a catalogue text with named values, so a page shows it in the
person's language (``translated``) and the command line in English (``str``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from gateway.config import Role
from gateway.errors import InvalidExpenseRequest
from gateway.model.units import unit_key
from gateway.services.ports import Clock
from gateway.store.people import PersonRecord, SQLPeopleStore
from gateway.web.passwords import MIN_PASSWORD_LENGTH, hash_password
from gateway.web.people import PERSON_ROLES, Person, audit

MAX_NAME: Final = 200
#: Unit codes in a form field: separated by commas, semicolons or line breaks (a code may hold a blank,
#: ``pu 00123``, as people type it).
_CODE_SEPARATORS: Final = re.compile(r"[,;\r\n]+")


class AccountError(ValueError):
    """An account cannot be saved as asked: ``message`` (a catalogue text) with its named ``values``."""

    def __init__(self, message: str, **values: str | int) -> None:
        self.message = message
        self.values: Mapping[str, str | int] = values
        super().__init__(message % values if values else message)


def checked_name(name: str) -> str:
    """The name without surrounding blanks.

    Raises:
        AccountError: empty, longer than ``MAX_NAME`` or with a character that does not print.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
        raise AccountError("A name has 1 to 200 printable characters.")
    return name


def unit_codes(text: str) -> list[str]:
    """The unit codes typed in a form field (``PU-04711, PU-00123``)."""
    return [code.strip() for code in _CODE_SEPARATORS.split(text) if code.strip()]


def checked_units(role: Role, codes: Iterable[str]) -> frozenset[str]:
    """The unit keys of a person of ``role``: a member's units (at least one), nobody else's.

    Raises:
        AccountError: a role people cannot have, a member without units, or a code that is no unit code.
    """
    if role not in PERSON_ROLES:
        raise AccountError("People are support, admin or member, not %(role)s.", role=role.value)
    keys = set()
    for code in codes:
        try:
            keys.add(unit_key(code))
        except InvalidExpenseRequest as exc:
            raise AccountError(
                "%(code)s is not a unit code (letters, then digits: PU-00123).", code=code
            ) from exc
    if role is Role.MEMBER and not keys:
        raise AccountError("A member needs at least one unit.")
    return frozenset(keys) if role is Role.MEMBER else frozenset()


def _hashed(password: str) -> str:
    try:
        return hash_password(password)
    except ValueError as exc:
        raise AccountError(
            "A password needs at least %(length)s characters.", length=MIN_PASSWORD_LENGTH
        ) from exc


def save_account(
    store: SQLPeopleStore, name: str, role: Role, units: list[str], password: str, *, clock: Clock
) -> bool:
    """Create or replace an account (``gateway users add``; a replaced one loses its sessions). True if
    created.

    Raises:
        AccountError: see ``checked_name``, ``checked_units``; a password that is too short.
    """
    name = checked_name(name)
    record = PersonRecord(name, role.value, checked_units(role, units), _hashed(password))
    created = store.save_person(record, at=clock.now())
    audit.info("account %s: %s (%s)", "created" if created else "replaced", name, role.value)
    return created


def create_account(
    store: SQLPeopleStore,
    name: str,
    role: Role,
    units: frozenset[str],
    password: str,
    *,
    by: Person,
    clock: Clock,
) -> str:
    """Add an account (the admin page); the name as stored.

    Raises:
        AccountError: an account of this name exists, or a bad name or password.
    """
    name = checked_name(name)
    record = PersonRecord(name, role.value, units, _hashed(password))
    if not store.create_person(record, at=clock.now()):
        raise AccountError("An account named %(name)s exists already.", name=name)
    audit.info("account created: %s (%s) by %s", name, role.value, by.name)
    return name


def change_account(
    store: SQLPeopleStore,
    name: str,
    role: Role,
    units: frozenset[str],
    active: bool,
    *,
    by: Person,
    clock: Clock,
) -> None:
    """Change an account's role, units and whether it may log in (the admin page).

    Raises:
        AccountError: the admin would take their own admin role away or deactivate themselves (another
            admin can: a gateway never loses its last admin this way), or there is no such account.
    """
    if name == by.name and (role is not Role.ADMIN or not active):
        raise AccountError(
            "You cannot take away your own admin role or deactivate your own account: another admin can."
        )
    if not store.update_person(name, role=role.value, units=units, active=active, at=clock.now()):
        raise AccountError("There is no account named %(name)s.", name=name)
    state = "active" if active else "deactivated"
    audit.info("account changed: %s (%s, %s) by %s", name, role.value, state, by.name)


def set_password(
    store: SQLPeopleStore, name: str, password: str, again: str, *, by: Person, clock: Clock
) -> str:
    """Give an account a new password; its sessions end (an admin's reset, or a person's own change).
    The new hash: a session opened for it after the change (``session_opened``).

    Raises:
        AccountError: the two passwords differ or are too short, or there is no such account.
    """
    if password != again:
        raise AccountError("The two new passwords differ.")
    password_hash = _hashed(password)
    if not store.set_password_hash(name, password_hash, at=clock.now()):
        raise AccountError("There is no account named %(name)s.", name=name)
    audit.info("password of %s set by %s", name, by.name)
    return password_hash
