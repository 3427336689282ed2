"""The received document an Invoice Response answers becomes a column of its own, with an index:
``outbound_documents.answers_inbound_document_id``.

Invoice Responses to one received document are sent in the order they were queued (bis-billing.md §9, no
going back). The link was kept only in the response's SUBMITTED timeline detail (``RESPONSE_ANSWERS``), so
finding "the responses to document X" read every response of the supplier since a time: about 43 ms on
SQLite for a supplier with 100,000 responses in a year, inside the expense action's write transaction, and
a response dated by a clock running behind could be missed. The partial index on the new column (only rows
that have one: an invoice writes no index entry) finds the few responses to X whatever the supplier's
history. Their order stays the id of their SUBMITTED entry (``outbound_events.id``, an autoincrement on
both databases, taken in the transaction that queues the response), never a date.

The upgrade fills the column:

* from the SUBMITTED entry's detail of every Invoice Response that has the link (queued since it was
  written there), with the JSON function of each database (the same expression the store reads);
* for the older ones, from the expense workflow's audit trail: every Invoice Response has been queued by an
  expense (``services.expense_effects.respond``), whose expense names the received document. The event of
  an action names its response (``response_document_id``); the CREATED event names none (stored before
  the AB is asked for), so the AB queued at creation is found by its date, the expense's (one ``now``),
  when that date tells it apart (one unlinked response and one expense without its AB of that date). A
  response neither finds keeps NULL: it is ordered with no other (as before this revision).

The index is built once the column is filled from the timeline and the trail (the ABs found by their
date, few, are written after it). Measured once with 100,000 responses: 2.9 s on SQLite,
10.4 s on PostgreSQL 15 (README, *Running it*). The downgrade drops the index and the column; the timeline
details still hold the links they held.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMN = "answers_inbound_document_id"
_INDEX = "ix_outbound_documents_answers_inbound_document_id"
_LINKED = f"{_COLUMN} IS NOT NULL"
_RESPONSE = "invoice-response"  # DocumentKind.INVOICE_RESPONSE
_SUBMITTED = "submitted"  # DeliveryEvent.SUBMITTED
_RESPONSE_DOCUMENT = "response_document_id"  # gateway.model.expense.RESPONSE_DOCUMENT_KEY

_documents = sa.table(
    "outbound_documents",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column(_COLUMN, sa.String),
)
_events = sa.table(
    "outbound_events",
    sa.column("id", sa.Integer),
    sa.column("document_id", sa.String),
    sa.column("event", sa.String),
    sa.column("detail", sa.JSON),
)
_expenses = sa.table(
    "expenses",
    sa.column("id", sa.String),
    sa.column("inbound_document_id", sa.String),
    sa.column("created_at", sa.DateTime),
)
_expense_events = sa.table("expense_events", sa.column("expense_id", sa.String), sa.column("detail", sa.JSON))


def _fill_from_timeline() -> None:
    # UPDATE ... FROM on both databases (SQLite since 3.33): a join of the responses with their SUBMITTED
    # entry (one per document), where a lookup per response took 17 s for 100,000 of them on PostgreSQL.
    op.execute(
        sa.update(_documents)
        .where(
            _documents.c.kind == _RESPONSE,
            _events.c.document_id == _documents.c.id,
            _events.c.event == _SUBMITTED,
        )
        .values({_COLUMN: _events.c.detail[_COLUMN].as_string()})
    )


def _fill_from_expense_trail() -> None:
    # One UPDATE ... FROM joining each unlinked response with the audit entries that name it and their
    # expense: the trail holds about as many links as responses were ever queued (each action's entry names
    # its own, those linked from the timeline too), never read into the process (a list of them took about
    # 450 bytes a link). Entries naming one response belong to one expense (an action of that expense
    # queued it), so whichever the join meets gives the same received document.
    named = _expense_events.c.detail[_RESPONSE_DOCUMENT].as_string()
    op.execute(
        sa.update(_documents)
        .where(
            _documents.c.id == named,
            _expenses.c.id == _expense_events.c.expense_id,
            _documents.c.kind == _RESPONSE,
            _documents.c[_COLUMN].is_(None),
        )
        .values({_COLUMN: _expenses.c.inbound_document_id})
    )


def _fill_creation_acknowledgements() -> None:
    # The AB queued when an expense is created is named by no audit entry (its CREATED entry is stored
    # before the response is asked for): it is queued in that transaction, dated with the expense (one
    # ``now``). A response still unlinked is the AB of an expense of its date that has no response of that
    # date linked yet, when it is the only unlinked response of that date and that expense the only such
    # expense of it; two of either (expenses created at the same instant) cannot be told apart and stay
    # unlinked. Correlated lookups on the (created_at, id) index of expenses and on the new index (built
    # before this step: few rows are left to write).
    d, linked = _documents, _documents.alias("linked")
    unlinked = (d.c.kind == _RESPONSE, d.c[_COLUMN].is_(None))
    one_response = (
        sa.select(d.c.created_at).where(*unlinked).group_by(d.c.created_at).having(sa.func.count() == 1)
    )
    its_ab_linked = sa.exists().where(
        linked.c[_COLUMN] == _expenses.c.inbound_document_id,
        linked.c[_COLUMN].is_not(None),  # the partial index's predicate
        linked.c.created_at == _expenses.c.created_at,
    )
    waiting = sa.and_(_expenses.c.created_at == d.c.created_at, ~its_ab_linked)
    expense_count = sa.select(sa.func.count()).select_from(_expenses).where(waiting).scalar_subquery()
    answered = sa.select(_expenses.c.inbound_document_id).where(waiting).limit(1).scalar_subquery()
    op.execute(
        sa.update(d)
        .where(*unlinked, d.c.created_at.in_(one_response), expense_count == 1)
        .values({_COLUMN: answered})
    )


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no batch rebuild on SQLite: nothing cascades to the children).
    op.add_column("outbound_documents", sa.Column(_COLUMN, sa.String(length=36), nullable=True))
    _fill_from_timeline()
    _fill_from_expense_trail()
    op.create_index(
        _INDEX,
        "outbound_documents",
        [_COLUMN],
        unique=False,
        postgresql_where=sa.text(_LINKED),
        sqlite_where=sa.text(_LINKED),
    )
    _fill_creation_acknowledgements()


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="outbound_documents")
    # SQLite has had DROP COLUMN since 3.35 (the column is in no index or constraint once the index is gone).
    op.drop_column("outbound_documents", _COLUMN)
