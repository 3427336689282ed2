"""Translation of SQLAlchemy and driver exceptions into the StoreError subtree (the adapter boundary).

``map_db_errors`` is the one translation; ``maps_db_errors`` applies it to every public method of a
repository class, so no read or write of the store can leak a driver exception to a caller (the API
answers StoreError with 503 + Retry-After, the AS4 endpoint with a retryable answer, the worker retries).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc

from gateway.errors import DuplicateMessage, StoreDataRefused, StoreError

_PG_UNIQUE_VIOLATION = "23505"

C = TypeVar("C", bound=type[Any])


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
        StoreDataRefused: another constraint, or a value the database cannot store, refused it (a retry
            fails alike).
        StoreError: any other database failure (lock timeout, lost connection): retryable.
    """
    try:
        yield
    except sa_exc.IntegrityError as exc:
        if is_unique_violation(exc):
            raise DuplicateMessage(f"{what}: already stored") from exc
        raise StoreDataRefused(f"{what}: integrity constraint failed") from exc
    except sa_exc.DataError as exc:
        raise StoreDataRefused(f"{what}: {type(exc).__name__}") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise StoreError(f"{what}: {type(exc).__name__}") from exc


def maps_db_errors(what: str) -> Callable[[C], C]:
    """Class decorator: run every public method of a store adapter inside ``map_db_errors``.

    Args:
        what: the adapter's subject for the messages (e.g. ``"outbound documents"``); the method name is
            appended, so a message reads ``outbound documents.get: OperationalError``.
    """

    def decorate(cls: C) -> C:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            setattr(cls, name, _mapped(member, f"{what}.{name}"))
        return cls

    return decorate


def _mapped(method: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with map_db_errors(what):
            return method(*args, **kwargs)

    return call
