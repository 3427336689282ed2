"""Admission of sends per receiving endpoint: a concurrency limit and a circuit breaker for each endpoint URL.

The delivery worker keeps many sends in flight; without a per-endpoint limit one slow receiver (answers after
10 s, or never) would soon hold all of them and starve every other receiver (head-of-line blocking). The
gate answers at once - it never waits: a send that may not start now is handed back by the caller (not
counted as an attempt) and leased again later, so the worker's slots keep serving the other endpoints.

Jobs refused for a busy endpoint come back spread out rather than all at once: each gets the next place in
a virtual queue whose places are one expected send duration (of that endpoint: its moving average, or the
age of its oldest send in flight if longer) divided by the limit apart, so about as many jobs come back as
slots free up, for a fast endpoint and a 10-second one alike, instead of a backlog being leased and refused
again every few seconds.

Jobs refused for an open circuit are spread out too: they are due again from the circuit's reopening on, at
places ``reopening + OPEN_SPREAD x open period x frac(k x golden ratio)`` for the k-th refusal of that open
period (k = 0, 1, ...: a low-discrepancy sequence, so any number of them are spread evenly, each at its own
time, none before the reopening and all before the next one can come). The first due after the reopening
becomes the half-open probe; the others find the probe in flight (refused as busy, back in a moment) or the
circuit reopened after a failed probe (deferred again, spread again), instead of N documents behind a dead
endpoint all coming due at one instant - N leases and N deferrals at once - each open period. A fixed
sequence rather than the backoff's random jitter (``services.backoff``): it needs no random source, and
places any number of refusals at distinct, evenly spaced times where random draws would bunch some.

Sans-IO and not thread-safe: one event loop (the worker's) calls it; the time comes from the injected clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from gateway.services.circuit_breaker import Admission, BreakerPolicy, CircuitBreaker, CircuitState
from gateway.services.ports import Clock

#: Weight of the newest send duration in an endpoint's moving average.
DURATION_WEIGHT: Final = 0.2
#: Bounds of the spacing between two refused jobs' return times (seconds).
MIN_SPACING: Final = 0.01
MAX_SPACING: Final = 60.0


#: Jobs refused for an open circuit are due again within this fraction of the open period after it ends.
OPEN_SPREAD: Final = 0.5
#: The fractional part of its multiples spreads the places of an open period's refusals evenly.
_GOLDEN: Final = (math.sqrt(5.0) - 1.0) / 2.0

#: The port an endpoint URL without one is reached on.
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def endpoint_key(url: str) -> str:
    """The gate's key of an endpoint URL: its scheme and host in lower case, its default port left out and an
    empty path as ``/`` (RFC 3986 §6.2.2.1, §6.2.3: the same endpoint however an SMP spells it, so one
    receiving AP gets one limit and one circuit breaker). The path and query are kept as they are. A URL
    that cannot be read is its own key."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = parts.hostname
    if not parts.scheme or host is None:
        return url
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@{host}" if user else host
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


@dataclass(slots=True)
class SendPermit:
    """Leave to send to ``endpoint``; give it back with ``EndpointGate.release`` when the send ended.

    Attributes:
        endpoint: the endpoint URL (the limiter's key).
        probe: this send is the half-open circuit's probe.
        started: when it was admitted, then when its request went out (``sending``): the endpoint's
            average send duration measures the endpoint, not the sender's own steps before the request.
        released: given back already (``release`` is idempotent).
    """

    endpoint: str
    probe: bool
    started: datetime
    released: bool = False


@dataclass(frozen=True, slots=True)
class GateRefusal:
    """The send may not start now.

    Attributes:
        circuit_open: True when the endpoint's circuit is open (the document is rescheduled to ``retry_at``
            with ``reason``); False when the endpoint only has all its slots busy or its probe in flight
            (the job is handed back for a moment, nothing recorded on the document).
        reason: ``circuit-open: ...`` or ``endpoint-busy: ...`` (status reason, the job's last error).
        retry_at: when the job is due again (an open circuit: its own place from the circuit's reopening on,
            within ``OPEN_SPREAD`` of the open period after it).
        endpoint: the endpoint refused.
        since: an open circuit's first opening since it was last closed (the endpoint is unreachable since
            then); None otherwise.
        max_open_for: an open circuit's longest open period (``BreakerPolicy.max_open_for``); None otherwise.
    """

    circuit_open: bool
    reason: str
    retry_at: datetime
    endpoint: str = ""
    since: datetime | None = None
    max_open_for: timedelta | None = None


