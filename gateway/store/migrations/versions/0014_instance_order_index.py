"""The messages of an SBDH instance found in their order from an index (``ix_as4_messages_instance_order``).

A received message is checked against the earliest stored message of its SBDH InstanceIdentifier
(``store.messages.instance_check``: resend or new document). With an index on ``sbdh_instance_id`` alone the
earliest was found by sorting on ``created_at``, a column SQLite stores after the message's bytes: each
candidate's whole body was read to get its timestamp (5 messages of 20 MB under one instance: 54 ms per
check, inside the write lock). The index holds the instance, the direction and the order, so the earliest is
its first entry; it replaces the one-column index, of which it is a prefix.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ["sbdh_instance_id", "direction", "created_at", "message_id"]


def upgrade() -> None:
    op.create_index("ix_as4_messages_instance_order", "as4_messages", _COLUMNS, unique=False)
    op.drop_index("ix_as4_messages_sbdh_instance_id", table_name="as4_messages")


def downgrade() -> None:
    op.create_index("ix_as4_messages_sbdh_instance_id", "as4_messages", ["sbdh_instance_id"], unique=False)
    op.drop_index("ix_as4_messages_instance_order", table_name="as4_messages")
