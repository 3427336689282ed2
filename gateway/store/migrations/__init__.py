"""Alembic migration environment of the gateway store (loaded by ``gateway.store.migrate``)."""
