"""Smoke test of ``gateway bench e2e`` with a tiny load: the real serve and worker processes on loopback must
deliver every posted copy and the result must carry every figure. Timing values are not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.bench.e2e import run_e2e, scratch_postgres_database
from gateway.bench.e2e_report import SHARED, E2EParameters, format_table
from tests.contract.store_databases import postgres_admin_url, reachable_postgres_admin_url

pytestmark = pytest.mark.slow


def test_sqlite_one_worker_delivers_every_copy_and_reports_all_figures(tmp_path: Path) -> None:
    params = E2EParameters(
        rate=3.0, duration=1.0, saturation=2, saturation_concurrency=2, warmup=1, timeout=90
    )

    result = run_e2e(database="sqlite", workers=1, params=params, workdir=tmp_path / "bench")

    assert result.error is None
    assert result.fixed_rate is not None
    assert result.saturation is not None
    for phase, posted in ((result.fixed_rate, 3), (result.saturation, 2)):
        counts = (phase.posted, phase.accepted, phase.delivered, phase.failed, phase.pending)
        assert counts == (posted, posted, posted, 0, 0)
        assert phase.errors == []
        figures = (
            phase.seconds,
            phase.throughput,
            phase.latency_p50_ms,
            phase.latency_p99_ms,
            phase.post_p99_ms,
        )
        assert all(figure is not None for figure in figures)
        assert all(figure > 0 for figure in figures if figure is not None)
        assert (phase.post_p99_ms or 0) > 0
        assert phase.latency_p50_ms <= phase.latency_p99_ms <= phase.latency_max_ms  # type: ignore[operator]
    # Warm-up, fixed-rate and saturation copies all reached the receiving access point's /as4.
    assert result.inbound_received == 1 + 3 + 2
    assert (result.serve_peak_mib or 0) > 10
    assert (result.receiver_peak_mib or 0) > 10
    assert len(result.worker_peak_mib) == 1
    assert (result.worker_peak_mib[0] or 0) > 10
    # The receiver is a process of its own: it, the sender's serve and the worker each spent CPU.
    cpu = result.cpu_ms_per_document or {}
    assert set(cpu) == {"serve", "workers", "receiver"}
    assert all(ms > 0 for ms in cpu.values())
    assert (result.load_generator_cpu_ms or 0) > 0  # the benchmark's own process, reported apart
    # Each process was switched out during the phase (a send, a receipt, a commit...).
    switches = result.switches_per_document or {}
    assert set(switches) == {"serve", "workers", "receiver"}
    assert all(voluntary > 0 and preempted >= 0 for voluntary, preempted in switches.values())
    assert result.ok
    as_json = json.loads(json.dumps(result.as_json()))
    assert as_json["ok"] is True
    assert as_json["fixed_rate"]["delivered"] == 3
    table = format_table([result], params, cpus=2)
    for expected in ("sqlite", "3/3", "2/2", "load generator", "Context switches per delivered document"):
        assert expected in table
    assert (tmp_path / "bench" / "serve.log").is_file()
    assert (tmp_path / "bench" / "worker.log").is_file()
    assert (tmp_path / "bench" / "receiver" / "serve.log").is_file()
    assert not (tmp_path / "bench" / "receiver" / "worker.log").exists()
    # Quiet: the sender asks for an MLS on failure only, so the receiver has no MLS to send for a valid copy
    # (its directory does not list the sender for MLS) and nothing to warn about, per document.
    receiver_log = (tmp_path / "bench" / "receiver" / "serve.log").read_text()
    assert "no MLS for inbound document" not in receiver_log
    # The receiver has no production units: every copy lands in triage, so it is not acknowledged (AB goes
    # when routed to a unit): no Invoice Response and no lookup of the supplier per copy, the receiver's
    # work per document what issue 12 measured before AB was on by default.
    receiver = create_engine(f"sqlite:///{tmp_path / 'bench' / 'receiver' / 'gateway.db'}")
    try:
        with receiver.connect() as connection:
            statuses = connection.execute(text("SELECT status, count(*) FROM expenses GROUP BY status")).all()
            kinds = connection.execute(text("SELECT DISTINCT kind FROM outbound_documents")).scalars().all()
    finally:
        receiver.dispose()
    assert [tuple(row) for row in statuses] == [("to_triage", 1 + 3 + 2)]  # the warm-up and both phases
    assert kinds == []  # no Invoice Response, and no MLS: valid copies get none (asked on failure only)
    assert '"level":"WARNING"' not in receiver_log


def test_a_shared_gateway_receives_what_it_sends_on_its_own_as4(tmp_path: Path) -> None:
    params = E2EParameters(
        rate=2.0, duration=1.0, saturation=2, saturation_concurrency=2, warmup=0, timeout=90, receiver=SHARED
    )

    result = run_e2e(database="sqlite", workers=1, params=params, workdir=tmp_path / "bench")

    assert result.ok, result.error
    assert result.inbound_received == 2 + 2  # stored by the sending gateway's own /as4
    assert result.receiver_peak_mib is None
    assert set(result.cpu_ms_per_document or {}) == {"serve", "workers"}
    assert not (tmp_path / "bench" / "receiver").exists()


def test_set_reaches_the_senders_and_the_receivers_serve(tmp_path: Path) -> None:
    gc_log = ("GATEWAY_VALIDATION__SAXON_ISOLATE_OPTIONS", '["-XX:+PrintGC"]')
    params = E2EParameters(rate=2.0, duration=1.0, saturation=0, warmup=0, timeout=90, overrides=(gc_log,))

    result = run_e2e(database="sqlite", workers=1, params=params, workdir=tmp_path / "bench")

    assert result.ok, result.error
    # Saxon's isolate of each serve logged its collections (the forced one after compiling, at least).
    for log in (tmp_path / "bench" / "serve.log", tmp_path / "bench" / "receiver" / "serve.log"):
        assert "Pause Full GC" in log.read_text()
    assert "settings: GATEWAY_VALIDATION__SAXON_ISOLATE_OPTIONS=" in format_table([result], params, cpus=2)


def test_two_sqlite_workers_are_flagged_as_sharing_one_writer(tmp_path: Path) -> None:
    params = E2EParameters(rate=2.0, duration=1.0, saturation=0, warmup=0, timeout=90)

    result = run_e2e(database="sqlite", workers=2, params=params, workdir=tmp_path / "bench")

    assert result.ok, result.error
    assert result.saturation is None
    assert len(result.worker_peak_mib) == 2
    assert any("serialises writers" in note for note in result.notes)


@pytest.mark.postgres
def test_the_scratch_postgres_database_exists_only_inside_the_block() -> None:
    url = reachable_postgres_admin_url()
    admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:

        def exists(name: str) -> bool:
            with admin.connect() as connection:
                query = text("SELECT 1 FROM pg_database WHERE datname = :n")
                return connection.execute(query, {"n": name}).first() is not None

        with scratch_postgres_database(url) as scratch:
            name = scratch.rsplit("/", 1)[1]
            assert name.startswith("bench_")
            assert exists(name)
        assert not exists(name)
    finally:
        admin.dispose()


def test_with_mls_every_copy_is_confirmed_by_the_receivers_mls(tmp_path: Path) -> None:
    """``--mls``: the receiver's worker sends an MLS per copy to the sender's /as4, which applies it
    (delivered -> confirmed); the cell waits for that and prints its cost (the receiver's worker CPU)."""
    params = E2EParameters(
        rate=2.0, duration=1.0, saturation=2, saturation_concurrency=2, warmup=1, timeout=90, mls=True
    )

    result = run_e2e(database="sqlite", workers=1, params=params, workdir=tmp_path / "bench")

    assert result.ok, result.error
    for phase in (result.fixed_rate, result.saturation):
        assert phase is not None
        assert (phase.delivered, phase.confirmed) == (2, 2)
        assert phase.confirmed_p99_ms is not None
        assert phase.confirmed_p99_ms >= (phase.latency_p99_ms or 0)
        assert (phase.confirmed_throughput or 0) > 0
    cpu = result.cpu_ms_per_document or {}
    assert set(cpu) == {"serve", "workers", "receiver", "receiver_workers"}
    assert all(ms > 0 for ms in cpu.values())
    table = format_table([result], params, cpus=2)
    assert "MLS back to the sender" in table
    assert "2/2" in table
    assert (tmp_path / "bench" / "receiver" / "worker.log").is_file()
    receiver_log = (tmp_path / "bench" / "receiver" / "serve.log").read_text()
    assert "no MLS for inbound document" not in receiver_log
    # The receiver has no production units: every copy lands in triage, so it is not acknowledged (AB goes
    # when routed to a unit): no Invoice Response and no lookup of the supplier per copy, the receiver's
    # work per document what issue 12 measured before AB was on by default.
    receiver = create_engine(f"sqlite:///{tmp_path / 'bench' / 'receiver' / 'gateway.db'}")
    try:
        with receiver.connect() as connection:
            statuses = connection.execute(text("SELECT status, count(*) FROM expenses GROUP BY status")).all()
            kinds = connection.execute(text("SELECT DISTINCT kind FROM outbound_documents")).scalars().all()
    finally:
        receiver.dispose()
    assert [tuple(row) for row in statuses] == [("to_triage", 2 + 2 + 1)]  # both phases and the warm-up
    assert kinds == ["mls"]


def test_with_receiver_workers_the_receivers_worker_validates_and_sends_the_mls(tmp_path: Path) -> None:
    """``--receiver-workers 1``: the receiver's ``serve`` answers the receipts only
    (``GATEWAY_AS4__AFTER_RECEIPT=worker``); its worker validates each copy and sends its MLS, and the cell
    reports when the receiver had the burst's verdicts."""
    params = E2EParameters(
        rate=2.0,
        duration=1.0,
        saturation=3,
        saturation_concurrency=2,
        warmup=1,
        timeout=90,
        mls=True,
        receiver_workers=1,
    )

    result = run_e2e(database="sqlite", workers=1, params=params, workdir=tmp_path / "bench")

    assert result.ok, result.error
    assert result.saturation is not None
    # Confirmed: the MLS went out with each verdict, which only the worker records here (serve queues no
    # work, and its sweep waits 5 minutes).
    assert result.saturation.confirmed == 3
    assert result.receiver_done == 3
    assert (result.receiver_done_seconds or 0) > 0
    assert "Receiver done" in format_table([result], params, cpus=2)
