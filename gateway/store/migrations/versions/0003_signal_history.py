"""AS4 signal history: every receipt or ebMS error received or sent for a message, kept as evidence
(as4_messages keeps only the latest one).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "as4_signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ebms_error_code", sa.String(length=64), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.CheckConstraint("direction IN ('out', 'in')", name=op.f("ck_as4_signals_direction")),
        sa.CheckConstraint("kind IN ('receipt', 'error', 'other')", name=op.f("ck_as4_signals_kind")),
        sa.ForeignKeyConstraint(
            ["message_id", "direction"],
            ["as4_messages.message_id", "as4_messages.direction"],
            name=op.f("fk_as4_signals_message_id_as4_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_as4_signals")),
    )
    op.create_index(
        op.f("ix_as4_signals_message_id_direction_at"),
        "as4_signals",
        ["message_id", "direction", "at"],
        unique=False,
    )
    # Carry the latest signal of existing messages over, so the history is complete from the start (the
    # earlier ones were overwritten before this revision and are gone).
    op.execute(
        "INSERT INTO as4_signals (message_id, direction, at, kind, ebms_error_code, headers, body, summary) "
        "SELECT message_id, direction, signal_at, signal_kind, ebms_error_code, signal_headers, signal_body, "
        "receipt_summary FROM as4_messages "
        "WHERE signal_kind IS NOT NULL AND signal_at IS NOT NULL "
        "AND signal_headers IS NOT NULL AND signal_body IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_as4_signals_message_id_direction_at"), table_name="as4_signals")
    op.drop_table("as4_signals")
