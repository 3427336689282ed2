"""A document number is unique per seller and per document type: ``outbound_documents``' unique constraint
on (seller_id, document_number) becomes one on (seller_id, document_type_id, document_number).

Invoices may be numbered in more than one sequential series: an invoicing system that numbers its credit
notes in their own series sends credit note "2026-0017" beside invoice "2026-0017", which the old
constraint refused (``gateway.model.number_series``). The type, not ``kind``, draws the line: ``kind`` says
how a document was submitted (``ubl`` for an Invoice and a CreditNote alike), while ``document_type_id``
is the Invoice or the CreditNote type whichever way it came, so an invoice posted as JSON and the same
number posted as UBL stay one series. No row changes: every stored row keeps its type.

The downgrade restores the old constraint. It fails (the database refuses to create it, and nothing is
changed) when a seller now has two documents of one number, e.g. an invoice and a credit note: one of them
must be renumbered or removed by hand first.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

_OLD = "uq_outbound_documents_seller_id_document_number"
_OLD_COLUMNS = ["seller_id", "document_number"]
#: Named: the conventional name (uq_outbound_documents_seller_id_document_type_id_document_number) is 64
#: characters, one more than PostgreSQL keeps.
_NEW = "uq_outbound_documents_seller_type_number"
_NEW_COLUMNS = ["seller_id", "document_type_id", "document_number"]

#: Tables whose rows reference outbound_documents with ON DELETE CASCADE.
_CHILDREN = ("outbound_events", "delivery_jobs", "pending_answers")


def _replace_unique(drop: str, create: str, columns: list[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        # PostgreSQL alters the table in place (in the migration's transaction: a failed ADD undoes the DROP).
        op.drop_constraint(drop, "outbound_documents", type_="unique")
        op.create_unique_constraint(create, "outbound_documents", columns)
        return
    # As 0005, 0008 and 0009: batch mode rebuilds the table on SQLite, and the DROP there would cascade to
    # the children (foreign_keys=ON); they are kept aside and put back.
    for child in _CHILDREN:
        op.execute(f"CREATE TEMP TABLE keep_{child} AS SELECT * FROM {child}")  # noqa: S608 - constant names
    with op.batch_alter_table("outbound_documents") as batch:
        batch.drop_constraint(drop, type_="unique")
        batch.create_unique_constraint(create, columns)
    for child in _CHILDREN:
        op.execute(f"DELETE FROM {child}")  # noqa: S608 - constant names
        op.execute(f"INSERT INTO {child} SELECT * FROM keep_{child}")  # noqa: S608 - constant names
        op.execute(f"DROP TABLE keep_{child}")


def upgrade() -> None:
    _replace_unique(_OLD, _NEW, _NEW_COLUMNS)


def downgrade() -> None:
    """Restore the unique (seller_id, document_number). Fails with an integrity error, changing nothing,
    when a seller has two documents of one number now (an invoice and a credit note sharing it)."""
    _replace_unique(_NEW, _OLD, _OLD_COLUMNS)
