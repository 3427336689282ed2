"""ISO 4217 currency codes (BT-5, BT-6): the active list, shipped as package data (``iso4217.json``,
whose ``_comment`` names its source), so the JSON model refuses an unknown currency before conversion."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files


@cache
def iso4217_codes() -> frozenset[str]:
    """The active ISO 4217 alphabetic codes (List One: currencies and funds)."""
    data = json.loads(files("gateway.model").joinpath("iso4217.json").read_text(encoding="utf-8"))
    return frozenset(data["codes"])


def is_iso4217(code: str) -> bool:
    """True when ``code`` (upper case) is an active ISO 4217 alphabetic code."""
    return code in iso4217_codes()