@dataclass(slots=True)
class _Endpoint:
    breaker: CircuitBreaker
    average_seconds: float
    started: list[datetime] = field(default_factory=list)  # of the sends in flight
    queue_end: datetime | None = None
    measured: bool = False  # a send to it was answered: average_seconds is its own, not the assumed one
    spread_for: datetime | None = None  # the reopening the open circuit's refusals are counted for
    spread_count: int = 0  # refusals of that open period so far (their places after the reopening)

    @property
    def in_flight(self) -> int:
        return len(self.started)

    def oldest_age(self, now: datetime) -> float:
        """Seconds the oldest send in flight has been out (0 with none)."""
        return (now - min(self.started)).total_seconds() if self.started else 0.0


class EndpointGate:
    """Per-endpoint concurrency limits and circuit breakers for one worker process.

    Args:
        per_endpoint: sends in flight to one endpoint URL at most (>= 1).
        breaker: when circuits open and for how long.
        clock: the time.
        initial_send_seconds: the assumed send duration of an endpoint not measured yet.
        max_endpoints: endpoints remembered (their average send duration); beyond it an idle endpoint
            without trouble is forgotten when its send ends.
    """

    def __init__(
        self,
        *,
        per_endpoint: int,
        breaker: BreakerPolicy,
        clock: Clock,
        initial_send_seconds: float = 1.0,
        max_endpoints: int = 10_000,
    ) -> None:
        if per_endpoint < 1:
            raise ValueError("per_endpoint must be at least 1")
        self._limit = per_endpoint
        self._policy = breaker
        self._clock = clock
        self._initial = initial_send_seconds
        self._max_endpoints = max_endpoints
        self._endpoints: dict[str, _Endpoint] = {}

    @property
    def per_endpoint(self) -> int:
        """The concurrency limit per endpoint."""
        return self._limit

    def in_flight(self, endpoint: str) -> int:
        """Sends in flight to ``endpoint`` now."""
        known = self._endpoints.get(endpoint)
        return known.in_flight if known else 0

    def state(self, endpoint: str) -> CircuitState:
        """The endpoint's circuit state now."""
        known = self._endpoints.get(endpoint)
        return known.breaker.state(self._clock.now()) if known else CircuitState.CLOSED

    def refusal(self, endpoint: str) -> GateRefusal | None:
        """Why a send to ``endpoint`` would be refused now, without taking a slot; None: it would not be.

        For a job refused before, whose endpoint is remembered: it can be handed back again without loading
        the document or looking the receiver up.
        """
        known = self._endpoints.get(endpoint)
        if known is None:
            return None
        now = self._clock.now()
        state = known.breaker.state(now)
        if state is CircuitState.OPEN or known.in_flight >= self._limit:
            return self._refuse(endpoint, known, now)
        if state is CircuitState.HALF_OPEN and known.breaker.probing:
            return self._probing(endpoint, known, now)  # as ``acquire`` would refuse it
        return None

    def busy(self, endpoint: str) -> bool:
        """True when ``endpoint`` has all its slots in flight and a closed circuit: a send would be refused
        only for want of a slot (no side effect, unlike ``refusal``)."""
        known = self._endpoints.get(endpoint)
        if known is None:
            return False
        closed = known.breaker.state(self._clock.now()) is CircuitState.CLOSED
        return closed and known.in_flight >= self._limit

    def expected_wait(self, endpoint: str, *, ahead: int) -> float | None:
        """Seconds until a slot of ``endpoint`` frees up for a job with ``ahead`` jobs waiting before it:
        the expected send duration (its moving average, or the age of its oldest send in flight if longer)
        times ``ahead + 1`` over the limit. None unless the endpoint is known, its circuit closed and, if no
        send to it was answered yet, its oldest send in flight younger than the assumed duration
        (``wait_left``): past that, nothing says it answers fast, and a silent receiver would have jobs
        waiting for it in the worker for seconds, each holding a slot of the pipeline."""
        known = self._endpoints.get(endpoint)
        if known is None:
            return None
        now = self._clock.now()
        if known.breaker.state(now) is not CircuitState.CLOSED:
            return None
        if not known.measured and self._assumed_left(known, now) <= 0:
            return None
        return self._expected_send(known, now) * (ahead + 1) / self._limit

    def wait_left(self, endpoint: str) -> float | None:
        """The longest a job may still wait for a slot of ``endpoint`` on the strength of the assumed send
        duration: for an endpoint no send to which was answered yet, until its oldest send in flight has
        outlived that duration (seconds, 0 once it has); None for an answered (or unknown) one."""
        known = self._endpoints.get(endpoint)
        if known is None or known.measured:
            return None
        return self._assumed_left(known, self._clock.now())

    def _assumed_left(self, known: _Endpoint, now: datetime) -> float:
        return max(0.0, self._initial - known.oldest_age(now))

    def acquire(self, endpoint: str) -> SendPermit | GateRefusal:
        """A permit to send to ``endpoint`` now, or why not."""
        now = self._clock.now()
        known = self._endpoints.get(endpoint)
        if known is None:
            known = self._endpoints[endpoint] = _Endpoint(CircuitBreaker(self._policy), self._initial)
        if known.breaker.state(now) is CircuitState.OPEN or known.in_flight >= self._limit:
            return self._refuse(endpoint, known, now)
        breaker = known.breaker
        admission = breaker.admit(now)
        if admission is Admission.REFUSED:  # half-open, its probe is in flight
            return self._probing(endpoint, known, now)
        known.started.append(now)
        return SendPermit(endpoint, admission is Admission.PROBE, now)

    def _refuse(self, endpoint: str, known: _Endpoint, now: datetime) -> GateRefusal:
        """The refusal for an open circuit or an endpoint with all its slots busy."""
        breaker = known.breaker
        if breaker.state(now) is CircuitState.OPEN:
            retry_at = self._open_place(known)
            reason = (
                f"circuit-open: {endpoint} failed {breaker.failures} times in a row, "
                f"next try at {retry_at.isoformat(timespec='seconds')}"
            )
            return GateRefusal(True, reason, retry_at, endpoint, breaker.opened_at, self._policy.max_open_for)
        reason = f"endpoint-busy: {known.in_flight} sends in flight to {endpoint} (limit {self._limit})"
        return GateRefusal(False, reason, self._next_place(known, now), endpoint)

    @staticmethod
    def _open_place(known: _Endpoint) -> datetime:
        """The return time of one more job refused for the open circuit: its place after the reopening."""
        breaker = known.breaker
        reopening, period = breaker.retry_at, breaker.open_for
        assert reopening is not None
        assert period is not None
        if known.spread_for != reopening:  # a new open period: its places start again at the reopening
            known.spread_for, known.spread_count = reopening, 0
        fraction = (known.spread_count * _GOLDEN) % 1.0
        known.spread_count += 1
        return reopening + period * (OPEN_SPREAD * fraction)

    def _probing(self, endpoint: str, known: _Endpoint, now: datetime) -> GateRefusal:
        """The refusal while a half-open circuit's probe is in flight (no open circuit for the document)."""
        reason = f"endpoint-busy: probing {endpoint} after {known.breaker.failures} failures"
        return GateRefusal(False, reason, self._next_place(known, now), endpoint)

    def sending(self, permit: SendPermit) -> None:
        """The request of ``permit`` goes out now: its send duration counts from here. Building, signing and
        storing the message before it (which wait for the CPU and the database lock under load) would
        otherwise make a fast endpoint look slow, and its refused jobs wait longer than needed."""
        known = self._endpoints.get(permit.endpoint)
        if permit.released or known is None or permit.started not in known.started:
            return
        now = self._clock.now()
        known.started[known.started.index(permit.started)] = now
        permit.started = now

    def release(self, permit: SendPermit, *, ok: bool | None) -> None:
        """The send of ``permit`` ended: ``ok`` True for any HTTP answer, False for a transport failure or
        timeout, None when it did not get to send (nothing learnt about the endpoint). Idempotent."""
        if permit.released:
            return
        permit.released = True
        known = self._endpoints.get(permit.endpoint)
        if known is None:
            return
        now = self._clock.now()
        if permit.started in known.started:
            known.started.remove(permit.started)
        breaker = known.breaker
        if ok is None:
            if permit.probe:
                breaker.cancel_probe()  # the next send probes instead
        else:
            took = max((now - permit.started).total_seconds(), 0.0)
            if ok and not known.measured:
                # The first answer replaces the assumed duration (a 10 s endpoint is not 2.8 s). A failure
                # is no measurement of it (a timeout measures the transport's 120 s): averaged in, as before.
                known.average_seconds, known.measured = took, True
            else:
                known.average_seconds += DURATION_WEIGHT * (took - known.average_seconds)
            breaker.record(ok=ok, now=now, probe=permit.probe)
        idle = known.in_flight == 0 and (known.queue_end is None or known.queue_end <= now)
        trouble = breaker.state(now) is not CircuitState.CLOSED or breaker.failures
        if idle and not trouble and len(self._endpoints) > self._max_endpoints:
            del self._endpoints[permit.endpoint]  # bounded memory: only its average send time is lost

    def _next_place(self, known: _Endpoint, now: datetime) -> datetime:
        """The return time of one more refused job: the next place in the endpoint's virtual queue."""
        spacing = min(max(self._expected_send(known, now) / self._limit, MIN_SPACING), MAX_SPACING)
        start = known.queue_end if known.queue_end is not None and known.queue_end > now else now
        known.queue_end = start + timedelta(seconds=spacing)
        return known.queue_end

    @staticmethod
    def _expected_send(known: _Endpoint, now: datetime) -> float:
        """The expected duration of a send: the moving average, or the age of the oldest send in flight if
        longer (an endpoint that stopped answering: the first timeouts must not wait for the average)."""
        return max(known.average_seconds, known.oldest_age(now))
