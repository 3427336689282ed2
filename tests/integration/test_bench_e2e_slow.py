"""``gateway bench e2e-slow`` runs its scenario end to end: documents spread over ten endpoints, nine fast
real AS4 receivers and one behind the delaying proxy; the figures come back (timings are not asserted). On
SQLite with one worker, or on a scratch PostgreSQL database with several."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from gateway.bench.e2e_slow import DEFAULT_TEMPLATE, enterprise_number, run_scenario
from gateway.bench.e2e_slow_report import RECEIVERS, Scenario, format_slow_table
from gateway.cli.main import main
from gateway.model.identifiers import is_valid_be_enterprise_number
from tests.contract.store_databases import reachable_postgres_admin_url

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


@pytest.mark.postgres
def test_on_postgres_two_workers_deliver_the_nine_and_the_header_says_so(tmp_path: Path) -> None:
    workdir = tmp_path / "pg"
    result = run_scenario(
        Scenario("slow", 1.0),
        documents=20,
        workdir=workdir,
        template=DEFAULT_TEMPLATE,
        send_timeout=10,
        timeout=120,
        database="postgres",
        workers=2,
        postgres_url=reachable_postgres_admin_url(),
    )
    assert result.errors == []
    assert (result.fast_documents, result.fast_delivered, result.slow_documents) == (18, 18, 2)
    assert result.slow_delivered == 2
    assert result.fast_rate is not None
    assert not (workdir / "gateway.db").exists()  # the store was the scratch PostgreSQL database
    for log in ("worker.log", "worker-2.log"):  # two workers ran, neither failed
        assert "Traceback" not in (workdir / log).read_text()
    args = argparse.Namespace(db="postgres", workers=2, documents=20, send_timeout=10, rounds=1)
    header = format_slow_table([[result]], 20, 4, args).splitlines()[0]
    assert "PostgreSQL, 2 workers (each 20 in flight, 4 per endpoint by default)" in header


def test_several_workers_on_sqlite_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "refused"
    argv = ["bench", "e2e-slow", "--workers", "2", "--rounds", "0", "--workdir", str(workdir)]

    assert main(argv) == 2
    assert "gateway bench e2e-slow: --workers 2 needs --db postgres" in capsys.readouterr().err
    assert not workdir.exists()
