"""FastAPI dependencies: the services container, the authenticated principal, bounded request bodies."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.auth import NO_KEY, TWO_KEYS, KeyRing, Principal, admitted, presented_keys
from gateway.api.errors import DEFAULT_RETRY_AFTER_SECONDS
from gateway.bootstrap import Services
from gateway.bootstrap.slots import WaitingSlots
from gateway.config import Role
from gateway.xmlcore.held import HeldDocument

# The dependencies below are ``async def`` on purpose: they do no I/O, and FastAPI runs a plain ``def``
# dependency in the threadpool, a thread hand-off (and back) per dependency per request.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


# Declared as OpenAPI security schemes (not header parameters): either one authenticates.
_BEARER = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


def _authenticate(request: Request) -> Principal:
    """The caller, by API key, kept in ``request.state.principal``; 401 without a valid key."""
    keyring: KeyRing = request.app.state.keyring
    presented = presented_keys(request.headers)
    if len(presented) > 1:
        raise HTTPException(status_code=401, detail=TWO_KEYS, headers={"WWW-Authenticate": "Bearer"})
    principal = keyring.authenticate(presented.pop()) if presented else None
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail=NO_KEY,
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


async def get_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    _x_api_key: Annotated[str | None, Depends(_API_KEY)],
) -> Principal:
    """Authenticate the caller by API key; 401 without a valid key."""
    return _authenticate(request)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(
    *roles: Role, then: Callable[[Principal], None] | None = None
) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only the given roles (admin is always admitted): 401 without a valid key, as
    ``get_principal``, then 403; ``then`` checks the admitted principal further (raising to refuse it), in
    the same level, before anything else of the request is read.

    It authenticates itself, under the same two security schemes, rather than depending on
    ``get_principal``: FastAPI solves each level of dependencies per request (≈ 78 k instructions for one
    that only returns a value, BENCHMARKS.md, *Sending API instructions outside validation*), and every
    role-checked route pays it. A route declares either this or ``PrincipalDep``, never both.
    """
    allowed = frozenset(roles)

    async def check(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        _x_api_key: Annotated[str | None, Depends(_API_KEY)],
    ) -> Principal:
        principal = _authenticate(request)
        if not admitted(principal, allowed):
            raise HTTPException(status_code=403, detail=f"Role {principal.role.value!r} may not do this")
        if then is not None:
            then(principal)
        return principal

    return check


#: Seconds a request waits for a body slot before it is answered 503 (see ``BodySlots``).
SLOT_WAIT_SECONDS = 10.0


class BodySlots(WaitingSlots):
    """A cap on the request bodies one process holds at once, so memory in total stays bounded
    (slots x body limit). A request finding every slot taken waits up to ``wait_seconds`` for one (its
    body stays unread in the socket meanwhile, costing no memory here), then gets 503 + Retry-After.

    A short wait absorbs the bursts a sending access point makes (several messages in parallel) without
    turning them into 503s and retries.

    Args:
        capacity: bodies held at once.
        what: named in the 503 detail.
        wait_seconds: how long a request waits for a slot.
        retry_after_seconds: the Retry-After of the 503 (``settings.server.retry_after_seconds``).
    """

    def __init__(
        self,
        capacity: int,
        what: str,
        *,
        wait_seconds: float = SLOT_WAIT_SECONDS,
        retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS,
    ) -> None:
        super().__init__(capacity, wait_seconds)
        self._what = what
        self._retry_after = str(retry_after_seconds)

    def busy(self) -> HTTPException:
        """503 with Retry-After."""
        return HTTPException(
            status_code=503,
            detail=f"Too many {self._what} at once; retry later",
            headers={"Retry-After": self._retry_after},
        )


