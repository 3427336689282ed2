"""A received document's own number (``inbound_documents.document_number``) and its search key.

Support is asked "did you get my invoice INV-123?": the number (BT-1 of an invoice or credit note, the
``cbc:ID`` of an Invoice Response or MLS) is read from the tree its validation parses and stored with the
verdict, with its lower-case form (``document_number_key``, indexed with ``received_at``) that the search
matches. Nullable: a document not parsed (malformed, too large, a type without a rule set) has none.

The rows stored before this revision are not read here: reading every stored body would hold the upgrade
(and, on SQLite, the write lock every receipt needs) for as long as it takes. ``gateway inbound
backfill-numbers`` fills them afterwards, in small batches, while the gateway runs.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

_INDEX = "ix_inbound_documents_document_number_key_received_at"


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases: no batch rebuild of inbound_documents on SQLite (its DROP TABLE
    # would cascade to the tables referencing it).
    op.add_column("inbound_documents", sa.Column("document_number", sa.String(length=200), nullable=True))
    op.add_column("inbound_documents", sa.Column("document_number_key", sa.String(length=200), nullable=True))
    op.create_index(_INDEX, "inbound_documents", ["document_number_key", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="inbound_documents")
    # SQLite has had DROP COLUMN since 3.35 (the columns are in no index or constraint any more).
    op.drop_column("inbound_documents", "document_number_key")
    op.drop_column("inbound_documents", "document_number")
