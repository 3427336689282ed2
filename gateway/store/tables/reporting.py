"""Peppol reporting: transmissions sent and received, and the monthly reports."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Column, Index, LargeBinary, String, Table, UniqueConstraint

from gateway.store.tables.columns import ID, IDENTIFIER, MESSAGE_ID, PARTICIPANT, UTCDateTime, metadata

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
