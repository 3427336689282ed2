"""API-key authentication with roles: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from gateway.config import APIKey, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    name: str
    role: Role


class KeyRing:
    """Holds the SHA-256 digests of the configured keys; compares in constant time."""

    def __init__(self, keys: list[APIKey]) -> None:
        self._entries = [(bytes.fromhex(k.digest), Principal(k.name, k.role)) for k in keys]

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
