"""Idempotency keys scoped per API client: the primary key becomes (client, key).

Two clients using the same Idempotency-Key must not see each other's answers. Rows stored before this
revision were global; they get the client ``''``, which no API key can carry (``APIKey.name`` is at least
one character), so they no longer replay through the API: a repeat of such a request is still caught by the
(seller, number) pair, and the rows go with the usual retention.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

#: The client of the keys stored before 0011 (also the shared scope of ``Submission.client``'s default).
LEGACY_CLIENT = ""


def upgrade() -> None:
    # No table references idempotency_keys: the SQLite rebuild of batch mode cascades to nothing.
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(
            sa.Column("client", sa.String(length=128), nullable=False, server_default=LEGACY_CLIENT)
        )
        batch.drop_constraint(op.f("pk_idempotency_keys"), type_="primary")
        batch.create_primary_key(op.f("pk_idempotency_keys"), ["client", "key"])
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("client", server_default=None, existing_type=sa.String(length=128))


def downgrade() -> None:
    # A key used by several clients cannot be global again without choosing an owner: those rows go.
    op.execute(
        "DELETE FROM idempotency_keys WHERE key IN "
        "(SELECT key FROM idempotency_keys GROUP BY key HAVING COUNT(*) > 1)"
    )
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_constraint(op.f("pk_idempotency_keys"), type_="primary")
        batch.create_primary_key(op.f("pk_idempotency_keys"), ["key"])
        batch.drop_column("client")
