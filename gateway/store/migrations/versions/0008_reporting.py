"""Peppol reporting (peppol-as4.md §11): the per-transmission records, the monthly TSR/EUSR reports, and the
outbound document kind ``peppol-report`` that carries them (widens one CHECK constraint).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

_OLD_KIND = "kind IN ('invoice', 'credit-note', 'ubl', 'invoice-response', 'mls')"
_NEW_KIND = "kind IN ('invoice', 'credit-note', 'ubl', 'invoice-response', 'mls', 'peppol-report')"

#: Tables whose rows reference outbound_documents with ON DELETE CASCADE.
_CHILDREN = ("outbound_events", "delivery_jobs")


def _replace_kind_check(kind: str) -> None:
    # As 0005: batch mode rebuilds the table on SQLite, and the DROP there would cascade to the children.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for child in _CHILDREN:
            op.execute(f"CREATE TEMP TABLE keep_{child} AS SELECT * FROM {child}")  # noqa: S608 - constant names
    with op.batch_alter_table("outbound_documents") as batch:
        batch.drop_constraint(op.f("ck_outbound_documents_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbound_documents_kind"), kind)
    if sqlite:
        for child in _CHILDREN:
            op.execute(f"DELETE FROM {child}")  # noqa: S608 - constant names
            op.execute(f"INSERT INTO {child} SELECT * FROM keep_{child}")  # noqa: S608 - constant names
            op.execute(f"DROP TABLE keep_{child}")


def upgrade() -> None:
    _replace_kind_check(_NEW_KIND)
    op.create_table(
        "peppol_transmissions",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("other_seat", sa.String(length=64), nullable=False),
        sa.Column("document_type_scheme", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=500), nullable=False),
        sa.Column("process_scheme", sa.String(length=64), nullable=False),
        sa.Column("process", sa.String(length=500), nullable=False),
        sa.Column("transport_profile", sa.String(length=64), nullable=False),
        sa.Column("c1_country", sa.String(length=2), nullable=False),
        sa.Column("c4_country", sa.String(length=2), nullable=False),
        sa.Column("end_user", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "direction IN ('outgoing', 'incoming')", name=op.f("ck_peppol_transmissions_direction")
        ),
        sa.PrimaryKeyConstraint("message_id", "direction", name=op.f("pk_peppol_transmissions")),
    )
    op.create_index(op.f("ix_peppol_transmissions_at"), "peppol_transmissions", ["at"], unique=False)
    op.create_table(
        "peppol_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("validation_report", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outbound_document_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('tsr', 'eusr')", name=op.f("ck_peppol_reports_kind")),
        sa.CheckConstraint(
            "status IN ('stored', 'invalid', 'queued')", name=op.f("ck_peppol_reports_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peppol_reports")),
        sa.UniqueConstraint("month", "kind", name=op.f("uq_peppol_reports_month_kind")),
    )
    op.create_index(
        op.f("ix_peppol_reports_created_at_id"), "peppol_reports", ["created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_peppol_reports_created_at_id"), table_name="peppol_reports")
    op.drop_table("peppol_reports")
    op.drop_index(op.f("ix_peppol_transmissions_at"), table_name="peppol_transmissions")
    op.drop_table("peppol_transmissions")
    op.execute("DELETE FROM outbound_documents WHERE kind = 'peppol-report'")
    _replace_kind_check(_OLD_KIND)
