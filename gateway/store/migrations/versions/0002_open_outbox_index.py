"""Webhook outbox: the lease index covers open rows only (neither delivered nor failed), so leasing no
longer walks the delivered/failed history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_OPEN = "delivered_at IS NULL AND failed_at IS NULL"


def upgrade() -> None:
    op.drop_index(op.f("ix_webhook_outbox_due_at"), table_name="webhook_outbox")
    op.create_index(
        "ix_webhook_outbox_open_due_at",
        "webhook_outbox",
        ["due_at", "id"],
        unique=False,
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_outbox_open_due_at", table_name="webhook_outbox")
    op.create_index(op.f("ix_webhook_outbox_due_at"), "webhook_outbox", ["due_at"], unique=False)
