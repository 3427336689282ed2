"""API-key authentication with roles: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from gateway.config import APIKey, Role
from gateway.model.units import unit_key


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; ``units`` are the production unit keys a member's key carries."""

    name: str
    role: Role
    units: frozenset[str] = frozenset()


class KeyRing:
    """Holds the SHA-256 digests of the configured keys; compares in constant time."""

    def __init__(self, keys: list[APIKey]) -> None:
        self._entries = [
            (bytes.fromhex(k.digest), Principal(k.name, k.role, frozenset(unit_key(u) for u in k.units)))
            for k in keys
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, presented: str) -> Principal | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for stored, principal in self._entries:  # no early exit: constant time over the ring
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def extract_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """Take the key from ``Authorization: Bearer`` or ``X-API-Key``."""
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None
