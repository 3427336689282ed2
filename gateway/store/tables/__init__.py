"""The persistence model: SQLAlchemy Core tables for SQLite and PostgreSQL, one module per area. Rows are
mapped to the domain records of ``gateway.model`` in the store's modules (``store/sql.py`` and its
siblings); these tables are not the domain model. Every table is on ``metadata``, which Alembic and the
schema tests compare with the migrations."""

from gateway.store.tables.columns import metadata
from gateway.store.tables.exchange import (
    as4_messages,
    as4_signals,
    delivery_jobs,
    inbound_document_bodies,
    inbound_documents,
    outbound_documents,
    outbound_events,
    pending_answers,
)
from gateway.store.tables.expenses import (
    expense_action_keys,
    expense_duplicates,
    expense_events,
    expenses,
    production_unit_members,
    production_units,
    supplier_units,
)
from gateway.store.tables.integration import idempotency_keys, webhook_outbox
from gateway.store.tables.people import web_login_failures, web_people, web_sessions
from gateway.store.tables.reporting import peppol_reports, peppol_transmissions

__all__ = [
    "as4_messages",
    "as4_signals",
    "delivery_jobs",
    "expense_action_keys",
    "expense_duplicates",
    "expense_events",
    "expenses",
    "idempotency_keys",
    "inbound_document_bodies",
    "inbound_documents",
    "metadata",
    "outbound_documents",
    "outbound_events",
    "pending_answers",
    "peppol_reports",
    "peppol_transmissions",
    "production_unit_members",
    "production_units",
    "supplier_units",
    "web_login_failures",
    "web_people",
    "web_sessions",
    "webhook_outbox",
]
