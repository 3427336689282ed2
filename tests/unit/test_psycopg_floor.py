"""The declared psycopg versions keep what the PostgreSQL job signal relies on: its listener leaves
``notifies()`` every ping interval to run a ping, and a notification read during the ping must wait for the
next ``notifies()`` (psycopg 3.2.4 and later keep it; 3.2.0-3.2.3 drop it, and the job waits for a poll)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_no_declared_psycopg_drops_a_notification_received_outside_notifies() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (psycopg,) = [Requirement(line) for line in dependencies if Requirement(line).name == "psycopg"]
    allowed = [version for version in ("3.2.0", "3.2.3", "3.2.4", "3.3.9") if version in psycopg.specifier]
    assert allowed == ["3.2.4", "3.3.9"]
