"""Translation of SQLAlchemy and driver exceptions into the StoreError subtree (the adapter boundary)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from gateway.errors import DuplicateMessage, StoreError

_PG_UNIQUE_VIOLATION = "23505"


def is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    """True if the integrity error is a unique/primary key violation (not a foreign key or check)."""
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == _PG_UNIQUE_VIOLATION)
    text = str(original)
    return "UNIQUE constraint failed" in text or "PRIMARY KEY constraint failed" in text


@contextmanager
def map_db_errors(what: str) -> Iterator[None]:
    """Re-raise database errors as StoreError subclasses.

    Args:
        what: what was being done, for the message (never contains stored data).

    Raises:
        DuplicateMessage: a unique constraint refused the write.
        StoreError: any other database failure (lock timeout, lost connection, constraint).
    """
    try:
        yield
    except sa_exc.IntegrityError as exc:
        if is_unique_violation(exc):
            raise DuplicateMessage(f"{what}: already stored") from exc
        raise StoreError(f"{what}: integrity constraint failed") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise StoreError(f"{what}: {type(exc).__name__}") from exc
