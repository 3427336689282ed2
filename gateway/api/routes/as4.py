"""POST /as4: the Peppol AS4 receiving endpoint. No API key: the AS4 signature authenticates the sender.

Every answer to a readable request is HTTP 200 with a signed Receipt or ebMS Error (phase4 behaviour,
peppol-as4.md §7.1); 503 problem+json means "not stored, retry later" (store down, no key configured).

The receipt is answered as soon as the message and the receipt are committed (peppol-as4.md §13 #14);
the business document's validation, its MLS and its expense draft run after the answer has been sent,
on the same connection (``_ReceiptAnswer``), so the sending access point never waits for the Schematron.
At most ``as4.max_after_receipt_backlog`` such items, of at most ``as4.max_after_receipt_backlog_mib`` MiB of
documents, wait or run per process (``_Backlog``), except that a document larger than that whole byte budget
is admitted alone, when no other work waits or runs; a document beyond either bound keeps its receipt and
stays pending for the sweep or a resend. With ``as4.after_receipt`` ``worker`` nothing is queued here:
every document stays pending, and the ``gateway worker`` processes finish them (``gateway.worker.received``);
a resend of a message whose document is still pending gets its receipt again and is left to them too.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Final

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response
from starlette.types import Receive, Scope, Send

from gateway.api.auth import KeyRing
from gateway.api.deps import BodySlots, ServicesDep, body_budget, declared_length, read_bounded
from gateway.api.errors import problem_responses, retry_after
from gateway.as4 import SIGNAL_CONTENT_TYPE
from gateway.config import ServerSettings
from gateway.errors import StoreError
from gateway.model.message import HTTPHeaders
from gateway.services.receive import AfterReceipt, ReceiveResult

log = logging.getLogger("gateway.api.as4")

router = APIRouter(tags=["as4"])

#: What separates a credential from the rest of a header value ("Bearer <key>", "token=<key>, x=1").
_TOKEN_SEPARATORS = re.compile(r"[\s,;=]+")
#: Tries of the work after a receipt when the store fails to record the verdict, and the pause between them.
#: A document still pending after the last try is finished by the periodic sweep of ``gateway serve``
#: (``GATEWAY_AS4__PENDING_SWEEP_*``, ``api/pending_sweep.py``) or at the next start-up.
AFTER_RECEIPT_TRIES: Final = 3
AFTER_RECEIPT_PAUSE_SECONDS: Final = 2.0
MIB: Final = 1024 * 1024


def _unavailable(request: Request, detail: str) -> HTTPException:
    return HTTPException(status_code=503, detail=detail, headers={"Retry-After": retry_after(request)})


@router.post(
    "/as4",
    response_class=Response,
    summary="Receive a Peppol AS4 UserMessage",
    responses={
        200: {"description": "A signed ebMS Receipt or Error signal", "content": {SIGNAL_CONTENT_TYPE: {}}},
        **problem_responses(
            503,
            s503="Receiving disabled, the store unavailable or too many messages at once: nothing was "
            "stored, retry later (Retry-After)",
        ),
    },
)
async def receive_as4(request: Request, services: ServicesDep) -> Response:
    """Receive one AS4 message: evidence is committed before the signal is returned."""
    receiver = services.receiver
    if receiver is None:
        raise _unavailable(request, "AS4 receiving is not configured (no AP key or trust store)")
    headers = _without_api_keys(
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw),
        request.app.state.keyring,
    )
    as4 = services.settings.as4
    limit = as4.max_message_bytes
    declared = declared_length(request)
    if declared is not None and declared > limit:
        # Refused before a byte of the body is read, without a body slot (the signed EBMS:0009 needs none).
        result = await _off_loop(request, receiver.reject_oversized, headers, b"", limit)
        return Response(content=result.signal, status_code=200, media_type=result.content_type)
    slots = _as4_slots(request, as4.max_concurrent_requests, services.settings.server)
    backlog = _after_receipt_backlog(
        request, as4.max_after_receipt_backlog, as4.max_after_receipt_backlog_mib * MIB
    )
    after: list[AfterReceipt] = []
    try:
        async with slots.slot():
            with body_budget(request).reservation() as reservation:
                keep = as4.rejected_evidence_prefix_bytes
                body, complete, received = await read_bounded(
                    request, limit, keep_on_overflow=keep, reservation=reservation
                )
                if complete and as4.after_receipt == "worker":
                    # Left pending, committed with its receipt: a `gateway worker` finishes it.
                    handle = partial(receiver.receive, leave_pending=True)
                    result = await _off_loop(request, handle, headers, body)
                elif complete:
                    queue = partial(backlog.take, after)
                    result = await _off_loop(request, partial(receiver.receive, defer=queue), headers, body)
                else:
                    result = await _off_loop(
                        request, receiver.reject_oversized, headers, body, limit, received
                    )
                del body
    except BaseException:
        _drop(after, backlog)  # no answer, so no work after it
        raise
    limiter = _after_receipt_limiter(request, as4.max_concurrent_requests)
    return _ReceiptAnswer(result, after, backlog, limiter)


class _Backlog:
    """The work after receipts waiting or running in this process: at most ``bound`` items, holding at most
    ``budget`` bytes of documents (``AfterReceipt.size``), except that with nothing else taken one item is
    taken whatever its size (a document larger than the whole budget is finished here, alone: the sweep
    would hold it whole all the same).

    Without a bound a sender posting faster than the documents are validated (on one keep-alive connection,
    each answered at once) grew it without limit, each item holding its document in memory, and a graceful
    shutdown waited for all of it; the count alone let ``bound`` documents of the largest size accepted be
    held at once. Beyond either bound the work is not queued: the document stays pending
    (RECEIVED, committed with the receipt) and the pending sweep (``GATEWAY_AS4__PENDING_SWEEP_*``), a
    resend of the message, or the next start-up finishes it, once (the verdict is recorded only while the
    document awaits one). That keeps the receipt and costs the sender nothing, where a 503 would have to
    come before the message is read and stored, and would make it send the whole message again.
    """

    def __init__(self, bound: int, budget: int) -> None:
        self._bound = bound
        self._budget = budget
        self._taken = 0
        self._taken_bytes = 0
        self._lock = threading.Lock()  # taken in the receive thread, given back in the event loop

    @property
    def taken(self) -> tuple[int, int]:
        """The places and the bytes taken now."""
        with self._lock:
            return self._taken, self._taken_bytes

    def take(self, into: list[AfterReceipt], work: AfterReceipt) -> bool:
        """Queue ``work`` into ``into`` if a place and its bytes are free (``AS4Receiver.receive``'s
        ``defer``)."""
        with self._lock:
            if self._taken >= self._bound:
                return False
            if self._taken and self._taken_bytes + work.size > self._budget:
                return False
            self._taken += 1
            self._taken_bytes += work.size
        into.append(work)
        return True

    def give_back(self, work: list[AfterReceipt]) -> None:
        with self._lock:
            self._taken -= len(work)
            self._taken_bytes -= sum(finish.size for finish in work)


class _ReceiptAnswer(Response):
    """The signal (HTTP 200), then the work after the receipt on the same connection, as a Starlette
    background task would run it, except that when the answer's send raised or the request's task was
    cancelled before the work ran, its documents are released at once (a resend of the message, which a
    sender without its receipt makes, or the pending sweep finishes them: not 15 minutes later, once their
    hold has passed) and its backlog places are given back. A sender hanging up does not raise under
    ``gateway serve``: uvicorn's h11 protocol drops a send after the client disconnected, so the work runs
    as usual then."""

    def __init__(
        self,
        result: ReceiveResult,
        work: list[AfterReceipt],
        backlog: _Backlog,
        limiter: anyio.CapacityLimiter,
    ) -> None:
        super().__init__(content=result.signal, status_code=200, media_type=result.content_type)
        self._work = work
        self._backlog = backlog
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
            if self._work:
                # Its own limiter: at most as4.max_concurrent_requests documents are validated after their
                # receipt at once, and waiting ones hold no thread of the pool the API requests need.
                # A cancellation waits for a started thread (run_sync does not abandon it), so _drop never
                # releases work still running; cancelled while waiting for the limiter, it never started.
                await anyio.to_thread.run_sync(_run_after_receipt, self._work, limiter=self._limiter)
        finally:
            _drop(self._work, self._backlog)


def _drop(work: list[AfterReceipt], backlog: _Backlog) -> None:
    """``work`` has run (all its tries are over), or will not run here: its documents are no longer held
    for it and its backlog places and bytes are given back."""
    for finish in work:
        finish.release()
    backlog.give_back(work)


def _after_receipt_backlog(request: Request, bound: int, budget: int) -> _Backlog:
    backlog: _Backlog | None = getattr(request.app.state, "as4_after_receipt_backlog", None)
    if backlog is None:
        backlog = _Backlog(bound, budget)
        request.app.state.as4_after_receipt_backlog = backlog
    return backlog


def _after_receipt_limiter(request: Request, capacity: int) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "as4_after_receipt", None)
    if limiter is None:  # made in the event loop that uses it
        limiter = anyio.CapacityLimiter(capacity)
        request.app.state.as4_after_receipt = limiter
    return limiter


def _run_after_receipt(work: list[AfterReceipt]) -> None:
    """Run what follows an answered receipt (validation, record, MLS, expense); never raises."""
    for finish in work:
        for attempt in range(1, AFTER_RECEIPT_TRIES + 1):
            try:
                finish()
            except StoreError as exc:
                if attempt == AFTER_RECEIPT_TRIES:
                    log.error("received document left pending validation until the next sweep: %s", exc)
                else:
                    time.sleep(AFTER_RECEIPT_PAUSE_SECONDS)
                    continue
            except Exception:  # a bug: the receipt stands, the document stays pending (the sweep retries)
                log.exception("the work after a receipt failed")
            break


async def _off_loop(request: Request, handle: Callable[..., ReceiveResult], *args: Any) -> ReceiveResult:
    # Signature checks, decryption and validation are CPU-bound, the store synchronous: off the loop.
    try:
        return await anyio.to_thread.run_sync(handle, *args)
    except StoreError as exc:
        # Nothing stored, so no signal: the sender resends (peppol-as4.md §13 #14: persist, then receipt).
        log.error("AS4 request not stored: %s", exc)
        raise _unavailable(request, "The message could not be stored; resend later") from exc


def _without_api_keys(headers: HTTPHeaders, keyring: KeyRing) -> HTTPHeaders:
    """The header fields minus any that carries one of our API keys, whatever its name (issue 13: the
    receiver drops the usual credential fields by name; a key under another name is found by value)."""
    return tuple((name, value) for name, value in headers if not _carries_key(value, keyring))


def _carries_key(value: str, keyring: KeyRing) -> bool:
    # At most server.max_header_bytes of tokens, one SHA-256 each: a few milliseconds in the worst case.
    tokens = {value.strip(), *_TOKEN_SEPARATORS.split(value)}
    return any(keyring.authenticate(token) is not None for token in tokens if token)


def _as4_slots(request: Request, capacity: int, server: ServerSettings) -> BodySlots:
    # One cap per app on the /as4 bodies held at once (memory in total: capacity x max_message_bytes).
    slots: BodySlots | None = getattr(request.app.state, "as4_body_slots", None)
    if slots is None:
        slots = BodySlots(
            capacity,
            "AS4 messages",
            wait_seconds=server.body_slot_wait_seconds,
            retry_after_seconds=server.retry_after_seconds,
        )
        request.app.state.as4_body_slots = slots
    return slots
