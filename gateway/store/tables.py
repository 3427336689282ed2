"""The persistence model: SQLAlchemy Core tables for SQLite and PostgreSQL. Rows are mapped to the domain
records of ``gateway.model.message`` in ``store/sql.py``; these tables are not the domain model."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
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
WEBHOOK_OPEN = "delivered_at IS NULL AND failed_at IS NULL"
"""Predicate of the webhook outbox rows still to be sent (the partial lease index covers only these)."""


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


def _one_of(
    column: str,
    values: type[DeliveryStatus | InboundStatus | DocumentKind | Direction | SignalKind | ExpenseStatus],
) -> str:
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({allowed})"


outbound_documents = Table(
    "outbound_documents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("seller_id", String(PARTICIPANT), nullable=False),
    Column("document_number", String(200), nullable=False),
    Column("sender_id", String(PARTICIPANT), nullable=False),
    Column("receiver_id", String(PARTICIPANT), nullable=False),
    # Participant ids compare case-insensitively (Peppol Policy for use of identifiers 4.x): filter on
    # the case-folded key, show the id as submitted.
    Column("receiver_key", String(PARTICIPANT), nullable=False),
    Column("document_type_id", String(IDENTIFIER), nullable=False),
    Column("process_id", String(IDENTIFIER), nullable=False),
    Column("ubl", LargeBinary, nullable=False),
    Column("validation_report", JSON(none_as_null=True), nullable=True),
    # BT-55 buyer country (``ZZ``: none), read at submit from the tree validation parsed, for the reporting
    # record of the delivery: the worker never parses the document for it. NULL (rows stored before 0012,
    # documents we write ourselves): read from ``ubl`` when needed.
    Column("buyer_country", String(2), nullable=True),
    Column("status", String(24), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("as4_message_id", String(MESSAGE_ID), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("seller_id", "document_number"),
    CheckConstraint(_one_of("status", DeliveryStatus), name="status"),
    CheckConstraint(_one_of("kind", DocumentKind), name="kind"),
    Index(None, "created_at", "id"),
    Index(None, "status", "created_at"),
    Index(None, "receiver_key", "created_at"),
    Index(None, "document_number"),
    Index(None, "as4_message_id"),
)

outbound_events = Table(
    "outbound_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "document_id", String(ID), ForeignKey("outbound_documents.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("from_status", String(24), nullable=True),
    Column("to_status", String(24), nullable=False),
    Column("event", String(32), nullable=False),
    Column("detail", JSON(none_as_null=True), nullable=True),
    Index(None, "document_id", "id"),
)

delivery_jobs = Table(
    "delivery_jobs",
    metadata,
    # At most one job per document: the primary key is the document id, so a document can never be
    # queued twice (the "never sent twice" invariant starts here).
    Column(
        "document_id",
        String(ID),
        ForeignKey("outbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_token", String(64), nullable=True),
    Column("leased_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "due_at"),
)

as4_messages = Table(
    "as4_messages",
    metadata,
    Column("message_id", String(MESSAGE_ID), primary_key=True),
    Column("direction", String(3), primary_key=True),
    Column("document_id", String(ID), nullable=True),
    Column("sbdh_instance_id", String(MESSAGE_ID), nullable=True),
    Column("request_headers", JSON, nullable=False),
    Column("request_body", LargeBinary, nullable=False),
    Column("signal_kind", String(16), nullable=True),
    Column("signal_headers", JSON(none_as_null=True), nullable=True),
    Column("signal_body", LargeBinary, nullable=True),
    Column("signal_at", UTCDateTime, nullable=True),
    Column("ebms_error_code", String(64), nullable=True),
    Column("receipt_summary", JSON(none_as_null=True), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(_one_of("direction", Direction), name="direction"),
    CheckConstraint(f"signal_kind IS NULL OR {_one_of('signal_kind', SignalKind)}", name="signal_kind"),
    Index(None, "document_id"),
    Index(None, "sbdh_instance_id"),
)

SIGNAL_HISTORY_KINDS = ("receipt", "error", "other")
"""Kinds of ``as4_signals`` rows: the ebMS signal kinds plus ``other`` for an answer that is no ebMS
signal (e.g. an HTTP 500 HTML page) should the delivery service choose to keep those too."""

as4_signals = Table(
    "as4_signals",
    metadata,
    # The full signal history of a message (append-only evidence): as4_messages keeps only the latest
    # signal, a retry after an invalid receipt or a retryable ebMS error would otherwise lose the bytes.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(MESSAGE_ID), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ebms_error_code", String(64), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("summary", JSON(none_as_null=True), nullable=True),
    # The delivery attempt (outbound_documents.attempts) the signal answered; NULL for inbound messages.
    Column("attempt", Integer, nullable=True),
    ForeignKeyConstraint(
        ["message_id", "direction"],
        ["as4_messages.message_id", "as4_messages.direction"],
        ondelete="CASCADE",
    ),
    CheckConstraint(_one_of("direction", Direction), name="direction"),
    CheckConstraint(f"kind IN ({', '.join(repr(kind) for kind in SIGNAL_HISTORY_KINDS)})", name="kind"),
    Index(None, "message_id", "direction", "at"),
)

inbound_documents = Table(
    "inbound_documents",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("as4_message_id", String(MESSAGE_ID), nullable=False),
    Column("sender_id", String(PARTICIPANT), nullable=False),
    Column("sender_key", String(PARTICIPANT), nullable=False),
    Column("receiver_id", String(PARTICIPANT), nullable=False),
    Column("receiver_key", String(PARTICIPANT), nullable=False),
    Column("document_type_id", String(IDENTIFIER), nullable=False),
    Column("process_id", String(IDENTIFIER), nullable=False),
    Column("sbdh_instance_id", String(MESSAGE_ID), nullable=True),
    Column("validation_report", JSON(none_as_null=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("as4_message_id"),
    CheckConstraint(_one_of("status", InboundStatus), name="status"),
    Index(None, "received_at", "id"),
    Index(None, "status", "received_at"),
    Index(None, "sender_key", "received_at"),
    Index(None, "receiver_key", "received_at"),
)

inbound_document_bodies = Table(
    "inbound_document_bodies",
    metadata,
    # The received business document's bytes, apart from its row (migration 0013): recording the verdict
    # updates the status columns, and SQLite rewrites a whole row on UPDATE, a 20 MB body included.
    Column(
        "document_id",
        String(ID),
        ForeignKey("inbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("body", LargeBinary, nullable=False),
)

#: Longest API client name (``APIKey.name``): the idempotency keys are scoped by it.
CLIENT_NAME_LENGTH = 128

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client", String(CLIENT_NAME_LENGTH), primary_key=True),  # the API key's name (migration 0011)
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(128), nullable=False),
    Column("document_id", String(ID), nullable=True),
    Column("response_status", Integer, nullable=False),
    Column("response_body", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("target", String(64), nullable=False),  # a configured endpoint, by reference; never its URL
    Column("payload", JSON, nullable=False),
    Column("document_id", String(ID), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_token", String(64), nullable=True),
    Column("leased_until", UTCDateTime, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("failed_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    # Partial: only open rows (neither delivered nor failed), the ones the lease query looks for, so
    # leasing stays an index range scan however much delivered/failed history accumulates. The lease
    # query repeats this predicate verbatim (both planners need that to use a partial index).
    Index(
        "ix_webhook_outbox_open_due_at",
        "due_at",
        "id",
        postgresql_where=text(WEBHOOK_OPEN),
        sqlite_where=text(WEBHOOK_OPEN),
    ),
    Index(None, "document_id"),
)

UNIT_KEY = 32  # production unit key: letters + digits (gateway.model.units)

production_units = Table(
    "production_units",
    metadata,
    Column("key", String(UNIT_KEY), primary_key=True),
    Column("code", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

production_unit_members = Table(
    "production_unit_members",
    metadata,
    # Who may approve a unit's expenses, one row per (unit, member): "which units name this member" is an
    # index lookup, however many units there are.
    Column(
        "unit_key",
        String(UNIT_KEY),
        ForeignKey("production_units.key", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("member", String(200), primary_key=True),
    Index(None, "member"),
)

supplier_units = Table(
    "supplier_units",
    metadata,
    Column("supplier_key", String(PARTICIPANT), primary_key=True),
    Column("unit_key", String(UNIT_KEY), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

expenses = Table(
    "expenses",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column(
        "inbound_document_id",
        String(ID),
        ForeignKey("inbound_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("unit_key", String(UNIT_KEY), nullable=True),
    Column("supplier_key", String(PARTICIPANT), nullable=False),
    Column("supplier_name", Text, nullable=False),
    Column("number", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    # Decimal as text: exact on both databases (SQLite has no decimal type).
    Column("amount", String(40), nullable=False),
    Column("issue_date", String(10), nullable=False),
    # SHA-256 of supplier + kind + number + amount + currency: the same document twice is one expense.
    Column("dedupe_key", String(64), nullable=False),
    Column("draft", JSON, nullable=False),
    Column("routing", JSON, nullable=False),
    Column("credited_expense_id", String(ID), nullable=True),
    Column("status_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("inbound_document_id"),
    UniqueConstraint("dedupe_key"),
    CheckConstraint(_one_of("status", ExpenseStatus), name="status"),
    Index(None, "created_at", "id"),
    Index(None, "unit_key", "created_at"),
    Index(None, "status", "created_at"),
    Index(None, "supplier_key", "number"),
)

expense_duplicates = Table(
    "expense_duplicates",
    metadata,
    # A received document that repeated an expense (same supplier, kind, number, amount): it has no expense
    # of its own, and this row says so (the recovery pass must not take it for a document left out).
    Column(
        "inbound_document_id",
        String(ID),
        ForeignKey("inbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("expense_id", String(ID), ForeignKey("expenses.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "expense_id"),
)

expense_events = Table(
    "expense_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("expense_id", String(ID), ForeignKey("expenses.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("unit_key", String(UNIT_KEY), nullable=True),
    Column("detail", JSON(none_as_null=True), nullable=True),
    Index(None, "expense_id", "id"),
)

PERSON = 200  # a person's login name

web_people = Table(
    "web_people",
    metadata,
    # People who log in to the pages (/web): the password as an argon2 hash, never the password.
    Column("name", String(PERSON), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("units", Text, nullable=False),  # unit keys a member acts on, blank-separated
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # Opaque server-side sessions: the cookie holds a random token, the row only its SHA-256.
    Column("token_sha256", String(64), primary_key=True),
    Column(
        "person",
        String(PERSON),
        ForeignKey("web_people.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "person"),
    Index(None, "expires_at"),
)

web_login_failures = Table(
    "web_login_failures",
    metadata,
    # Failed logins per name, counted over a sliding window (the login rate limit).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(PERSON), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "name", "at"),
)

pending_answers = Table(
    "pending_answers",
    metadata,
    # A received MLS or Invoice Response that arrived before the receipt of the document it answers was
    # recorded: applied (and removed) by the unit of work that records that receipt.
    Column(
        "inbound_document_id",
        String(ID),
        ForeignKey("inbound_documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "outbound_document_id",
        String(ID),
        ForeignKey("outbound_documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("held_at", UTCDateTime, nullable=False),
    Index(None, "outbound_document_id"),
    Index(None, "held_at", "inbound_document_id"),
)

# Peppol reporting (peppol-as4.md §11): one row per AS4 business message sent or received, with what the
# TSR and EUSR need, and the monthly reports. Rows of ``peppol_transmissions`` are written in the unit of
# work that records the receipt (sent: the receipt we got; received: the receipt we gave).
peppol_transmissions = Table(
    "peppol_transmissions",
    metadata,
    Column("message_id", String(MESSAGE_ID), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("other_seat", String(64), nullable=False),
    Column("document_type_scheme", String(64), nullable=False),
    Column("document_type", String(IDENTIFIER), nullable=False),
    Column("process_scheme", String(64), nullable=False),
    Column("process", String(IDENTIFIER), nullable=False),
    Column("transport_profile", String(64), nullable=False),
    Column("c1_country", String(2), nullable=False),
    Column("c4_country", String(2), nullable=False),
    Column("end_user", String(PARTICIPANT), nullable=False),
    CheckConstraint("direction IN ('outgoing', 'incoming')", name="direction"),
    Index(None, "at"),
)

peppol_reports = Table(
    "peppol_reports",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("month", String(7), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("xml", LargeBinary, nullable=False),
    Column("validation_report", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outbound_document_id", String(ID), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Exactly one report per month and kind: the scheduler's "exactly once" rests on this constraint.
    UniqueConstraint("month", "kind"),
    CheckConstraint("kind IN ('tsr', 'eusr')", name="kind"),
    CheckConstraint("status IN ('stored', 'invalid', 'queued')", name="status"),
    Index(None, "created_at", "id"),
)