class BodyBudget:
    """The bytes of request bodies one process buffers at once, over every route (``/v1`` and ``/as4``).

    A request reserves its chunks as they arrive and gives the bytes back when it ends; a chunk that does
    not fit ends the request with 503 + Retry-After. Memory in total stays bounded whatever mix of slow,
    large and parallel bodies arrives.

    Args:
        capacity: bytes buffered at once.
        retry_after_seconds: the Retry-After of the 503 (``settings.server.retry_after_seconds``).
    """

    def __init__(self, capacity: int, *, retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS) -> None:
        self.capacity = capacity
        self.used = 0
        self.retry_after = str(retry_after_seconds)

    @contextmanager
    def reservation(self) -> Iterator[BodyReservation]:
        """A reservation for one request's body, given back at the end of the block."""
        held = BodyReservation(self)
        try:
            yield held
        finally:
            self.used -= held.held


class BodyReservation:
    """The part of a ``BodyBudget`` one request holds."""

    def __init__(self, budget: BodyBudget) -> None:
        self._budget = budget
        self.held = 0

    def take(self, size: int) -> None:
        """Reserve ``size`` more bytes.

        Raises:
            HTTPException: 503 with Retry-After when the budget cannot cover them.
        """
        if self._budget.used + size > self._budget.capacity:
            raise HTTPException(
                status_code=503,
                detail="Too many request bytes in flight; retry later",
                headers={"Retry-After": self._budget.retry_after},
            )
        self._budget.used += size
        self.held += size


def body_budget(request: Request) -> BodyBudget:
    """The app's body budget (created on first use from ``settings.server.max_buffered_body_bytes``)."""
    budget: BodyBudget | None = getattr(request.app.state, "body_budget", None)
    if budget is None:
        services: Services = request.app.state.services
        server = services.settings.server
        budget = BodyBudget(server.max_buffered_body_bytes, retry_after_seconds=server.retry_after_seconds)
        request.app.state.body_budget = budget
    return budget


def declared_length(request: Request) -> int | None:
    """The Content-Length the client declared, or None (chunked, absent or not a number)."""
    declared = request.headers.get("content-length")
    return int(declared) if declared is not None and declared.isdigit() else None


async def read_bounded(
    request: Request, limit: int, *, keep_on_overflow: int = 0, reservation: BodyReservation | None = None
) -> tuple[bytes, bool, int]:
    """(body, complete, received): read the body, stopping as soon as more than ``limit`` bytes arrived.

    Each chunk is copied into one growing buffer as it arrives and then dropped, so the body is held once
    while it is read (joining a list of chunks at the end held it twice: 38 MiB at the peak for a 20 MB
    body; ``io.BytesIO.getvalue`` hands its buffer over without a copy). On overflow the body read so far
    is dropped except its first ``keep_on_overflow`` bytes; ``received`` is the number of bytes read before
    stopping. Each chunk is first reserved in ``reservation`` (503 when the process buffers too much
    already).
    """
    buffer = io.BytesIO()
    size = 0
    async for chunk in request.stream():
        if reservation is not None:
            reservation.take(len(chunk))
        size += len(chunk)
        if size > limit:
            buffer.seek(0)
            kept = buffer.read(keep_on_overflow)
            if len(kept) < keep_on_overflow:
                kept += chunk[: keep_on_overflow - len(kept)]
            buffer.close()
            return kept, False, size
        buffer.write(chunk)
    return buffer.getvalue(), True, size


