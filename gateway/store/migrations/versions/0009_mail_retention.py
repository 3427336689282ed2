"""E-mail fallback: an outbound document may end ``delivered_by_email`` (18 characters). Widens the status
CHECK constraint and the status columns (16 -> 24 characters) of outbound documents and their timeline.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_STATUS = "status IN ('accepted', 'sending', 'delivered', 'retrying', 'failed', 'confirmed', 'rejected')"
_NEW_STATUS = (
    "status IN ('accepted', 'sending', 'delivered', 'retrying', 'failed', 'confirmed', 'rejected', "
    "'delivered_by_email')"
)

#: Tables whose rows reference outbound_documents with ON DELETE CASCADE.
_CHILDREN = ("outbound_events", "delivery_jobs")


def _replace_status_check(status: str, width: int) -> None:
    # As in 0005: batch mode rebuilds the table on SQLite, whose DROP would cascade to the children.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for child in _CHILDREN:
            op.execute(f"CREATE TEMP TABLE keep_{child} AS SELECT * FROM {child}")  # noqa: S608 - constant names
    with op.batch_alter_table("outbound_documents") as batch:
        batch.drop_constraint(op.f("ck_outbound_documents_status"), type_="check")
        batch.alter_column("status", type_=sa.String(width), existing_nullable=False)
        batch.create_check_constraint(op.f("ck_outbound_documents_status"), status)
    if sqlite:
        for child in _CHILDREN:
            op.execute(f"DELETE FROM {child}")  # noqa: S608 - constant names
            op.execute(f"INSERT INTO {child} SELECT * FROM keep_{child}")  # noqa: S608 - constant names
            op.execute(f"DROP TABLE keep_{child}")
    # No table references the timeline: its SQLite rebuild cascades to nothing.
    with op.batch_alter_table("outbound_events") as batch:
        batch.alter_column("from_status", type_=sa.String(width), existing_nullable=True)
        batch.alter_column("to_status", type_=sa.String(width), existing_nullable=False)


def upgrade() -> None:
    _replace_status_check(_NEW_STATUS, 24)


def downgrade() -> None:
    _replace_status_check(_OLD_STATUS, 16)
