"""A received document's bytes move to their own table (``inbound_document_bodies``).

Recording a verdict updates the status columns of ``inbound_documents``; SQLite rewrites the whole row on
every UPDATE, so with the body in the row a 20 MB document was read and written again (≈ 20 MB of the
receiver's memory) just to change its status. The rows keep everything else; each body moves, once, to the
new table under its document's id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_document_bodies",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["inbound_documents.id"],
            name=op.f("fk_inbound_document_bodies_document_id_inbound_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_inbound_document_bodies")),
    )
    op.execute(
        "INSERT INTO inbound_document_bodies (document_id, body) SELECT id, body FROM inbound_documents"
    )
    # A plain DROP COLUMN on both databases (SQLite ≥ 3.35; the column is in no index or constraint): no
    # batch rebuild, whose DROP TABLE would cascade to the tables referencing inbound_documents.
    op.drop_column("inbound_documents", "body")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default (and cannot drop it later without a rebuild, which
    # would cascade to the children): the empty default stays there, every row gets its body below.
    op.add_column(
        "inbound_documents",
        sa.Column(
            "body", sa.LargeBinary(), nullable=not sqlite, server_default=sa.text("X''") if sqlite else None
        ),
    )
    op.execute(
        "UPDATE inbound_documents SET body = (SELECT b.body FROM inbound_document_bodies b"
        " WHERE b.document_id = inbound_documents.id)"
    )
    if not sqlite:
        op.alter_column("inbound_documents", "body", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("inbound_document_bodies")
