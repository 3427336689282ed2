"""The Idempotency-Keys of expense actions that changed nothing get a table: ``expense_action_keys``.

An expense action's key is kept in the audit entry of the action it caused (``detail.idempotency``). A
request that changed nothing (a repeat of the last action, an assignment to the unit the expense is in)
writes no entry, so its key was not remembered: the same key with another action or body was not refused
(409), and its retry after the expense moved on was judged afresh. Such a key is now kept in this table,
scoped as the others (client and expense), with the fingerprint of its request, and purged with the
outbound keys after ``GATEWAY_RETENTION__IDEMPOTENCY_DAYS``. The keys in audit entries stay where they are.
The downgrade drops the table: the keys of no-op requests are forgotten, as before this revision.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None

_TABLE = "expense_action_keys"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("expense_id", sa.String(length=36), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expense_id"],
            ["expenses.id"],
            name=op.f("fk_expense_action_keys_expense_id_expenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("expense_id", "client", "key", name=op.f("pk_expense_action_keys")),
    )
    op.create_index(op.f("ix_expense_action_keys_created_at"), _TABLE, ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_expense_action_keys_created_at"), table_name=_TABLE)
    op.drop_table(_TABLE)
