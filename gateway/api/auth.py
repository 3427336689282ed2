"""API-key authentication with roles: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass

from starlette.datastructures import Headers

from gateway.config import APIKey, Role
from gateway.model.units import unit_key


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller; ``units`` are the production unit keys a member's key carries."""

    name: str
    role: Role
    units: frozenset[str] = frozenset()


def admitted(principal: Principal, roles: Collection[Role]) -> bool:
    """True when a route requiring ``roles`` admits ``principal``: its role is one of them, or admin (an
    admin does all). ``deps.require_roles`` answers 403 to anyone else, and what offers such a route to a
    caller asks the same (the outbound detail's ``retry_allowed``)."""
    return principal.role is Role.ADMIN or principal.role in roles


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


#: The 401 title of a request without a valid key.
NO_KEY = "A valid API key is required (Authorization: Bearer <key> or X-API-Key)"
#: The 401 title of a request carrying two different keys.
TWO_KEYS = "A request with two different API keys is refused: send one (Authorization: Bearer or X-API-Key)"


def presented_keys(headers: Headers) -> set[str]:
    """The distinct keys of every ``Authorization: Bearer`` and ``X-API-Key`` line of a request.

    More than one is refused by the callers (``TWO_KEYS``): which key, and whose role, would act is not
    for the gateway to guess.
    """
    keys = {value.strip() for value in headers.getlist("x-api-key") if value.strip()}
    for authorization in headers.getlist("authorization"):
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            keys.add(value.strip())
    return keys
