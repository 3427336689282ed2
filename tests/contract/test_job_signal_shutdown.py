"""Contract (PostgreSQL): a listening worker whose process stops hands the listener role over before its event
loop ends. ``gateway worker`` runs the worker in ``asyncio.run``, which cancels the tasks still pending when
the run returns: the signal's task, still releasing the lock and waking the standbys (``_leave``), was
cancelled again mid-statement - the standbys were not woken (one took the role only at its next takeover
attempt) and psycopg logged "query cancellation interrupted (CancelledError): closing connection" at every
such stop.

Here each stopping worker runs in an event loop of its own that ends as ``asyncio.run`` ends one, and the
standby's takeover attempts never come within the test (``POLL``): it can only take the role at once through
the leaving listener's ``NOTIFY``."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from test_job_signal_workers import ENDS_WITHIN, POLL, CountingWorker, Deliveries, enqueue, until

from gateway.store import SQLDocumentStore
from gateway.store import job_signal as job_signal_module
from gateway.store.job_signal import PostgresJobSignal

SESSION = 0.8  # the listener pings every 0.2 s
FAR = 0.05  # seconds: a database server's round trip over a network, well within ``LEAVE_TIMEOUT``


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def pg_store(store: SQLDocumentStore) -> SQLDocumentStore:
    return store


class WorkerProcess:
    """A worker run as ``gateway worker`` runs it: in ``asyncio.run`` (in a thread here), which ends when the
    run returns and cancels the loop's tasks still pending then."""

    def __init__(self, worker: CountingWorker) -> None:
        self.worker = worker
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self.worker.run(stop=self._stop)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(ENDS_WITHIN)

    def stop(self) -> None:
        """SIGTERM: stop leasing; the process ends when the run returns (its loop with it)."""
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)

    async def ended(self) -> bool:
        await asyncio.to_thread(self._thread.join, ENDS_WITHIN)
        return not self._thread.is_alive()


def _psycopg_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("psycopg") and r.levelno >= logging.WARNING
    ]


async def _standing_by(staying: CountingWorker) -> tuple[asyncio.Event, asyncio.Task[Any]]:
    """Start ``staying`` beside the listening worker: it stands by (its first wake-up spent)."""
    stop = asyncio.Event()
    task = asyncio.create_task(staying.run(stop=stop))
    assert await until(lambda: staying.leases > 0 and staying.signal.standing_by)
    await asyncio.sleep(0.3)
    return stop, task


def _hand_over(
    store: SQLDocumentStore, leaving: WorkerProcess, staying: CountingWorker, *, stop_when: threading.Event
) -> tuple[bool, bool, bool, list[str], list[str]]:
    """Stop the listening worker's process once ``stop_when`` is set; after that process ended, whether the
    standby took the role within ``ENDS_WITHIN`` and leases the next job."""

    async def main() -> tuple[bool, bool, bool, list[str], list[str]]:
        leaving.start()
        assert await until(lambda: leaving.worker.leases > 0 and leaving.worker.signal.listening)
        stop, running = await _standing_by(staying)
        assert await asyncio.to_thread(stop_when.wait, ENDS_WITHIN)
        leaving.stop()
        ended = await leaving.ended()
        took_over = await until(lambda: staying.signal.listening)  # well under its takeover interval
        later = await asyncio.to_thread(enqueue, store)
        await until(lambda: staying.deliveries.delivered == [later])
        stop.set()
        await asyncio.wait_for(running, timeout=ENDS_WITHIN)
        return ended, leaving.worker.signal.listening, took_over, staying.deliveries.delivered, [later]

    return asyncio.run(main())


def test_a_listening_worker_whose_process_stops_hands_over_without_a_warning(
    pg_store: SQLDocumentStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing in flight: the run returns right after its signal was closed, and its loop ends with it. The
    # server answers after a round trip of a network (``FAR``), not of this host: the loop ended before the
    # leaving listener's release and NOTIFY were answered, and the standby was never woken.
    caplog.set_level(logging.WARNING, logger="psycopg")
    release_and_tell = job_signal_module._release_and_tell

    async def far_server(connection: Any) -> None:
        await asyncio.sleep(FAR)
        await release_and_tell(connection)

    monkeypatch.setattr(job_signal_module, "_release_and_tell", far_server)
    leaving = WorkerProcess(CountingWorker(pg_store, Deliveries(), takeover=POLL))
    staying = CountingWorker(pg_store, Deliveries(), takeover=POLL)
    listens = threading.Event()
    listens.set()

    ended, still_listening, took_over, by_staying, later = _hand_over(
        pg_store, leaving, staying, stop_when=listens
    )
    assert ended
    assert not still_listening
    assert took_over  # woken by the leaving listener, not by a takeover attempt
    assert by_staying == later
    assert _psycopg_warnings(caplog) == []


def test_a_listener_stopped_during_a_statement_hands_over_without_a_warning(
    pg_store: SQLDocumentStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its worker stops while the signal's statement runs (a ping here; a standby's takeover attempt, a hand-on
    # NOTIFY alike): psycopg cancels it on the server, over a connection of its own, then the listener leaves.
    # The loop's end cancelled that cancellation (the warning, the connection closed, no hand-over).
    caplog.set_level(logging.WARNING, logger="psycopg")
    signal = PostgresJobSignal(pg_store.engine, takeover_interval=POLL, session_timeout=SESSION)
    worker = CountingWorker(pg_store, Deliveries(), signal=signal)
    pinging = threading.Event()

    async def slow_ping(connection: Any) -> None:
        pinging.set()
        await connection.execute(f"SELECT pg_sleep({ENDS_WITHIN})")  # still running when the worker stops

    monkeypatch.setattr(signal, "_ping", slow_ping)
    leaving = WorkerProcess(worker)
    staying = CountingWorker(pg_store, Deliveries(), takeover=POLL)

    ended, still_listening, took_over, by_staying, later = _hand_over(
        pg_store, leaving, staying, stop_when=pinging
    )
    assert _psycopg_warnings(caplog) == []
    assert ended
    assert not still_listening
    assert took_over
    assert by_staying == later
