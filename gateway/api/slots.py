"""A cap on how many requests of one process do something at once, with a bounded wait for a free slot:
the base of the request-body slots (``gateway.api.deps.BodySlots``) and the PDF print slots
(``gateway.api.render_slots.PrintSlots``), which differ only in the refusal they raise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio


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
