"""Pending answers: received MLS and Invoice Responses held until the receipt of the document they answer
is recorded.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "pending_answers",
        sa.Column("inbound_document_id", sa.String(length=36), nullable=False),
        sa.Column("outbound_document_id", sa.String(length=36), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_document_id"],
            ["inbound_documents.id"],
            name=op.f("fk_pending_answers_inbound_document_id_inbound_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbound_document_id"],
            ["outbound_documents.id"],
            name=op.f("fk_pending_answers_outbound_document_id_outbound_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inbound_document_id", name=op.f("pk_pending_answers")),
    )
    op.create_index(
        op.f("ix_pending_answers_outbound_document_id"),
        "pending_answers",
        ["outbound_document_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_pending_answers_held_at_inbound_document_id"),
        "pending_answers",
        ["held_at", "inbound_document_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_answers_held_at_inbound_document_id"), table_name="pending_answers")
    op.drop_index(op.f("ix_pending_answers_outbound_document_id"), table_name="pending_answers")
    op.drop_table("pending_answers")
