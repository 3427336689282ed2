"""Password hashing with argon2id (argon2-cffi, RFC 9106 parameters of the library's defaults)."""

from __future__ import annotations

from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER: Final = PasswordHasher()

MIN_PASSWORD_LENGTH: Final = 12


def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password``.

    Raises:
        ValueError: the password is shorter than ``MIN_PASSWORD_LENGTH``.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (None or empty: an unknown name or an account without
    a password, verified against a dummy for the same time and never a match)."""
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that a wrong name costs as long as a wrong password.
    Made on the first login, not at import: hashing takes argon2's 64 MiB once, which a ``gateway serve``
    nobody logs in to need not hold in its peak memory."""
    return _HASHER.hash("not a password of anyone")
