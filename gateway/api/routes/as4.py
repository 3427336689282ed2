"""POST /as4: the Peppol AS4 receiving endpoint. No API key: the AS4 signature authenticates the sender.

Every answer to a readable request is HTTP 200 with a signed Receipt or ebMS Error (phase4 behaviour,
peppol-as4.md §7.1); 503 problem+json means "not stored, retry later" (store down, no key configured).
"""

from __future__ import annotations

import logging

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response

from gateway.api.deps import ServicesDep, read_bounded
from gateway.api.errors import problem_responses
from gateway.as4 import SIGNAL_CONTENT_TYPE
from gateway.bootstrap import Services
from gateway.errors import StoreError
from gateway.model.message import HTTPHeaders
from gateway.services.receive import AS4Receiver, ReceiveResult

log = logging.getLogger("gateway.api.as4")

router = APIRouter(tags=["as4"])

#: Seconds a sender should wait before resending after a 503.
RETRY_AFTER_SECONDS = 30


def build_receiver(services: Services) -> AS4Receiver | None:
    """The receive use case over the process services, or None when no AP key or trust store is configured."""
    if services.identity is None or services.trust is None:
        return None
    as4 = services.settings.as4
    return AS4Receiver(
        store=services.store,
        validator=services.validation,
        identity=services.identity,
        trust=services.trust,
        served=services.served,
        clock=services.clock,
        ids=services.ids,
        rule_set=services.rule_set_today,
        message_id_domain=as4.message_id_domain,
        max_payload=as4.max_payload_bytes,
        revocation=services.revocation,
    )


def _receiver(request: Request, services: Services) -> AS4Receiver | None:
    # One receiver per app (built lazily: tests and the lead's wiring may replace services after start-up).
    cached: tuple[Services, AS4Receiver | None] | None = getattr(request.app.state, "as4_receiver", None)
    if cached is None or cached[0] is not services:
        cached = (services, build_receiver(services))
        request.app.state.as4_receiver = cached
    return cached[1]


def _unavailable(detail: str) -> HTTPException:
    return HTTPException(status_code=503, detail=detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@router.post(
    "/as4",
    response_class=Response,
    summary="Receive a Peppol AS4 UserMessage",
    responses={
        200: {"description": "A signed ebMS Receipt or Error signal", "content": {SIGNAL_CONTENT_TYPE: {}}},
        **problem_responses(
            503, s503="Receiving disabled or the store is unavailable: nothing was stored, retry later"
        ),
    },
)
async def receive_as4(request: Request, services: ServicesDep) -> Response:
    """Receive one AS4 message: evidence is committed before the signal is returned."""
    receiver = _receiver(request, services)
    if receiver is None:
        raise _unavailable("AS4 receiving is not configured (no AP key or trust store)")
    headers: HTTPHeaders = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw)
    limit = services.settings.as4.max_message_bytes
    body, complete = await read_bounded(request, limit)
    try:
        # Signature checks, decryption and validation are CPU-bound, the store synchronous: off the loop.
        result: ReceiveResult
        if complete:
            result = await anyio.to_thread.run_sync(receiver.receive, headers, body)
        else:
            result = await anyio.to_thread.run_sync(receiver.reject_oversized, headers, body, limit)
    except StoreError as exc:
        # Nothing stored, so no signal: the sender resends (peppol-as4.md §13 #14: persist, then receipt).
        log.error("AS4 request not stored: %s", exc)
        raise _unavailable("The message could not be stored; resend later") from exc
    return Response(content=result.signal, status_code=200, media_type=result.content_type)
