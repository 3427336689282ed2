"""Sends waiting for their receiver's answer, and how long each has waited.

The delivery worker keeps ``max_in_flight`` deliveries going. A send to a receiver that answers after 10 s,
or never (until the send timeout), would hold its slot all that while: with one such receiver at its
per-endpoint limit (4 of the 20 slots) the others lose a fifth of the pipeline wherever the pipeline, not
the CPU, sets the pace (issue 12, BENCHMARKS.md, *Slow receivers: sends set aside*). A send that has waited
longer than the worker's ``slow_send_seconds`` therefore no longer counts against the slots
(``worker.loop``): it waits only for the network, holding no CPU, no database connection and no lock, and
its endpoint's own limit still bounds how many such sends one receiver can hold.

Sans-IO: the time comes from the injected clock; one event loop (the worker's) calls it.
"""

from __future__ import annotations

from datetime import datetime

from gateway.services.ports import Clock


class AwaitedSends:
    """The sends in flight (their requests out, no answer yet) and when each went out."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._since: dict[object, datetime] = {}

    def begin(self) -> object:
        """A request goes out now; the token ends it (``end``)."""
        token = object()
        self._since[token] = self._clock.now()
        return token

    def end(self, token: object) -> None:
        """The send of ``token`` ended (answered, failed or cancelled). Idempotent."""
        self._since.pop(token, None)

    def __len__(self) -> int:
        return len(self._since)

    def waited_longer(self, seconds: float) -> tuple[int, float | None]:
        """How many sends have waited longer than ``seconds`` for their answer, and the seconds until the
        next of the others will have (None: no other send is waiting)."""
        now = self._clock.now()
        longer = 0
        next_in: float | None = None
        for since in self._since.values():
            left = seconds - (now - since).total_seconds()
            if left < 0:
                longer += 1
            elif next_in is None or left < next_in:
                next_in = left
        return longer, next_in
