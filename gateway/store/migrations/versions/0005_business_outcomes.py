"""Business responses: outbound documents may be Invoice Responses (T111) or Message Level Status (MLS), and
a delivered document may reach the MLS outcomes ``confirmed`` or ``rejected``. Widens two CHECK constraints.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_STATUS = "status IN ('accepted', 'sending', 'delivered', 'retrying', 'failed')"
_NEW_STATUS = "status IN ('accepted', 'sending', 'delivered', 'retrying', 'failed', 'confirmed', 'rejected')"
_OLD_KIND = "kind IN ('invoice', 'credit-note', 'ubl')"
_NEW_KIND = "kind IN ('invoice', 'credit-note', 'ubl', 'invoice-response', 'mls')"


#: Tables whose rows reference outbound_documents with ON DELETE CASCADE.
_CHILDREN = ("outbound_events", "delivery_jobs")


def _replace_checks(status: str, kind: str) -> None:
    # Batch mode rebuilds the table on SQLite (no ALTER of constraints there) and alters in place elsewhere.
    # The rebuild drops the old table, and with foreign_keys=ON (our connections; the PRAGMA cannot change
    # inside the migration's transaction) that DROP deletes every child row by cascade: keep them aside.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for child in _CHILDREN:
            op.execute(f"CREATE TEMP TABLE keep_{child} AS SELECT * FROM {child}")  # noqa: S608 - constant names
    with op.batch_alter_table("outbound_documents") as batch:
        batch.drop_constraint(op.f("ck_outbound_documents_status"), type_="check")
        batch.drop_constraint(op.f("ck_outbound_documents_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbound_documents_status"), status)
        batch.create_check_constraint(op.f("ck_outbound_documents_kind"), kind)
    if sqlite:
        for child in _CHILDREN:
            op.execute(f"DELETE FROM {child}")  # noqa: S608 - constant names
            op.execute(f"INSERT INTO {child} SELECT * FROM keep_{child}")  # noqa: S608 - constant names
            op.execute(f"DROP TABLE keep_{child}")


def upgrade() -> None:
    _replace_checks(_NEW_STATUS, _NEW_KIND)


def downgrade() -> None:
    _replace_checks(_OLD_STATUS, _OLD_KIND)
