"""Waiting in the worker for a slot of a busy endpoint, when the wait is short.

The endpoint gate (``services.endpoint_gate``) never waits: a job refused because its endpoint has all its
slots in flight is handed back to the queue and leased again later. For a slow receiver that is what keeps
the worker's slots free for the others; for a fast one it is pure overhead, and it was the pipeline's main
wait (issue 12, measured with one fast receiver and a backlog: 271 hand-backs for 443 documents, ≈ 3 sends
per second while a send took 20-100 ms, the worker and both gateways idle 95 % of the time): each refused
job cost a unit of work and came back only at its place in the virtual queue.

``EndpointSlots`` lets such a job wait in the process, in FIFO order per endpoint, when its expected wait
(the gate's ``expected_wait``: the endpoint's send duration times the jobs ahead of it, over the limit) is
at most ``max_wait``; a slot that frees up goes to the first waiter, and a job arriving before that waiter
runs queues behind it. Each wait for the next free slot is
bounded by ``max_wait``: an endpoint that stalls meanwhile sends its waiters back to the queue. A slow
endpoint (10 s per send: 2.5 s expected for the first waiter with 4 slots) or one not answering gets no
waiters at all, so the worker's slots still serve the other endpoints. An endpoint no send to which was
answered yet is judged by the assumed send duration (the gate's ``initial_send_seconds``, 1 s) only until
its oldest send outlives it, and its waiters wait no longer than that: a fast receiver met for the first
time has its surplus jobs wait as before, a silent one holds the worker's slots for that second at most.
Not thread-safe: the worker's event loop calls it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Final

from gateway.services.endpoint_gate import EndpointGate, GateRefusal, SendPermit

__all__ = ["DEFAULT_MAX_SLOT_WAIT", "EndpointSlots"]

#: Longest expected wait, in seconds, for which a job waits in the process rather than being handed back.
DEFAULT_MAX_SLOT_WAIT: Final = 2.0


class EndpointSlots:
    """The gate, plus short FIFO waits for a slot of a busy endpoint.

    Args:
        gate: the per-endpoint limits and circuit breakers.
        max_wait: longest expected wait (seconds) worth waiting in the process; 0 never waits.
    """

    def __init__(self, gate: EndpointGate, *, max_wait: float = DEFAULT_MAX_SLOT_WAIT) -> None:
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self.gate = gate
        self._max_wait = max_wait
        self._waiters: dict[str, deque[asyncio.Future[bool]]] = {}
        # Slots freed and handed to a waiter that has not run yet: a newcomer must not take them meanwhile.
        self._handed: dict[str, int] = {}
        # Told when jobs start waiting here (none did) or none waits any more (``watch``).
        self._watcher: Callable[[], object] | None = None
        self._any_waiting = False

    def watch(self, watcher: Callable[[], object] | None) -> None:
        """Call ``watcher`` (synchronously, on the event loop) whenever ``waiting_in_all`` turns from zero to
        some or from some to zero: the worker tells its wake-up signal again then (a worker whose slots are
        full of jobs waiting here is not busy for the signal). None: stop telling."""
        self._watcher = watcher

    def _waiting_changed(self) -> None:
        any_waiting = any(self._waiters.values())
        if any_waiting != self._any_waiting:
            self._any_waiting = any_waiting
            if self._watcher is not None:
                self._watcher()

    def waiting(self, endpoint: str) -> int:
        """Jobs waiting for a slot of ``endpoint`` now."""
        return len(self._waiters.get(endpoint, ()))

    def waiting_in_all(self) -> int:
        """Jobs waiting for a slot of any endpoint now."""
        return sum(len(queue) for queue in self._waiters.values())

    def would_wait(self, endpoint: str) -> bool:
        """True when one more job for ``endpoint`` would wait here for a slot rather than be handed back."""
        expected = self.gate.expected_wait(endpoint, ahead=self.waiting(endpoint))
        return expected is not None and expected <= self._max_wait

    async def acquire(self, endpoint: str) -> SendPermit | GateRefusal:
        """A permit to send to ``endpoint``, after a short wait for a slot if the endpoint is busy; or the
        gate's refusal (circuit open, or the wait would be too long or ran out)."""
        while self.gate.busy(endpoint) or self._waiters.get(endpoint) or self._handed.get(endpoint):
            expected = self.gate.expected_wait(endpoint, ahead=self.waiting(endpoint))
            if expected is None or expected > self._max_wait:
                break  # hand the job back: the gate places it in the endpoint's virtual queue
            left = self.gate.wait_left(endpoint)  # an endpoint not answered yet: its assumed time only
            if not await self._wait(endpoint, self._max_wait if left is None else min(self._max_wait, left)):
                break  # no send to the endpoint ended meanwhile: it stalls, back to the queue
            if not self.gate.busy(endpoint):
                break  # our turn
        return self.gate.acquire(endpoint)

    def release(self, permit: SendPermit, *, ok: bool | None) -> None:
        """The send of ``permit`` ended (see ``EndpointGate.release``); its slot goes to the first waiter."""
        if permit.released:
            return
        self.gate.release(permit, ok=ok)
        self._wake(permit.endpoint)

    async def _wait(self, endpoint: str, bound: float) -> bool:
        """Queue for ``endpoint``'s next free slot for at most ``bound`` seconds; True when handed one (it is
        taken here: no longer held for this waiter, which acquires it from the gate before it next awaits).

        Deliberately no ``asyncio.wait_for``: its outcome when a slot is handed over in the same loop
        iteration as the bound runs out or the task is cancelled differs between versions. On 3.12+ (built
        on ``asyncio.timeout``) it raised ``TimeoutError`` although the slot had been handed over, which left
        it held for nobody (``_handed`` one high for good, so every later job for the endpoint queued and
        waited out the bound even with the endpoint idle); on 3.11 it returned normally and swallowed the
        cancellation. Here one future decides: the first of ``_wake`` (True) and the timer (False) to settle
        it wins, and a cancellation after a hand-over passes the slot on.
        """
        loop = asyncio.get_running_loop()
        queue = self._waiters.setdefault(endpoint, deque())
        turn: asyncio.Future[bool] = loop.create_future()
        queue.append(turn)
        self._waiting_changed()
        timer = loop.call_later(bound, _settle, turn, False)
        try:
            handed = await turn
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.result():
                self._take_handed(endpoint)
                self._wake(endpoint)  # handed the slot, then cancelled before it ran: pass it on
            raise
        finally:
            timer.cancel()
            if turn in queue:
                queue.remove(turn)
            if not queue and self._waiters.get(endpoint) is queue:
                del self._waiters[endpoint]
            self._waiting_changed()
        if handed:
            self._take_handed(endpoint)
        return handed

    def _wake(self, endpoint: str) -> None:
        """Hand the slot just freed to the first waiter of ``endpoint`` (it acquires it when it runs)."""
        queue = self._waiters.get(endpoint)
        while queue:
            first = queue.popleft()
            if _settle(first, True):
                self._handed[endpoint] = self._handed.get(endpoint, 0) + 1
                break
        self._waiting_changed()

    def _take_handed(self, endpoint: str) -> None:
        """A woken waiter runs: the slot handed to it is no longer held for it."""
        left = self._handed.get(endpoint, 0) - 1
        if left > 0:
            self._handed[endpoint] = left
        else:
            self._handed.pop(endpoint, None)


def _settle(turn: asyncio.Future[bool], handed: bool) -> bool:
    """Settle a waiter's turn unless it is settled (or cancelled) already; True when this call settled it."""
    if turn.done():
        return False
    turn.set_result(handed)
    return True
