"""Expenses: production units and their members, supplier -> unit mappings, expenses (drafts of received
invoices and credit notes with their routing and workflow state), the received documents flagged as their
duplicates, and the audit trail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_STATUSES = "'received', 'to_triage', 'to_approve', 'under_query', 'approved', 'rejected', 'paid'"


def upgrade() -> None:
    op.create_table(
        "production_units",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_production_units")),
    )
    op.create_table(
        "production_unit_members",
        sa.Column("unit_key", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_key"],
            ["production_units.key"],
            name=op.f("fk_production_unit_members_unit_key_production_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unit_key", "member", name=op.f("pk_production_unit_members")),
    )
    op.create_index(
        op.f("ix_production_unit_members_member"), "production_unit_members", ["member"], unique=False
    )
    op.create_table(
        "supplier_units",
        sa.Column("supplier_key", sa.String(length=200), nullable=False),
        sa.Column("unit_key", sa.String(length=32), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("supplier_key", name=op.f("pk_supplier_units")),
    )
    op.create_table(
        "expenses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("inbound_document_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("unit_key", sa.String(length=32), nullable=True),
        sa.Column("supplier_key", sa.String(length=200), nullable=False),
        sa.Column("supplier_name", sa.Text(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("credited_expense_id", sa.String(length=36), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name=op.f("ck_expenses_status")),
        sa.ForeignKeyConstraint(
            ["inbound_document_id"],
            ["inbound_documents.id"],
            name=op.f("fk_expenses_inbound_document_id_inbound_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expenses")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_expenses_dedupe_key")),
        sa.UniqueConstraint("inbound_document_id", name=op.f("uq_expenses_inbound_document_id")),
    )
    op.create_index(op.f("ix_expenses_created_at_id"), "expenses", ["created_at", "id"], unique=False)
    op.create_index(
        op.f("ix_expenses_unit_key_created_at"), "expenses", ["unit_key", "created_at"], unique=False
    )
    op.create_index(op.f("ix_expenses_status_created_at"), "expenses", ["status", "created_at"], unique=False)
    op.create_index(
        op.f("ix_expenses_supplier_key_number"), "expenses", ["supplier_key", "number"], unique=False
    )
    op.create_table(
        "expense_duplicates",
        sa.Column("inbound_document_id", sa.String(length=36), nullable=False),
        sa.Column("expense_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expense_id"],
            ["expenses.id"],
            name=op.f("fk_expense_duplicates_expense_id_expenses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["inbound_document_id"],
            ["inbound_documents.id"],
            name=op.f("fk_expense_duplicates_inbound_document_id_inbound_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("inbound_document_id", name=op.f("pk_expense_duplicates")),
    )
    op.create_index(
        op.f("ix_expense_duplicates_expense_id"), "expense_duplicates", ["expense_id"], unique=False
    )
    op.create_table(
        "expense_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("expense_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("unit_key", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["expense_id"],
            ["expenses.id"],
            name=op.f("fk_expense_events_expense_id_expenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expense_events")),
    )
    op.create_index(
        op.f("ix_expense_events_expense_id_id"), "expense_events", ["expense_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_expense_events_expense_id_id"), table_name="expense_events")
    op.drop_table("expense_events")
    op.drop_index(op.f("ix_expense_duplicates_expense_id"), table_name="expense_duplicates")
    op.drop_table("expense_duplicates")
    for name in ("supplier_key_number", "status_created_at", "unit_key_created_at", "created_at_id"):
        op.drop_index(op.f(f"ix_expenses_{name}"), table_name="expenses")
    op.drop_table("expenses")
    op.drop_table("supplier_units")
    op.drop_index(op.f("ix_production_unit_members_member"), table_name="production_unit_members")
    op.drop_table("production_unit_members")
    op.drop_table("production_units")
