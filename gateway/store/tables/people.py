"""People who log in to the web pages, their sessions and failed logins."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from gateway.store.tables.columns import PERSON, UTCDateTime, metadata

web_people = Table(
    "web_people",
    metadata,
    # People who log in to the pages (/web): the password as an argon2 hash, never the password.
    Column("name", String(PERSON), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("units", Text, nullable=False),  # unit keys a member acts on, blank-separated
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # Opaque server-side sessions: the cookie holds a random token, the row only its SHA-256.
    Column("token_sha256", String(64), primary_key=True),
    Column(
        "person",
        String(PERSON),
        ForeignKey("web_people.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "person"),
    Index(None, "expires_at"),
)

web_login_failures = Table(
    "web_login_failures",
    metadata,
    # Failed logins per name, counted over a sliding window (the login rate limit).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(PERSON), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "name", "at"),
)
