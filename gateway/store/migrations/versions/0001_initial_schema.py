"""Initial schema: outbound/inbound documents, status timeline, AS4 messages, idempotency keys,
delivery jobs and the webhook outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "as4_messages",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("sbdh_instance_id", sa.String(length=255), nullable=True),
        sa.Column("request_headers", sa.JSON(), nullable=False),
        sa.Column("request_body", sa.LargeBinary(), nullable=False),
        sa.Column("signal_kind", sa.String(length=16), nullable=True),
        sa.Column("signal_headers", sa.JSON(), nullable=True),
        sa.Column("signal_body", sa.LargeBinary(), nullable=True),
        sa.Column("signal_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ebms_error_code", sa.String(length=64), nullable=True),
        sa.Column("receipt_summary", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('out', 'in')", name=op.f("ck_as4_messages_direction")),
        sa.CheckConstraint(
            "signal_kind IS NULL OR signal_kind IN ('receipt', 'error')",
            name=op.f("ck_as4_messages_signal_kind"),
        ),
        sa.PrimaryKeyConstraint("message_id", "direction", name=op.f("pk_as4_messages")),
    )
    op.create_index(op.f("ix_as4_messages_document_id"), "as4_messages", ["document_id"], unique=False)
    op.create_index(
        op.f("ix_as4_messages_sbdh_instance_id"), "as4_messages", ["sbdh_instance_id"], unique=False
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False)

    op.create_table(
        "inbound_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("as4_message_id", sa.String(length=255), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("sender_key", sa.String(length=200), nullable=False),
        sa.Column("receiver_id", sa.String(length=200), nullable=False),
        sa.Column("receiver_key", sa.String(length=200), nullable=False),
        sa.Column("document_type_id", sa.String(length=500), nullable=False),
        sa.Column("process_id", sa.String(length=500), nullable=False),
        sa.Column("sbdh_instance_id", sa.String(length=255), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("validation_report", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('received', 'valid', 'invalid')", name=op.f("ck_inbound_documents_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_documents")),
        sa.UniqueConstraint("as4_message_id", name=op.f("uq_inbound_documents_as4_message_id")),
    )
    op.create_index(
        op.f("ix_inbound_documents_received_at_id"), "inbound_documents", ["received_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_inbound_documents_receiver_key_received_at"),
        "inbound_documents",
        ["receiver_key", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inbound_documents_sender_key_received_at"),
        "inbound_documents",
        ["sender_key", "received_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inbound_documents_status_received_at"),
        "inbound_documents",
        ["status", "received_at"],
        unique=False,
    )

    op.create_table(
        "outbound_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seller_id", sa.String(length=200), nullable=False),
        sa.Column("document_number", sa.String(length=200), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("receiver_id", sa.String(length=200), nullable=False),
        sa.Column("receiver_key", sa.String(length=200), nullable=False),
        sa.Column("document_type_id", sa.String(length=500), nullable=False),
        sa.Column("process_id", sa.String(length=500), nullable=False),
        sa.Column("ubl", sa.LargeBinary(), nullable=False),
        sa.Column("validation_report", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("as4_message_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit-note', 'ubl')", name=op.f("ck_outbound_documents_kind")
        ),
        sa.CheckConstraint(
            "status IN ('accepted', 'sending', 'delivered', 'retrying', 'failed')",
            name=op.f("ck_outbound_documents_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_documents")),
        sa.UniqueConstraint(
            "seller_id", "document_number", name=op.f("uq_outbound_documents_seller_id_document_number")
        ),
    )
    op.create_index(
        op.f("ix_outbound_documents_as4_message_id"), "outbound_documents", ["as4_message_id"], unique=False
    )
    op.create_index(
        op.f("ix_outbound_documents_created_at_id"), "outbound_documents", ["created_at", "id"], unique=False
    )
    op.create_index(
        op.f("ix_outbound_documents_document_number"), "outbound_documents", ["document_number"], unique=False
    )
    op.create_index(
        op.f("ix_outbound_documents_receiver_key_created_at"),
        "outbound_documents",
        ["receiver_key", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbound_documents_status_created_at"),
        "outbound_documents",
        ["status", "created_at"],
        unique=False,
    )

    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(length=64), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
    )
    op.create_index(op.f("ix_webhook_outbox_document_id"), "webhook_outbox", ["document_id"], unique=False)
    op.create_index(op.f("ix_webhook_outbox_due_at"), "webhook_outbox", ["due_at"], unique=False)

    op.create_table(
        "delivery_jobs",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(length=64), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outbound_documents.id"],
            name=op.f("fk_delivery_jobs_document_id_outbound_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_delivery_jobs")),
    )
    op.create_index(op.f("ix_delivery_jobs_due_at"), "delivery_jobs", ["due_at"], unique=False)

    op.create_table(
        "outbound_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["outbound_documents.id"],
            name=op.f("fk_outbound_events_document_id_outbound_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_events")),
    )
    op.create_index(
        op.f("ix_outbound_events_document_id_id"), "outbound_events", ["document_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_events_document_id_id"), table_name="outbound_events")

    op.drop_table("outbound_events")
    op.drop_index(op.f("ix_delivery_jobs_due_at"), table_name="delivery_jobs")

    op.drop_table("delivery_jobs")
    op.drop_index(op.f("ix_webhook_outbox_due_at"), table_name="webhook_outbox")
    op.drop_index(op.f("ix_webhook_outbox_document_id"), table_name="webhook_outbox")

    op.drop_table("webhook_outbox")
    op.drop_index(op.f("ix_outbound_documents_status_created_at"), table_name="outbound_documents")
    op.drop_index(op.f("ix_outbound_documents_receiver_key_created_at"), table_name="outbound_documents")
    op.drop_index(op.f("ix_outbound_documents_document_number"), table_name="outbound_documents")
    op.drop_index(op.f("ix_outbound_documents_created_at_id"), table_name="outbound_documents")
    op.drop_index(op.f("ix_outbound_documents_as4_message_id"), table_name="outbound_documents")

    op.drop_table("outbound_documents")
    op.drop_index(op.f("ix_inbound_documents_status_received_at"), table_name="inbound_documents")
    op.drop_index(op.f("ix_inbound_documents_sender_key_received_at"), table_name="inbound_documents")
    op.drop_index(op.f("ix_inbound_documents_receiver_key_received_at"), table_name="inbound_documents")
    op.drop_index(op.f("ix_inbound_documents_received_at_id"), table_name="inbound_documents")

    op.drop_table("inbound_documents")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")

    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_as4_messages_sbdh_instance_id"), table_name="as4_messages")
    op.drop_index(op.f("ix_as4_messages_document_id"), table_name="as4_messages")

    op.drop_table("as4_messages")
