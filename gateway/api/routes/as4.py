"""POST /as4: the Peppol AS4 receiving endpoint. No API key: the AS4 signature authenticates the sender.

Every answer to a readable request is HTTP 200 with a signed Receipt or ebMS Error (phase4 behaviour,
peppol-as4.md §7.1); 503 problem+json means "not stored, retry later" (store down, no key configured).
"""

from __future__ import annotations

import logging

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response

from gateway.api.deps import ServicesDep, read_bounded
from gateway.as4 import SIGNAL_CONTENT_TYPE
from gateway.errors import StoreError
from gateway.model.message import HTTPHeaders
from gateway.services.receive import ReceiveResult

log = logging.getLogger("gateway.api.as4")

router = APIRouter(tags=["as4"])

#: Seconds a sender should wait before resending after a 503.
RETRY_AFTER_SECONDS = 30


def _unavailable(detail: str) -> HTTPException:
    return HTTPException(status_code=503, detail=detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@router.post(
    "/as4",
    response_class=Response,
    summary="Receive a Peppol AS4 UserMessage",
    responses={
        200: {"description": "A signed ebMS Receipt or Error signal", "content": {SIGNAL_CONTENT_TYPE: {}}},
        503: {
            "description": "Receiving disabled or the store is unavailable: nothing was stored, retry later"
        },
    },
)
async def receive_as4(request: Request, services: ServicesDep) -> Response:
    """Receive one AS4 message: evidence is committed before the signal is returned."""
    receiver = services.receiver
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
