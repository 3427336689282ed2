"""The PDF print slots of one ``gateway serve``: at most ``settings.render.max_concurrent_pdfs`` prints at
once, each in a worker thread, so a few requests for large PDFs cannot take all the process's memory."""

from __future__ import annotations

from fastapi import Request

from gateway.api.slots import WaitingSlots
from gateway.render.pdf import RenderBusy


class PrintSlots(WaitingSlots):
    """A cap on the PDFs one process prints at once. A request finding every slot taken waits up to
    ``wait_seconds`` for one as a coroutine (no thread), then gets ``RenderBusy`` (503 + Retry-After).

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


def print_slots(request: Request) -> PrintSlots:
    """The app's print slots (made on first use from ``settings.render``)."""
    slots: PrintSlots | None = getattr(request.app.state, "print_slots", None)
    if slots is None:
        render = request.app.state.services.settings.render
        slots = PrintSlots(render.max_concurrent_pdfs, render.pdf_wait_seconds)
        request.app.state.print_slots = slots
    return slots
