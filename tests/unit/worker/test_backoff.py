"""Backoff: capped exponential with full jitter above a floor; monotonic and bounded (hypothesis)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.services.backoff import retry_horizon
from gateway.worker import BackoffPolicy, backoff_ceiling, backoff_delay, next_attempt_at

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

bases = st.integers(min_value=1, max_value=600).map(lambda s: timedelta(seconds=s))
factors = st.floats(min_value=1.0, max_value=10.0, allow_nan=False)
caps_over_base = st.integers(min_value=0, max_value=86_400).map(lambda s: timedelta(seconds=s))
attempts = st.integers(min_value=1, max_value=10_000)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(bases, factors, caps_over_base, attempts, attempts, fractions)
def test_delay_never_decreases_with_the_attempt(
    base: timedelta, factor: float, extra: timedelta, a: int, b: int, fraction: float
) -> None:
    cap = base + extra
    low, high = sorted((a, b))
    first = backoff_delay(low, base=base, factor=factor, cap=cap, fraction=fraction)
    later = backoff_delay(high, base=base, factor=factor, cap=cap, fraction=fraction)
    assert first <= later


@given(bases, factors, caps_over_base, attempts, fractions)
def test_delay_is_bounded_by_floor_ceiling_and_cap(
    base: timedelta, factor: float, extra: timedelta, attempt: int, fraction: float
) -> None:
    cap = base + extra
    ceiling = backoff_ceiling(attempt, base=base, factor=factor, cap=cap)
    delay = backoff_delay(attempt, base=base, factor=factor, cap=cap, fraction=fraction)
    assert base <= delay <= ceiling <= cap


@given(st.integers(min_value=1, max_value=20))
def test_ceiling_doubles_until_the_cap(attempt: int) -> None:
    base, cap = timedelta(seconds=30), timedelta(hours=1)
    ceiling = backoff_ceiling(attempt, base=base, factor=2.0, cap=cap)
    assert ceiling == min(cap, base * 2 ** (attempt - 1))
    if ceiling < cap:
        assert backoff_ceiling(attempt + 1, base=base, factor=2.0, cap=cap) > ceiling


@given(attempts, st.randoms(use_true_random=False))
def test_next_attempt_at_is_now_plus_a_jittered_delay(attempt: int, rng: random.Random) -> None:
    when = next_attempt_at(attempt, NOW, jitter=rng.random)
    assert NOW + timedelta(seconds=30) <= when <= NOW + timedelta(hours=1)


def test_jitter_spreads_retries_and_the_random_source_decides() -> None:
    draws = [next_attempt_at(6, NOW, jitter=random.Random(seed).random) for seed in range(50)]
    assert len(set(draws)) > 40  # documents that failed together do not retry together
    assert draws == [next_attempt_at(6, NOW, jitter=random.Random(seed).random) for seed in range(50)]
    assert next_attempt_at(6, NOW, jitter=lambda: 0.0) == NOW + timedelta(seconds=30)
    assert next_attempt_at(6, NOW, jitter=lambda: 1.0) == NOW + timedelta(seconds=30 * 32)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    cap = timedelta(hours=1)
    assert backoff_ceiling(10**6, base=timedelta(seconds=1), factor=10.0, cap=cap) == cap


@pytest.mark.parametrize(
    ("attempt", "base", "factor", "cap", "fraction"),
    [
        (0, timedelta(seconds=1), 2.0, timedelta(seconds=10), 0.5),
        (1, timedelta(0), 2.0, timedelta(seconds=10), 0.5),
        (1, timedelta(seconds=20), 2.0, timedelta(seconds=10), 0.5),
        (1, timedelta(seconds=1), 0.5, timedelta(seconds=10), 0.5),
        (1, timedelta(seconds=1), float("nan"), timedelta(seconds=10), 0.5),
        (1, timedelta(seconds=1), 2.0, timedelta(seconds=10), 1.5),
    ],
)
def test_out_of_range_arguments_are_refused(
    attempt: int, base: timedelta, factor: float, cap: timedelta, fraction: float
) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        backoff_delay(attempt, base=base, factor=factor, cap=cap, fraction=fraction)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_attempt_at(1, NOW.replace(tzinfo=None), jitter=lambda: 0.5)


def test_policy() -> None:
    policy = BackoffPolicy(base=timedelta(seconds=10), factor=3.0, cap=timedelta(minutes=5), max_attempts=3)
    assert not policy.exhausted(2)
    assert policy.exhausted(3)
    assert policy.next_attempt_at(2, NOW, lambda: 1.0) == NOW + timedelta(seconds=30)
    with pytest.raises(ValueError, match="max_attempts"):
        BackoffPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base <= cap"):
        BackoffPolicy(base=timedelta(hours=2))


@pytest.mark.parametrize("max_attempts", [1, 2, 5, 12, 40])
@pytest.mark.parametrize("factor", [1.0, 1.5, 2.0, 3.0])
def test_the_retry_horizon_is_the_sum_of_the_ceilings_before_the_last_attempt(
    max_attempts: int, factor: float
) -> None:
    policy = BackoffPolicy(
        base=timedelta(seconds=7), factor=factor, cap=timedelta(minutes=20), max_attempts=max_attempts
    )
    ceilings = [
        backoff_ceiling(n, base=policy.base, factor=factor, cap=policy.cap) for n in range(1, max_attempts)
    ]
    assert policy.horizon == sum(ceilings, timedelta(0))
    # Any limit is summed at once past the cap: the sum is not a loop over the attempts.
    huge = retry_horizon(10**9, base=policy.base, factor=factor, cap=policy.cap)
    assert huge >= (policy.base if factor == 1.0 else policy.cap) * (10**9 - 100)
