"""Crash recovery with real processes: ``gateway worker`` runs in a subprocess, is killed with SIGKILL while a
send is in flight, and is restarted. Every document must end delivered, each exactly once at the receiver
(by MessageId), and every resend must carry the bytes of the first send."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from as4_support import RECEIVER
from delivery_support import ReceiverAP, queue_document, serve, write_directory
from sqlalchemy import update
from sqlalchemy.engine import URL

from gateway.config import Settings
from gateway.crypto import DevPKI, TrustStore, generate_dev_pki
from gateway.model.message import DeliveryStatus, Direction, OutboundDocument
from gateway.store import SQLDocumentStore, make_engine, upgrade_database
from gateway.store.tables import delivery_jobs
from tests.contract.store_databases import migrated_postgres_database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# Longer than the default: these tests do not wait for a dead worker's lease to run out, they expire it in
# the database (expire_leases), as time would. The take-over test below uses the default lease.
LEASE_SECONDS = 65.0
# The worker as `gateway worker` runs it, without depending on main.py's subcommand list.
ENTRY = (
    "import argparse, sys\n"
    "from gateway.cli import worker\n"
    "from gateway.config import Settings\n"
    "parser = argparse.ArgumentParser()\n"
    "worker.register(parser.add_subparsers())\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args, Settings()))\n"
)


@pytest.fixture(scope="module")
def pki() -> DevPKI:
    """A PKI valid at the real time: the worker subprocess uses the system clock."""
    return generate_dev_pki(now=datetime.now(UTC))


@pytest.fixture
def receiver(pki: DevPKI) -> ReceiverAP:
    trust = TrustStore.from_certificates((pki.ap_ca.certificate, pki.root.certificate))
    return ReceiverAP(
        key=pki.aps["POP000002"].key_material(),
        trust=trust,
        served=frozenset({RECEIVER}),
        clock=lambda: datetime.now(UTC),
    )


@pytest.fixture
def url(receiver: ReceiverAP) -> Iterator[str]:
    with serve(receiver) as u:
        yield u


@pytest.fixture
def postgres_url() -> Iterator[URL]:
    with migrated_postgres_database() as url:
        yield url


def worker_env(
    tmp_path: Path, pki: DevPKI, url: str, database_url: str, *, batch_size: int
) -> dict[str, str]:
    files = pki.files()
    for name in ("root.pem", "apca.pem", "pop000001.key.pem", "pop000001.cert.pem"):
        (tmp_path / name).write_bytes(files[name])
    directory = write_directory(tmp_path / "directory.json", url, certificate_pem=files["pop000002.cert.pem"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "GATEWAY_DATABASE__URL": database_url,
            "GATEWAY_KEYSTORE__PATH": str(tmp_path / "pop000001.key.pem"),
            "GATEWAY_KEYSTORE__CERT_PATH": str(tmp_path / "pop000001.cert.pem"),
            "GATEWAY_TRUSTSTORE__PATHS": json.dumps([str(tmp_path / "root.pem"), str(tmp_path / "apca.pem")]),
            "GATEWAY_TRUSTSTORE__STAGE": "development",  # the development PKI
            "GATEWAY_DIRECTORY__PATH": str(directory),
            "GATEWAY_AS4__MESSAGE_ID_DOMAIN": "crash.test",
            "GATEWAY_WORKER__BATCH_SIZE": str(batch_size),
            "GATEWAY_WORKER__MAX_IN_FLIGHT": str(batch_size),
            "GATEWAY_WORKER__POLL_INTERVAL_SECONDS": "0.2",
            "GATEWAY_WORKER__LEASE_SECONDS": str(LEASE_SECONDS),
            "GATEWAY_WORKER__CONNECT_TIMEOUT_SECONDS": "0.5",
            "GATEWAY_WORKER__SEND_TIMEOUT_SECONDS": "1.5",
            "GATEWAY_WORKER__BACKOFF_BASE_SECONDS": "0.5",
            "GATEWAY_WORKER__BACKOFF_CAP_SECONDS": "1",
        }
    )
    return env


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", ENTRY, "worker", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def documents(store: SQLDocumentStore, ids: list[str]) -> dict[str, OutboundDocument]:
    with store.unit_of_work(read_only=True) as uow:
        found = {i: uow.outbound.get(i) for i in ids}
    return {i: d for i, d in found.items() if d is not None}


def all_delivered(store: SQLDocumentStore, ids: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        docs = documents(store, ids)
        return len(docs) == len(ids) and all(d.status is DeliveryStatus.DELIVERED for d in docs.values())

    return check


def expire_leases(store: SQLDocumentStore) -> None:
    """Let every current lease run out now (what waiting LEASE_SECONDS after a kill would do)."""
    with store.engine.begin() as connection:
        connection.execute(
            update(delivery_jobs)
            .where(delivery_jobs.c.leased_until.is_not(None))
            .values(leased_until=datetime.now(UTC) - timedelta(seconds=1))
        )


def delivered_count(store: SQLDocumentStore, ids: list[str], count: int) -> Callable[[], bool]:
    def check() -> bool:
        docs = documents(store, ids).values()
        return sum(d.status is DeliveryStatus.DELIVERED for d in docs) >= count

    return check


def handles_sigterm(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """True once the process catches SIGTERM (its loop is running; before, SIGTERM would just kill it)."""

    def check() -> bool:
        status = Path(f"/proc/{process.pid}/status").read_text()
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))

    return check


def stop_gracefully(process: subprocess.Popen[bytes]) -> dict[str, object]:
    """SIGTERM: the worker finishes its deliveries in flight, prints its JSON summary and exits 0."""
    wait_for(handles_sigterm(process), "the worker to start")  # a loaded machine starts it slowly
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode(errors="replace")
    summary: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return summary


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    process.kill()  # SIGKILL: no cleanup, no outcome recorded, the lease stays until it expires
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def assert_each_delivered_once_with_its_first_bytes(
    store: SQLDocumentStore, receiver: ReceiverAP, ids: list[str]
) -> None:
    docs = documents(store, ids)
    message_ids = {d.as4_message_id or "" for d in docs.values()}
    assert "" not in message_ids
    assert len(message_ids) == len(ids)  # one message per document
    # Exactly once at the receiver's back end, by MessageId; no other message ever arrived.
    assert sorted(receiver.delivered) == sorted(message_ids)
    assert {r.message_id for r in receiver.requests if r.message_id} == message_ids
    with store.unit_of_work(read_only=True) as uow:
        for document in docs.values():
            record = uow.messages.get(document.as4_message_id or "", Direction.OUT)
            assert record is not None
            assert record.signal is not None
            bodies = receiver.bodies_for(record.message_id)
            assert bodies
            assert all(body == record.request.body for body in bodies)  # resends are byte-identical


def test_sqlite_worker_killed_mid_send_resumes_after_restart(
    tmp_path: Path, pki: DevPKI, receiver: ReceiverAP, url: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(database_url)
    store = SQLDocumentStore(make_engine(database_url))
    try:
        ids = [queue_document(store, at=datetime.now(UTC)) for _ in range(3)]
        env = worker_env(tmp_path, pki, url, database_url, batch_size=1)
        receiver.script.append("hold")  # the first request stays in flight until released

        first = start_worker(env)
        wait_for(lambda: len(receiver.requests) == 1, "the first send")
        kill_hard(first)
        in_flight = [d for d in documents(store, ids).values() if d.status is DeliveryStatus.SENDING]
        assert len(in_flight) == 1  # stored and marked sending before the send
        held_message_id = in_flight[0].as4_message_id
        assert held_message_id is not None
        receiver.release.set()  # the receiver now accepts it; its receipt goes to a dead socket
        expire_leases(store)  # the dead worker's lease runs out

        second = start_worker(env)
        wait_for(all_delivered(store, ids), "every document delivered")
        summary = stop_gracefully(second)

        assert documents(store, [in_flight[0].id])[in_flight[0].id].as4_message_id == held_message_id
        assert len(receiver.bodies_for(held_message_id)) == 2  # sent, killed, resent
        assert_each_delivered_once_with_its_first_bytes(store, receiver, ids)
        assert summary["processed"] == 3
    finally:
        store.close()


@pytest.mark.postgres
def test_postgresql_two_workers_share_the_queue_and_survive_a_kill(
    tmp_path: Path, pki: DevPKI, receiver: ReceiverAP, url: str, postgres_url: URL
) -> None:
    database_url = postgres_url.render_as_string(hide_password=False)
    store = SQLDocumentStore(make_engine(postgres_url))
    try:
        ids = [queue_document(store, at=datetime.now(UTC)) for _ in range(20)]
        env = worker_env(tmp_path, pki, url, database_url, batch_size=1)
        receiver.default_step = "sleep:0.1"
        # Requests 7 and 8 are held: with batch size 1 each worker then has its one send in flight.
        receiver.script.extend(["sleep:0.1"] * 6 + ["hold", "hold"])

        worker_a = start_worker(env)
        worker_b = start_worker(env)
        wait_for(lambda: len(receiver.requests) >= 8, "both workers to be mid-send")
        kill_hard(worker_a)
        receiver.release.set()
        worker_a2 = start_worker(env)  # the restarted process
        # Everything but the killed worker's document is delivered; then its lease runs out.
        wait_for(delivered_count(store, ids, len(ids) - 1), "every other document delivered", timeout=90)
        expire_leases(store)
        wait_for(all_delivered(store, ids), "every document delivered", timeout=90)
        summaries = [stop_gracefully(worker_b), stop_gracefully(worker_a2)]

        assert_each_delivered_once_with_its_first_bytes(store, receiver, ids)
        assert int(str(summaries[0]["processed"])) >= 1  # B took part (SKIP LOCKED handed it its own jobs)
        assert len(receiver.requests) - 20 <= 2  # only the two interrupted sends were repeated
    finally:
        store.close()


@pytest.mark.postgres
def test_postgresql_a_renewed_lease_is_kept_through_a_slow_send_and_a_killed_workers_job_is_taken_over(
    tmp_path: Path, pki: DevPKI, receiver: ReceiverAP, url: str, postgres_url: URL
) -> None:
    """Default lease (50 s, renewed every 10 s): worker A's send takes longer than the lease and B, polling
    the same queue, does not steal it; then A is SIGKILLed and B resends the job within a minute."""
    database_url = postgres_url.render_as_string(hide_password=False)
    store = SQLDocumentStore(make_engine(postgres_url))
    defaults = Settings().worker
    try:
        slow = queue_document(store, at=datetime.now(UTC) - timedelta(seconds=1))
        others = [queue_document(store, at=datetime.now(UTC)) for _ in range(5)]
        env = worker_env(tmp_path, pki, url, database_url, batch_size=1)
        for name in ("LEASE_SECONDS", "BATCH_SIZE", "MAX_IN_FLIGHT"):
            del env[f"GATEWAY_WORKER__{name}"]  # the defaults
        env["GATEWAY_WORKER__SEND_TIMEOUT_SECONDS"] = "120"
        receiver.script.append(f"sleep:{defaults.lease_seconds + 20:g}")  # A's send outlasts the lease
        worker_a = start_worker({**env, "GATEWAY_WORKER__MAX_IN_FLIGHT": "1"})  # A holds only the slow one
        wait_for(lambda: len(receiver.requests) == 1, "A's send")
        worker_b = start_worker(env)
        wait_for(delivered_count(store, others, len(others)), "B delivering the other documents")
        time.sleep(defaults.lease_seconds + 5 - 1)  # A's first lease would have run out by now
        assert len(receiver.requests) == 1 + len(others)  # B did not resend A's document
        assert documents(store, [slow])[slow].status is DeliveryStatus.SENDING

        kill_hard(worker_a)
        killed_at = time.monotonic()
        wait_for(lambda: len(receiver.requests) == 2 + len(others), "B taking A's job over", timeout=90)
        taken_over_after = time.monotonic() - killed_at
        wait_for(all_delivered(store, [slow, *others]), "every document delivered", timeout=30)
        stop_gracefully(worker_b)

        assert taken_over_after < 60
        assert_each_delivered_once_with_its_first_bytes(store, receiver, [slow, *others])
    finally:
        store.close()