async def read_body(request: Request, limit: int, reservation: BodyReservation | None = None) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes (413) without buffering past the limit.

    A declared Content-Length above the limit is refused before a byte of the body is read.
    """
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise HTTPException(status_code=413, detail=f"Body larger than {limit} bytes")
    body, complete, _ = await read_bounded(request, limit, reservation=reservation)
    if not complete:
        raise HTTPException(status_code=413, detail=f"Body larger than {limit} bytes")
    return body


#: The body limit of an action without parameters (approve, mark-paid): ``{}`` and some blank around it.
SMALL_BODY_BYTES = 1024


def small_body(limit: int = SMALL_BODY_BYTES) -> Callable[[Request], Awaitable[bytes]]:
    """Dependency factory: the raw body of an action that takes (next to) nothing, at most ``limit`` bytes
    (413 beyond, as ``read_body``), read outside the app's body slots and memory budget.

    The slots are shared with the invoicing system's submissions of up to ``max_body_bytes`` each: an
    approval held one for its whole action, so it waited (then 503) behind uploads and kept one from a
    submission. A body this small costs less than the connection carrying it, as the web forms
    (``MAX_FORM_BYTES``) do. Declare it after the principal dependency, as ``bounded_body``.
    """

    async def dependency(request: Request) -> bytes:
        return await read_body(request, limit)

    return dependency


def api_body_slots(request: Request) -> BodySlots:
    """The app's /v1 body slots (created on first use from ``settings.api.max_concurrent_bodies``)."""
    slots: BodySlots | None = getattr(request.app.state, "api_body_slots", None)
    if slots is None:
        services: Services = request.app.state.services
        slots = BodySlots(
            services.settings.api.max_concurrent_bodies,
            "request bodies",
            wait_seconds=services.settings.server.body_slot_wait_seconds,
            retry_after_seconds=services.settings.server.retry_after_seconds,
        )
        request.app.state.api_body_slots = slots
    return slots


#: Media types a body route accepts, by syntax: the type itself and any ``+json``/``+xml`` suffix type.
_MEDIA_TYPES: dict[str, tuple[frozenset[str], str]] = {
    "json": (frozenset({"application/json"}), "+json"),
    "xml": (frozenset({"application/xml", "text/xml"}), "+xml"),
}


def check_media_type(request: Request, syntax: str) -> None:
    """Refuse (415) a declared Content-Type of another syntax than ``syntax`` (``json`` or ``xml``).

    A body without a Content-Type is read as the route's syntax (curl and simple clients omit it).
    """
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.split(";", 1)[0].strip().lower()
    exact, suffix = _MEDIA_TYPES[syntax]
    if media not in exact and not media.endswith(suffix):
        raise HTTPException(status_code=415, detail=f"Content-Type {media[:100]!r} is not {syntax.upper()}")


def bounded_body(
    limit_attr: str = "max_body_bytes", *, syntax: str | None = None
) -> Callable[[Request], AsyncIterator[bytes]]:
    """Dependency factory: the raw body, bounded by ``settings.api.<limit_attr>``, held in one of the
    app's body slots until the response is sent.

    Declare it after the principal dependency: FastAPI resolves dependencies in order, so an
    unauthenticated request is refused before its body is read.

    Args:
        limit_attr: the ``settings.api`` attribute holding the limit.
        syntax: ``json`` or ``xml``: a declared Content-Type of another syntax is refused (415) first.
    """

    async def dependency(request: Request) -> AsyncIterator[bytes]:
        async with _bounded_read(request, limit_attr, syntax) as body:
            yield body

    return dependency


def held_body(
    limit_attr: str = "max_body_bytes", *, syntax: str | None = None
) -> Callable[[Request], AsyncIterator[HeldDocument]]:
    """As ``bounded_body``, the body handed over in a ``HeldDocument``: the route and what it calls hold
    that object, never the bytes, so that validation can spill a large document to a temporary file
    while Saxon works on it (BENCHMARKS.md, *Memory, fifteenth pass*)."""

    async def dependency(request: Request) -> AsyncIterator[HeldDocument]:
        async with _bounded_read(request, limit_attr, syntax) as body:
            held = HeldDocument(body)
            del body  # this frame lives as long as the request: only the HeldDocument may keep the bytes
            yield held

    return dependency


@asynccontextmanager
async def _bounded_read(request: Request, limit_attr: str, syntax: str | None) -> AsyncIterator[bytes]:
    """The body of ``bounded_body`` and ``held_body``: media type checked, read within its limit, in one of
    the app's body slots and the memory budget until the context ends (the response is sent)."""
    if syntax is not None:
        check_media_type(request, syntax)
    services: Services = request.app.state.services
    limit = getattr(services.settings.api, limit_attr)
    async with api_body_slots(request).slot():
        with body_budget(request).reservation() as reservation:
            yield await read_body(request, limit, reservation)
