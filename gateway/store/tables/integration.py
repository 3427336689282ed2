"""The invoicing system's side: idempotency keys of the API and the webhook outbox."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, text

from gateway.store.tables.columns import ID, UTCDateTime, metadata

WEBHOOK_OPEN = "delivered_at IS NULL AND failed_at IS NULL"
"""Predicate of the webhook outbox rows still to be sent (the partial lease index covers only these)."""

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
