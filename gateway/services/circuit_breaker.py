"""A circuit breaker for one receiving endpoint: sans-IO, the time is passed in.

States (the classic three, with a growing open period):

* **closed** - sends go ahead; ``failure_threshold`` consecutive transport failures (timeout, refused,
  reset) open the circuit. Any HTTP answer, even an ebMS error, proves the endpoint alive: the count
  starts again.
* **open** - no send until ``retry_at``; the open period starts at ``open_for`` and doubles each time a probe
  fails, up to ``max_open_for``.
* **half-open** - after ``retry_at`` exactly one send (the probe) goes ahead; the others are refused until it
  ends. A successful probe closes the circuit (and resets the open period); a failed one opens it again.

Outcomes of sends that were not admitted in the current state (a send started while closed that ends after
the circuit opened) change nothing: only the probe decides a half-open circuit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

DEFAULT_FAILURE_THRESHOLD: Final = 5
DEFAULT_OPEN_FOR: Final = timedelta(seconds=30)
DEFAULT_MAX_OPEN_FOR: Final = timedelta(minutes=10)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Admission(StrEnum):
    """What ``CircuitBreaker.admit`` decided for one send."""

    SEND = "send"
    """Closed circuit: a normal send."""
    PROBE = "probe"
    """Half-open circuit: this send is the one probe; its outcome closes or reopens the circuit."""
    REFUSED = "refused"
    """Open circuit, or half-open with the probe in flight: do not send now."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a circuit opens and for how long.

    Attributes:
        failure_threshold: consecutive transport failures that open the circuit (>= 1).
        open_for: the first open period (> 0).
        max_open_for: the longest open period (>= open_for).
    """

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    open_for: timedelta = DEFAULT_OPEN_FOR
    max_open_for: timedelta = DEFAULT_MAX_OPEN_FOR

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.open_for <= timedelta(0) or self.max_open_for < self.open_for:
            raise ValueError("need 0 < open_for <= max_open_for")


class CircuitBreaker:
    """The state of one endpoint's circuit (not thread-safe: one event loop drives it)."""

    def __init__(self, policy: BreakerPolicy) -> None:
        self._policy = policy
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._open_for = policy.open_for
        self._retry_at: datetime | None = None
        self._opened_at: datetime | None = None
        self._probing = False

    @property
    def failures(self) -> int:
        """Consecutive transport failures counted so far (kept while open, for the reason text)."""
        return self._failures

    @property
    def probing(self) -> bool:
        """A half-open circuit's probe is in flight: every other send is refused until it ends."""
        return self._probing

    @property
    def retry_at(self) -> datetime | None:
        """When an open circuit lets its probe through; None when closed."""
        return self._retry_at

    @property
    def open_for(self) -> timedelta | None:
        """The length of the current open period (``retry_at`` minus its start); None when closed."""
        return self._open_for if self._retry_at is not None else None

    @property
    def opened_at(self) -> datetime | None:
        """When the circuit opened after it was last closed (failed probes keep it); None when closed."""
        return self._opened_at

    def state(self, now: datetime) -> CircuitState:
        """The state at ``now`` (an open circuit whose period ended is half-open)."""
        if self._state is CircuitState.OPEN and self._retry_at is not None and now >= self._retry_at:
            return CircuitState.HALF_OPEN
        return self._state

    def admit(self, now: datetime) -> Admission:
        """May a send start now? A PROBE admission must be reported with ``record(..., probe=True)``."""
        state = self.state(now)
        if state is CircuitState.CLOSED:
            return Admission.SEND
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._state = CircuitState.HALF_OPEN
            self._probing = True
            return Admission.PROBE
        return Admission.REFUSED

    def record(self, *, ok: bool, now: datetime, probe: bool = False) -> None:
        """Report how an admitted send ended: ``ok`` when any HTTP answer came back, False on a transport
        failure or timeout."""
        if probe:
            self._probing = False
            if ok:
                self._close()
            else:
                self._failures += 1
                self._open_for = min(self._open_for * 2, self._policy.max_open_for)
                self._open(now)
            return
        if self._state is not CircuitState.CLOSED:
            return  # a send admitted before the circuit opened: only the probe decides now
        if ok:
            self._failures = 0
            return
        self._failures += 1
        if self._failures >= self._policy.failure_threshold:
            self._open(now)

    def cancel_probe(self) -> None:
        """The probe admitted by ``admit`` was not sent after all: the next send may probe."""
        self._probing = False

    def _open(self, now: datetime) -> None:
        if self._opened_at is None:
            self._opened_at = now
        self._state = CircuitState.OPEN
        self._retry_at = now + self._open_for

    def _close(self) -> None:
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._open_for = self._policy.open_for
        self._retry_at = None
        self._opened_at = None
