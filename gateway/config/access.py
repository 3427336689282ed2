"""Who may do what: the API's roles and keys, and the pages' sessions and login limits."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from pydantic import Field, SecretStr, model_validator

from gateway.config.group import SettingsGroup
from gateway.errors import InvalidExpenseRequest
from gateway.model.units import unit_key


class Role(StrEnum):
    """API roles. ``sender`` is the invoicing system; ``support`` reads and retries, triages and reassigns
    expenses; ``member`` sees and acts only on the expenses of its production units; ``admin`` does all."""

    SENDER = "sender"
    SUPPORT = "support"
    MEMBER = "member"
    ADMIN = "admin"


_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class APIKey(SettingsGroup):
    """One API client. Either the key itself (``key``, for development) or its SHA-256 (``sha256``)."""

    name: str = Field(min_length=1, max_length=128)  # scopes its Idempotency-Keys (stored, migration 0011)
    role: Role
    key: SecretStr | None = None
    sha256: str | None = None
    units: list[str] = Field(default_factory=list)  # production unit codes a member may act on

    @model_validator(mode="after")
    def _one_form(self) -> APIKey:
        if (self.key is None) == (self.sha256 is None):
            raise ValueError(f"API key {self.name!r}: give exactly one of 'key' or 'sha256'")
        if self.key is not None and len(self.key.get_secret_value()) < 24:
            raise ValueError(f"API key {self.name!r} is shorter than 24 characters")
        if self.sha256 is not None and _SHA256_HEX.fullmatch(self.sha256) is None:
            # Never echo the value: a key pasted here by mistake must not reach the console or logs.
            raise ValueError(
                f"API key {self.name!r}: 'sha256' must be 64 hex digits (the SHA-256 of the key)"
            )
        for code in self.units:
            try:
                unit_key(code)
            except InvalidExpenseRequest as exc:
                raise ValueError(f"API key {self.name!r}: {exc}") from exc
        return self

    @property
    def digest(self) -> str:
        if self.sha256 is not None:
            return self.sha256.lower()
        assert self.key is not None
        return hashlib.sha256(self.key.get_secret_value().encode()).hexdigest()


class APISettings(SettingsGroup):
    keys: list[APIKey] = Field(default_factory=list)
    max_body_bytes: int = 25 * 1024 * 1024
    max_concurrent_bodies: int = Field(default=8, ge=1)  # /v1 bodies held at once (503 + Retry-After above)


class WebSettings(SettingsGroup):
    """The server-rendered pages for people (``/web``): sessions, login rate limit."""

    enabled: bool = True
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)  # a session ends this long after login
    login_max_failures: int = Field(default=5, ge=1)  # failed logins per account within the window
    login_window_seconds: float = Field(default=900.0, gt=0)  # then refused until the window moves on
    secure_cookies: bool | None = None  # None: Secure outside the development stage
