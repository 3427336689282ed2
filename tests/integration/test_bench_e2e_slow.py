"""``gateway bench e2e-slow`` runs its scenario end to end: documents spread over ten endpoints, nine fast
real AS4 receivers and one behind the delaying proxy; the figures come back (timings are not asserted)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.bench.e2e_slow import DEFAULT_TEMPLATE, RECEIVERS, Scenario, enterprise_number, run_scenario
from gateway.model.identifiers import is_valid_be_enterprise_number

pytestmark = pytest.mark.slow


def test_the_ten_buyers_have_valid_distinct_enterprise_numbers() -> None:
    numbers = [enterprise_number(i) for i in range(RECEIVERS)]
    assert len(set(numbers)) == RECEIVERS
    assert all(len(n) == 10 and is_valid_be_enterprise_number(n) for n in numbers)


def test_a_slow_endpoint_scenario_delivers_the_nine_and_reports_their_throughput(tmp_path: Path) -> None:
    result = run_scenario(
        Scenario("slow", 1.0),
        documents=20,
        workdir=tmp_path / "slow",
        template=DEFAULT_TEMPLATE,
        send_timeout=10,
        timeout=120,
    )
    assert result.errors == []
    assert (result.fast_documents, result.fast_delivered, result.slow_documents) == (18, 18, 2)
    assert result.proxy_requests >= 1  # the tenth endpoint's documents went through the proxy
    assert result.fast_rate is not None
    assert result.fast_rate > 0


def test_a_silent_endpoint_scenario_ends_when_the_nine_are_final(tmp_path: Path) -> None:
    """The silent endpoint's documents stay ``retrying``: the round must not wait them out to its timeout."""
    started = time.monotonic()
    result = run_scenario(
        Scenario("silent", None),
        documents=20,
        workdir=tmp_path / "silent",
        template=DEFAULT_TEMPLATE,
        send_timeout=2,
        timeout=600,
    )
    assert result.errors == []
    assert (result.fast_documents, result.fast_delivered, result.slow_documents) == (18, 18, 2)
    assert result.slow_delivered == 0
    assert time.monotonic() - started < 300  # far from the 600 s it would wait for the silent two
