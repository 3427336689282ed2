"""Production units, their members, and the expense drafts made of received supplier documents."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.model.expense import ExpenseStatus
from gateway.store.tables.columns import ID, PARTICIPANT, UNIT_KEY, UTCDateTime, metadata, one_of

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
    CheckConstraint(one_of("status", ExpenseStatus), name="status"),
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

expense_action_keys = Table(
    "expense_action_keys",
    metadata,
    # The Idempotency-Key of an expense action that changed nothing (a repeat: no audit entry to keep it
    # in, ``services.expense_keys``), with the fingerprint of its request; a key whose request was recorded
    # lives in that audit entry's detail instead. Purged with the outbound keys (``store.retention``).
    Column("expense_id", String(ID), ForeignKey("expenses.id", ondelete="CASCADE"), primary_key=True),
    Column("client", String(200), primary_key=True),  # the actor's name, as expense_events.actor
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
)
