"""Alembic environment: runs migrations on the connection that ``gateway.store.migrate`` passes in
``config.attributes["connection"]`` (no URL in any ini file, so it works from an installed package)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.store.migrate import made_on
from gateway.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds tables for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=made_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through gateway.store.upgrade_database(url)")
    _run(connection)


_main()
