"""Interop fixtures: the independent AS4 peers of ../shared/interop (kit README §5).

Skips only when the kit is not set up, and fails instead when INTEROP_REQUIRED=1 (CI).
"""

from __future__ import annotations

import os

import pytest
from interop_kit import HOME, KIT, Interop


@pytest.fixture(scope="session")
def interop() -> Interop:
    if not (HOME / "setup.ok").exists():
        msg = f"interop kit not set up: run {KIT}/setup.sh"
        if os.environ.get("INTEROP_REQUIRED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return Interop()
