"""The circuit breaker's state machine, every transition, with a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.services.circuit_breaker import Admission, BreakerPolicy, CircuitBreaker, CircuitState

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(
    failure_threshold=3, open_for=timedelta(seconds=30), max_open_for=timedelta(seconds=100)
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened() -> CircuitBreaker:
    """A breaker opened at T0 by three failures in a row."""
    breaker = CircuitBreaker(POLICY)
    for _ in range(3):
        assert breaker.admit(T0) is Admission.SEND
        breaker.record(ok=False, now=T0)
    return breaker


def test_closed_admits_sends_and_failures_below_the_threshold_keep_it_closed() -> None:
    breaker = CircuitBreaker(POLICY)
    assert breaker.state(T0) is CircuitState.CLOSED
    for _ in range(2):
        assert breaker.admit(T0) is Admission.SEND
        breaker.record(ok=False, now=T0)
    assert (breaker.state(T0), breaker.failures, breaker.retry_at) == (CircuitState.CLOSED, 2, None)


def test_an_answer_resets_the_count_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(POLICY)
    for ok in (False, False, True, False, False):
        breaker.record(ok=ok, now=T0)
    assert breaker.state(T0) is CircuitState.CLOSED  # 2 + 2 failures, never 3 in a row
    assert breaker.failures == 2


def test_closed_to_open_at_the_threshold_refuses_until_the_open_period_ends() -> None:
    breaker = opened()
    assert breaker.state(T0) is CircuitState.OPEN
    assert breaker.retry_at == at(30)
    assert breaker.admit(at(29.9)) is Admission.REFUSED
    assert breaker.state(at(29.9)) is CircuitState.OPEN


def test_open_to_half_open_admits_exactly_one_probe() -> None:
    breaker = opened()
    assert breaker.state(at(30)) is CircuitState.HALF_OPEN
    assert breaker.admit(at(30)) is Admission.PROBE
    assert breaker.admit(at(31)) is Admission.REFUSED  # the probe is in flight
    assert breaker.state(at(31)) is CircuitState.HALF_OPEN


def test_half_open_to_closed_when_the_probe_gets_an_answer() -> None:
    breaker = opened()
    assert breaker.admit(at(30)) is Admission.PROBE
    breaker.record(ok=True, now=at(32), probe=True)
    assert (breaker.state(at(32)), breaker.failures, breaker.retry_at) == (CircuitState.CLOSED, 0, None)
    assert breaker.admit(at(32)) is Admission.SEND


def test_half_open_to_open_when_the_probe_fails_with_a_doubled_capped_period() -> None:
    breaker = opened()
    assert breaker.admit(at(30)) is Admission.PROBE
    breaker.record(ok=False, now=at(40), probe=True)
    assert breaker.state(at(40)) is CircuitState.OPEN
    assert breaker.retry_at == at(40 + 60)
    assert breaker.failures == 4
    assert breaker.admit(at(100)) is Admission.PROBE
    breaker.record(ok=False, now=at(100), probe=True)
    assert breaker.retry_at == at(100 + 100)  # 120 s capped at max_open_for
    assert breaker.admit(at(200)) is Admission.PROBE
    breaker.record(ok=True, now=at(201), probe=True)
    # Closed again: the next opening starts from the first period.
    for _ in range(3):
        breaker.record(ok=False, now=at(300))
    assert breaker.retry_at == at(330)


def test_a_cancelled_probe_lets_the_next_send_probe() -> None:
    breaker = opened()
    assert breaker.admit(at(30)) is Admission.PROBE
    breaker.cancel_probe()
    assert breaker.state(at(31)) is CircuitState.HALF_OPEN
    assert breaker.admit(at(31)) is Admission.PROBE


def test_outcomes_of_sends_admitted_before_the_circuit_opened_change_nothing() -> None:
    breaker = opened()
    breaker.record(ok=True, now=at(1))  # a send started while closed answers late
    assert breaker.state(at(1)) is CircuitState.OPEN
    breaker.record(ok=False, now=at(2))
    assert breaker.retry_at == at(30)  # not pushed back either
    assert breaker.admit(at(30)) is Admission.PROBE
    breaker.record(ok=True, now=at(31))  # an old send, not the probe: half-open stays
    assert breaker.admit(at(31)) is Admission.REFUSED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"open_for": timedelta(0)},
        {"open_for": timedelta(seconds=60), "max_open_for": timedelta(seconds=30)},
    ],
)
def test_a_policy_out_of_range_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must be at least 1|need 0 < open_for <= max_open_for"):
        BreakerPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_circuit_remembers_when_it_first_opened_until_it_closes() -> None:
    # "unreachable since ..." in the reason of a document given up behind it (services.delivery_deferral).
    breaker = opened()
    assert breaker.opened_at == T0
    assert breaker.admit(at(30)) is Admission.PROBE
    breaker.record(ok=False, now=at(31), probe=True)  # reopened: still unreachable since T0
    assert (breaker.state(at(31)), breaker.opened_at) == (CircuitState.OPEN, T0)
    assert breaker.admit(at(91)) is Admission.PROBE
    breaker.record(ok=True, now=at(92), probe=True)
    assert (breaker.state(at(92)), breaker.opened_at) == (CircuitState.CLOSED, None)
    assert CircuitBreaker(POLICY).opened_at is None
