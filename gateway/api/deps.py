"""FastAPI dependencies: the services container, the authenticated principal, bounded request bodies."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.auth import KeyRing, Principal, extract_key
from gateway.bootstrap import Services
from gateway.config import Role


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


# Declared as OpenAPI security schemes (not header parameters): either one authenticates.
_BEARER = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


def get_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    x_api_key: Annotated[str | None, Depends(_API_KEY)],
) -> Principal:
    """Authenticate the caller by API key; 401 without a valid key."""
    keyring: KeyRing = request.app.state.keyring
    presented = extract_key(request.headers.get("authorization"), x_api_key)
    principal = keyring.authenticate(presented) if presented else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="A valid API key is required (Authorization: Bearer <key> or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (admin is always admitted)."""
    allowed = {*roles, Role.ADMIN}

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status_code=403, detail=f"Role {principal.role.value!r} may not do this")
        return principal

    return check


async def read_bounded(request: Request, limit: int) -> tuple[bytes, bool]:
    """(body, complete): read the request body, stopping as soon as more than ``limit`` bytes arrived."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            return b"".join(chunks), False
    return b"".join(chunks), True


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes (413) without buffering past the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail=f"Body larger than {limit} bytes")
    body, complete = await read_bounded(request, limit)
    if not complete:
        raise HTTPException(status_code=413, detail=f"Body larger than {limit} bytes")
    return body


def bounded_body(limit_attr: str = "max_body_bytes") -> Callable[[Request], Coroutine[Any, Any, bytes]]:
    """Dependency factory: the raw body, bounded by ``settings.api.<limit_attr>``."""

    async def dependency(request: Request) -> bytes:
        services: Services = request.app.state.services
        return await read_body(request, getattr(services.settings.api, limit_attr))

    return dependency
