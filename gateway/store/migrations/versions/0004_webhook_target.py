"""Webhook outbox: keep a target reference instead of the URL (the URL may carry a token; it stays in the
configuration, ``webhooks.url``, and is resolved when an entry is sent).

Every existing entry was written for the one configured URL, so it becomes target ``default``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_outbox", sa.Column("target", sa.String(length=64), nullable=False, server_default="default")
    )
    op.drop_column("webhook_outbox", "url")
    with op.batch_alter_table("webhook_outbox") as batch:
        batch.alter_column("target", server_default=None, existing_type=sa.String(length=64))


def downgrade() -> None:
    # The URL is not recoverable from the reference: downgraded rows carry an empty one.
    op.add_column("webhook_outbox", sa.Column("url", sa.Text(), nullable=False, server_default=""))
    op.drop_column("webhook_outbox", "target")
