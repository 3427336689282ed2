"""A cap on how many requests of one process do something at once, with a bounded wait for a free slot:
the base of the request-body slots (``gateway.api.deps.BodySlots``) and the PDF print slots
(``PrintSlots``, ``Services.print_slots``: one set per process, shared by the API's renderings and the
pages' PDF downloads), which differ only in the refusal they raise."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from gateway.render.pdf import RenderBusy, RenderError, RenderTooLarge, check_printable, html_to_pdf

log = logging.getLogger("gateway.render.print")


class WaitingSlots:
    """At most ``capacity`` holders at once; a request finding every slot taken waits up to
    ``wait_seconds`` for one as a coroutine, then gets the exception of ``busy``.

    Args:
        capacity: holders at once.
        wait_seconds: how long a request waits for a slot.
    """

    def __init__(self, capacity: int, wait_seconds: float) -> None:
        self.capacity = capacity
        self._wait = wait_seconds
        self._semaphore: anyio.Semaphore | None = None

    def busy(self) -> Exception:
        """The exception raised when no slot freed within the wait (the subclass's refusal)."""
        raise NotImplementedError

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block (released whatever ends it, a cancellation too).

        Raises:
            Exception: ``busy()``, when no slot freed within the wait.
        """
        if self._semaphore is None:  # made in the event loop that uses it
            self._semaphore = anyio.Semaphore(self.capacity)
        acquired = False
        try:
            # A free slot is taken at once: with a wait of 0 the deadline passed before ``acquire`` could
            # take it, and every request got a refusal (a slot is free only while no request waits for one).
            self._semaphore.acquire_nowait()
            acquired = True
        except anyio.WouldBlock:
            with anyio.move_on_after(self._wait):
                await self._semaphore.acquire()
                acquired = True
        if not acquired:
            raise self.busy()
        try:
            yield
        finally:
            self._semaphore.release()

    @property
    def taken(self) -> int:
        """Slots in use now."""
        return 0 if self._semaphore is None else self.capacity - self._semaphore.value


class PrintSlots(WaitingSlots):
    """A cap on the PDFs one process prints at once (``settings.render.max_concurrent_pdfs``), each in a
    worker thread, so a few requests for large PDFs cannot take all the process's memory. A request finding
    every slot taken waits up to ``wait_seconds`` for one as a coroutine (no thread), then gets
    ``RenderBusy`` (503 + Retry-After).

    A bounded wait rather than an immediate 503: the common case is two people opening a PDF within
    seconds of each other, and a wait of some seconds serves them both; a burst of large prints (tens of
    seconds each) still ends in 503s, in bounded time, instead of a queue that grows without end.

    Args:
        capacity: prints at once.
        wait_seconds: how long a request waits for a slot.
    """

    def busy(self) -> RenderBusy:
        """``RenderBusy``: the 503 ``render-busy``."""
        return RenderBusy(
            f"{self.capacity} PDFs are being printed and none finished within {self._wait:g} s; "
            "retry later (the HTML rendering is served at once)"
        )

    async def print(self, html: str, what: str) -> bytes:
        """``html`` (a complete page of ``render_html``) printed as a PDF in one of the slots: a page too
        large to print is refused before it waits for a slot; the print runs in a worker thread. Every
        refusal is logged with ``what`` (the document's id), never with the page.

        Raises:
            RenderTooLarge: the page is too large to print.
            RenderBusy: no slot freed within the wait.
            RenderError: the print failed (``DocumentUnprintable``, ``PrinterUnavailable``).
        """
        try:
            check_printable(html)
            async with self.slot():
                return await anyio.to_thread.run_sync(_print, html, what)
        except (RenderTooLarge, RenderBusy) as exc:
            log.warning("document %s: not printed as a PDF: %s", what, exc)
            raise


def _print(html: str, what: str) -> bytes:
    """``html_to_pdf`` in a worker thread, each failure logged with the document's id (never the page)."""
    try:
        return html_to_pdf(html)
    except RenderError as exc:
        # Also the input's fault (DocumentUnprintable, 422) is a printer bug to report upstream: the cause's
        # traceback goes to the log, the printer's words never to the caller.
        log.error("document %s: not printed as a PDF: %s", what, exc, exc_info=exc.__cause__)
        raise
