"""Versioned schema migrations, oldest first; Alembic skips this file."""
