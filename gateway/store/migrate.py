"""Schema migrations, run programmatically: ``upgrade_database(url)`` brings any database to the newest
revision. The Alembic configuration is built in code, so migrations run from an installed package.

Alembic (with Mako, ≈ 12 MiB of a process's memory) is imported only when a database is behind: a
database already at the newest revision, as every process but the first finds it, is recognised from
its ``alembic_version`` row and the revision ids written in the migration files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from gateway.errors import StoreError
from gateway.store.engine import make_engine
from gateway.store.errors import map_db_errors

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_REVISION_LINE = re.compile(r'^(down_revision|revision)\b[^=]*=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations, optionally bound to a connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def made_on(dialect_name: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` hook for comparing the table metadata with a database of
    ``dialect_name``: it leaves out what the metadata makes on other databases only (an index declared
    with ``ddl_if(dialect=...)``, such as 0017's PostgreSQL pattern index), which autogenerate would
    otherwise report missing."""

    def include(item: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        condition = getattr(item, "_ddl_if", None)
        if reflected or condition is None or condition.dialect is None:
            return True
        if isinstance(condition.dialect, str):
            return bool(condition.dialect == dialect_name)
        return dialect_name in condition.dialect

    return include


# Arbitrary constant naming the PostgreSQL advisory lock that serialises concurrent upgrades.
_MIGRATION_LOCK_ID = 0x6761746577617934


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction.

    Several gateway processes may start at once: on PostgreSQL a transaction-scoped advisory lock makes
    them upgrade one after the other (the later ones find nothing to do); on SQLite the transaction's
    BEGIN IMMEDIATE does the same.
    """
    if revision == "head" and shipped_head() is not None:
        with engine.connect() as connection:
            if recorded_revision(connection) == shipped_head():
                return
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Upgrades wait for each other and for running gateways' locks as long as it takes.
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        command.upgrade(alembic_config(connection), revision)


def upgrade_database(url: str | URL, revision: str = "head", **engine_options: Any) -> None:
    """Create or upgrade the gateway schema at ``url`` (SQLite file or PostgreSQL) to ``revision``.

    Idempotent: an up-to-date database is left as it is.

    Raises:
        ConfigurationError: unsupported URL.
        StoreError: the database cannot be reached or refused the upgrade (one line for the operator:
            the driver's first line, e.g. "connection refused"; never the URL's password).
    """
    engine = make_engine(url, **engine_options)
    try:
        with map_db_errors("database migration"):
            try:
                upgrade_engine(engine, revision)
            except sa_exc.OperationalError as exc:
                cause = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
                raise StoreError(f"database migration: {cause}") from exc
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def recorded_revision(connection: Connection) -> str | None:
    """The one revision in the database's ``alembic_version`` table (None: no table, none or several)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


@cache
def shipped_head() -> str | None:
    """The newest revision, read from the migration files without Alembic: the one revision no other
    names as its ``down_revision`` (None when the files do not show exactly one, e.g. a branch; then
    Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("[0-9]*.py")):
        found = dict((key, value) for key, value in _REVISION_LINE.findall(path.read_text("utf-8")))
        if not found.get("revision"):
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
