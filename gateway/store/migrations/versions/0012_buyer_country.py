"""The BT-55 buyer country of an outbound document, read at submit (``outbound_documents.buyer_country``).

The reporting record of a delivered document needs it; stored with the document, the delivery worker no
longer parses the UBL to find it. Nullable: rows stored before this revision (and documents the gateway
writes itself) have none, and their country is read from the stored UBL as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no batch rebuild on SQLite: nothing cascades to the children).
    op.add_column("outbound_documents", sa.Column("buyer_country", sa.String(length=2), nullable=True))


def downgrade() -> None:
    # SQLite has had DROP COLUMN since 3.35 (the column is in no index or constraint).
    op.drop_column("outbound_documents", "buyer_country")
