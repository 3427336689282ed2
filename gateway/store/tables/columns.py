"""What every table shares: the metadata with its constraint naming, column lengths, the UTC time type
and the enumeration check."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Dialect, MetaData
from sqlalchemy.types import DateTime, TypeDecorator

from gateway.model.expense import ExpenseStatus
from gateway.model.message import DeliveryStatus, Direction, DocumentKind, InboundStatus, SignalKind

# Deterministic constraint names so migrations can name (and later alter or drop) every constraint.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID = 36  # UUID string, canonical 8-4-4-4-12 form
PARTICIPANT = 200  # ICD:value; Peppol caps the value at 130 characters (Policy for use of identifiers)
IDENTIFIER = 500  # document type / process ids with their scheme
MESSAGE_ID = 255  # eb:MessageId (RFC 2822 msg-id form), SBDH InstanceIdentifier


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases.

    PostgreSQL stores ``timestamptz``; SQLite has no time zone type, so the value is stored as naive UTC
    text (ISO order = time order) and UTC is re-attached when read. Naive input is refused: a naive time
    in the domain is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store takes timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def one_of(
    column: str,
    values: type[DeliveryStatus | InboundStatus | DocumentKind | Direction | SignalKind | ExpenseStatus],
) -> str:
    """A CHECK expression that holds when ``column`` is one of the enumeration's values."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({allowed})"


UNIT_KEY = 32  # production unit key: letters + digits (gateway.model.units)
PERSON = 200  # a person's login name
