"""The per-endpoint gate: a concurrency limit per endpoint URL, refused jobs spread over time, and the
circuit breaker's refusals with their reasons."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import pytest
from delivery_support import SettableClock

from gateway.services.circuit_breaker import BreakerPolicy, CircuitState
from gateway.services.endpoint_gate import EndpointGate, GateRefusal, SendPermit, endpoint_key

SLOW = "https://slow.example/as4"
FAST = "https://fast.example/as4"


def gate(clock: SettableClock, per_endpoint: int = 2) -> EndpointGate:
    policy = BreakerPolicy(failure_threshold=2, open_for=timedelta(seconds=30))
    return EndpointGate(per_endpoint=per_endpoint, breaker=policy, clock=clock, initial_send_seconds=1.0)


def permit(result: SendPermit | GateRefusal) -> SendPermit:
    assert isinstance(result, SendPermit), result
    return result


def refusal(result: SendPermit | GateRefusal) -> GateRefusal:
    assert isinstance(result, GateRefusal), result
    return result


def test_one_endpoint_cannot_take_more_than_its_slots_while_others_are_served() -> None:
    clock = SettableClock()
    g = gate(clock)
    held = [permit(g.acquire(SLOW)), permit(g.acquire(SLOW))]
    busy = refusal(g.acquire(SLOW))
    assert not busy.circuit_open
    assert busy.reason.startswith(f"endpoint-busy: 2 sends in flight to {SLOW}")
    assert busy.retry_at > clock.now()
    assert permit(g.acquire(FAST)).endpoint == FAST  # another endpoint is not held back
    g.release(held[0], ok=True)
    g.release(held[0], ok=True)  # idempotent: frees one slot only
    assert g.in_flight(SLOW) == 1
    permit(g.acquire(SLOW))
    refusal(g.acquire(SLOW))


def test_refused_jobs_come_back_spread_by_the_endpoints_send_duration() -> None:
    clock = SettableClock()
    g = gate(clock)
    for _ in range(20):  # the endpoint takes 10 s per send: its average is that from the first send on
        p = permit(g.acquire(SLOW))
        clock.advance(seconds=10)
        g.release(p, ok=True)
    clock.advance(seconds=100)
    held = [permit(g.acquire(SLOW)), permit(g.acquire(SLOW))]
    returns = [refusal(g.acquire(SLOW)).retry_at for _ in range(6)]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(returns)]
    # Two jobs (the limit) per send duration: slots free up at that pace.
    assert gaps == [5.0] * 5, gaps
    assert all(g.in_flight(SLOW) == 2 for _ in held)


def test_failures_open_the_circuit_with_the_reason_and_a_probe_closes_it() -> None:
    clock = SettableClock()
    g = gate(clock, per_endpoint=4)
    for _ in range(2):
        g.release(permit(g.acquire(SLOW)), ok=False)
    opened = refusal(g.acquire(SLOW))
    assert opened.circuit_open
    assert opened.retry_at == clock.now() + timedelta(seconds=30)
    next_try = opened.retry_at.isoformat(timespec="seconds")
    assert opened.reason == f"circuit-open: {SLOW} failed 2 times in a row, next try at {next_try}"
    assert g.state(SLOW) is CircuitState.OPEN
    permit(g.acquire(FAST))
    clock.advance(seconds=30)
    probe = permit(g.acquire(SLOW))
    assert probe.probe
    waiting = refusal(g.acquire(SLOW))  # one probe at a time; not an open circuit for the document
    assert not waiting.circuit_open
    assert "probing" in waiting.reason
    g.release(probe, ok=True)
    assert g.state(SLOW) is CircuitState.CLOSED
    assert not permit(g.acquire(SLOW)).probe


def test_a_probe_that_did_not_send_is_not_a_failure() -> None:
    clock = SettableClock()
    g = gate(clock)
    for _ in range(2):
        g.release(permit(g.acquire(SLOW)), ok=False)
    clock.advance(seconds=30)
    probe = permit(g.acquire(SLOW))
    g.release(probe, ok=None)  # e.g. building the message failed
    assert g.state(SLOW) is CircuitState.HALF_OPEN
    assert permit(g.acquire(SLOW)).probe


def test_beyond_the_endpoints_remembered_an_idle_endpoint_without_trouble_is_forgotten() -> None:
    clock = SettableClock()
    policy = BreakerPolicy(failure_threshold=1)
    g = EndpointGate(per_endpoint=1, breaker=policy, clock=clock, max_endpoints=1)
    g.release(permit(g.acquire(SLOW)), ok=False)  # open circuit: remembered whatever the size
    g.release(permit(g.acquire(FAST)), ok=True)
    assert g.state(SLOW) is CircuitState.OPEN
    assert set(g._endpoints) == {SLOW}  # the map does not grow with every endpoint ever seen


def test_a_send_hanging_longer_than_the_average_spreads_the_refused_jobs_further() -> None:
    clock = SettableClock()
    g = gate(clock)  # never measured: 1 s assumed
    held = [permit(g.acquire(SLOW)), permit(g.acquire(SLOW))]
    clock.advance(seconds=20)  # neither has answered yet (a timeout is coming)
    first, second = (refusal(g.acquire(SLOW)).retry_at for _ in range(2))
    assert (second - first).total_seconds() == 10.0  # 20 s in flight / 2 slots, not 1 s / 2
    assert len(held) == g.in_flight(SLOW)


def test_refusal_answers_without_taking_a_slot() -> None:
    clock = SettableClock()
    g = gate(clock, per_endpoint=1)
    assert g.refusal(SLOW) is None  # never seen
    held = permit(g.acquire(SLOW))
    busy = g.refusal(SLOW)
    assert busy is not None
    assert not busy.circuit_open
    assert g.in_flight(SLOW) == 1
    g.release(held, ok=False)
    assert g.refusal(SLOW) is None  # a slot is free
    g.release(permit(g.acquire(SLOW)), ok=False)  # the second failure opens the circuit
    opened = g.refusal(SLOW)
    assert opened is not None
    assert opened.circuit_open


def test_refusal_says_what_acquire_would_while_the_half_open_circuits_probe_is_in_flight() -> None:
    # A job refused before is handed back on ``refusal`` alone, unread and without a lookup (the Deliverer's
    # shortcut): answering None while the probe is out sent every such job through reading its document and
    # a fresh SMP lookup (a retry bypasses the cache) only for ``acquire`` to refuse it the same way.
    clock = SettableClock()
    g = gate(clock, per_endpoint=4)
    for _ in range(2):
        g.release(permit(g.acquire(SLOW)), ok=False)
    clock.advance(seconds=30)
    probe = permit(g.acquire(SLOW))
    assert probe.probe
    waiting = g.refusal(SLOW)
    assert waiting is not None
    assert not waiting.circuit_open
    assert "probing" in waiting.reason
    assert waiting.retry_at > clock.now()
    assert g.in_flight(SLOW) == 1  # no slot taken
    g.release(probe, ok=None)  # the probe did not send: the next job probes
    assert g.refusal(SLOW) is None


def test_an_endpoints_first_send_sets_its_duration_and_only_then_a_wait_is_expected() -> None:
    clock = SettableClock()
    g = gate(clock)
    first = permit(g.acquire(SLOW))
    clock.advance(seconds=30)
    assert g.expected_wait(SLOW, ahead=0) is None  # in flight 30 s, never answered: no wait worth taking
    g.release(first, ok=True)
    assert g.expected_wait(SLOW, ahead=0) == 30 / g.per_endpoint  # its own duration, not the assumed one
    g.release(permit(g.acquire(SLOW)), ok=None)  # did not get to send: learns nothing
    assert g.expected_wait(SLOW, ahead=0) == 30 / g.per_endpoint


def test_a_timed_out_first_send_is_no_measurement_its_first_answer_is() -> None:
    # A first send that failed after the transport's timeout (120 s) says how long the sender waited, not how
    # fast the endpoint answers: it must not become the endpoint's duration (its refused jobs 30 s apart,
    # ~20 answers to forget). It still lets no job wait for the endpoint; the first answer sets the duration.
    clock = SettableClock()
    g = gate(clock, per_endpoint=4)
    timed_out = permit(g.acquire(SLOW))
    clock.advance(seconds=120)
    g.release(timed_out, ok=False)
    # No answer yet, and the failure averaged in: no wait worth taking (the worker's max_wait is 2 s).
    assert (g.expected_wait(SLOW, ahead=0) or math.inf) > 2.0
    answered = permit(g.acquire(SLOW))
    clock.advance(seconds=0.2)
    g.release(answered, ok=True)
    assert g.expected_wait(SLOW, ahead=0) == 0.2 / 4
    held = [permit(g.acquire(SLOW)) for _ in range(4)]
    returns = [refusal(g.acquire(SLOW)).retry_at for _ in range(3)]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(returns)]
    assert gaps == [0.05, 0.05], gaps
    assert len(held) == 4


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("https://ap.example/as4", "https://AP.Example:443/as4", True),  # host case, default port
        ("HTTPS://ap.example", "https://ap.example/", True),  # scheme case, empty path
        ("https://[::1]:443/as4", "https://[::1]/as4", True),
        ("https://ap.example/as4", "https://ap.example:8443/as4", False),  # another port
        ("https://ap.example/as4", "http://ap.example/as4", False),  # another scheme
        ("https://ap.example/as4", "https://ap.example/as4/", False),  # another path
        ("https://ap.example/as4", "https://ap.example/AS4", False),  # paths are case-sensitive
    ],
)
def test_an_endpoint_is_keyed_by_its_url_as_rfc_3986_compares_them(one: str, other: str, same: bool) -> None:
    assert (endpoint_key(one) == endpoint_key(other)) is same


def test_jobs_refused_for_an_open_circuit_come_due_one_by_one_after_it_reopens() -> None:
    clock = SettableClock()
    g = gate(clock, per_endpoint=4)  # opens after 2 failures, for 30 s
    for _ in range(2):
        g.release(permit(g.acquire(SLOW)), ok=False)
    reopening = clock.now() + timedelta(seconds=30)
    clock.advance(seconds=1)
    refused = [refusal(g.acquire(SLOW)) for _ in range(40)] + [refusal(g.refusal(SLOW)) for _ in range(10)]
    assert all(r.circuit_open for r in refused)
    due = [r.retry_at for r in refused]
    assert len(set(due)) == len(due)  # each at its own time, not all at the reopening
    assert min(due) == due[0] == reopening  # none before the circuit reopens; the first right then
    assert max(due) < reopening + timedelta(seconds=15)  # within half the open period
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sorted(due))]
    assert max(gaps) < 3 * 15 / len(due)  # evenly spread
    for r in refused:  # each document is told its own next try
        assert r.reason.endswith(f"next try at {r.retry_at.isoformat(timespec='seconds')}")

    # The first due after the reopening is the probe; the others wait for it.
    clock.current = reopening
    probe = permit(g.acquire(SLOW))
    assert probe.probe
    waiting = refusal(g.acquire(SLOW))
    assert not waiting.circuit_open
    assert "probing" in waiting.reason
    clock.advance(seconds=1)
    g.release(probe, ok=False)  # the probe failed: open again, for 60 s
    reopening = clock.now() + timedelta(seconds=60)
    again = [refusal(g.acquire(SLOW)).retry_at for _ in range(20)]
    assert len(set(again)) == len(again)
    assert min(again) == again[0] == reopening
    assert max(again) < reopening + timedelta(seconds=30)
