"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import SQLDocumentStore, make_engine, upgrade_database


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLDocumentStore]:
    """A document store on a new SQLite file, migrated to the head (a test module may define its own)."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    s = SQLDocumentStore(make_engine(url))
    yield s
    s.close()
