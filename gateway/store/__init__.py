"""Persistence adapters: the SQL document store (SQLite file or PostgreSQL), its tables and migrations."""

from gateway.store.engine import DEFAULT_BUSY_TIMEOUT, make_engine, normalise_url
from gateway.store.migrate import current_revision, head_revision, upgrade_database, upgrade_engine
from gateway.store.sql import SQLDocumentStore, SQLUnitOfWork
from gateway.store.tables import metadata

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "SQLDocumentStore",
    "SQLUnitOfWork",
    "current_revision",
    "head_revision",
    "make_engine",
    "metadata",
    "normalise_url",
    "upgrade_database",
    "upgrade_engine",
]
