"""Which store failures a retry may cure: a lost connection, a lock or a timeout (retryable), not an
integrity or data error, which the same write repeats (``StoreError.retryable``)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from gateway.errors import DuplicateMessage, StoreDataRefused, StoreError
from gateway.store.errors import map_db_errors


def _raised(error: Exception) -> StoreError:
    with pytest.raises(StoreError) as caught, map_db_errors("pending answers.hold"):
        raise error
    return caught.value


def test_a_foreign_key_or_check_violation_is_permanent() -> None:
    error = _raised(sa_exc.IntegrityError("INSERT", {}, Exception("FOREIGN KEY constraint failed")))
    assert isinstance(error, StoreDataRefused)
    assert not error.retryable


def test_a_unique_violation_is_permanent() -> None:
    error = _raised(sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed: x.id")))
    assert isinstance(error, DuplicateMessage)
    assert not error.retryable


def test_a_value_the_database_cannot_store_is_permanent() -> None:
    error = _raised(sa_exc.DataError("INSERT", {}, Exception("value too long for type character varying")))
    assert isinstance(error, StoreDataRefused)
    assert not error.retryable


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.OperationalError("UPDATE", {}, Exception("database is locked")),
        sa_exc.OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly")),
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_a_lost_connection_a_lock_or_a_timeout_is_retryable(error: Exception) -> None:
    raised = _raised(error)
    assert type(raised) is StoreError
    assert raised.retryable
