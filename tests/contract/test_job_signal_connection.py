"""Contract (PostgreSQL): the wake-up signal's own connections are made as the store's engine makes its
connections (its URL and ``connect_args``: ``connect_timeout``, ``application_name``, ``options``...), so a
server that does not answer a new connection is given up after the connect timeout, logged once, and
tried again later, while the worker's loop runs on; and the listener's session has the server drop it when
what the server sends stays unacknowledged (a listener that stopped reading while notifications pile up:
the backend blocks in its send, where the idle-session timeout is not acted on)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from test_job_signal_liveness import LoopThread, close, lock_holder, woken
from test_job_signal_workers import ENDS_WITHIN, enqueue, until

from gateway.store import SQLDocumentStore, make_engine
from gateway.store import job_signal as module
from gateway.store.job_signal import JOBS_CHANNEL, PostgresJobSignal, listener_connect_args, listener_settings

CONNECT_TIMEOUT = 2  # libpq's and psycopg's least
RETRY_AFTER = 0.5


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture(autouse=True)
def quick_relisten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "RELISTEN_DELAY", RETRY_AFTER)


@pytest.fixture
def other_worker() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


def sessions_named(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"), {"name": name}
            ).scalar_one()
        )


def test_the_signal_connects_with_the_engine_connection_parameters(store: SQLDocumentStore) -> None:
    # Both of the signal's connections (the listening one and the one that hands wake-ups on) carry what
    # the engine's connect_args set: here application_name (before: the URL's parameters only); not the
    # synchronous driver's objects (a synchronous cursor factory on the signal's asynchronous connections).
    url = store.engine.url
    name = "gateway-signal-parameters"
    engine = make_engine(url, connect_args={"application_name": name, "cursor_factory": psycopg.ClientCursor})
    signal = PostgresJobSignal(engine, takeover_interval=0.2)

    async def main() -> dict[str, Any]:
        try:
            await woken(signal, ENDS_WITHIN)
            assert await until(lambda: signal.listening)
            seen = {"listening": await asyncio.to_thread(sessions_named, store.engine, name)}
            signal.busy(True)  # opens the hand-on connection
            seen["with_hand_on"] = await until(lambda: sessions_named(store.engine, name) == 2)
            return seen
        finally:
            await close(signal)
            engine.dispose()

    assert asyncio.run(main()) == {"listening": 1, "with_hand_on": True}


class Blackhole:
    """A loopback port whose listening socket's backlog is full: the kernel answers no further SYN, as a
    server (or a firewall) that drops new connections. ``open()`` then relays it to PostgreSQL."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(0)
        self.port = int(self._socket.getsockname()[1])
        self._fillers: list[socket.socket] = []
        while True:  # one connection completes (the accept queue), the next one's SYN goes unanswered
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(filler)
            if not select.select([], [filler], [], 0.3)[1]:
                break
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._server = await asyncio.start_server(self._accept, sock=self._socket)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]
        for source, target in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._relay(source, target))
            self._tasks.add(task)

    @staticmethod
    async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        if self._server is not None:
            self._server.close()
        else:
            self._socket.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def test_a_server_that_does_not_answer_is_given_up_after_the_connect_timeout(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture
) -> None:
    # make_engine's busy timeout of 2 s gives connect_timeout=2: each attempt of the signal ends after ≈ 2 s
    # (before: psycopg's default of 130 s), the outage is logged once however many attempts fail, the
    # worker's loop is never held up, and once the server answers the signal connects and listens.
    url: URL = store.engine.url
    caplog.set_level(logging.INFO, logger="gateway.worker")
    caplog.set_level(logging.DEBUG, logger="psycopg")  # psycopg logs each failed attempt at debug level

    def attempts_failed() -> int:
        return sum(
            "connection timeout expired" in r.getMessage() for r in caplog.records if r.name == "psycopg"
        )

    def warnings() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if r.name == "gateway.worker" and r.levelname == "WARNING"
        ]

    async def main() -> dict[str, Any]:
        blackhole = Blackhole((url.host or "127.0.0.1", url.port or 5432))
        engine = make_engine(url.set(host="127.0.0.1", port=blackhole.port), busy_timeout=CONNECT_TIMEOUT)
        signal = PostgresJobSignal(engine, takeover_interval=0.2)
        gaps: list[float] = []

        async def heartbeat() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(time.monotonic() - last)
                last = time.monotonic()

        beating = asyncio.create_task(heartbeat())
        try:
            started = time.monotonic()
            waiting = asyncio.create_task(signal.wait())
            first = await until(lambda: bool(warnings()), within=CONNECT_TIMEOUT + ENDS_WITHIN)
            seen: dict[str, Any] = {
                "first_failure_within_timeout": first and time.monotonic() - started < 3 * CONNECT_TIMEOUT
            }
            seen["attempts_failed"] = await until(
                lambda: attempts_failed() >= 2, within=3 * (CONNECT_TIMEOUT + RETRY_AFTER) + ENDS_WITHIN
            )
            seen["warnings"] = len(warnings())
            seen["wait_pending"] = not waiting.done()
            await blackhole.open()
            seen["listens_once_answered"] = await until(
                lambda: signal.listening, within=CONNECT_TIMEOUT + ENDS_WITHIN
            )
            seen["connects_again_logged"] = any(
                "connects again" in r.getMessage() for r in caplog.records if r.name == "gateway.worker"
            )
            seen["loop_never_held_up"] = max(gaps) < 0.5
            waiting.cancel()
            return seen
        finally:
            beating.cancel()
            await blackhole.close()  # its relays first: close() waits for every task of the loop
            await close(signal)
            engine.dispose()

    assert asyncio.run(main()) == {
        "first_failure_within_timeout": True,
        "attempts_failed": True,
        "warnings": 1,
        "wait_pending": True,
        "listens_once_answered": True,
        "connects_again_logged": True,
        "loop_never_held_up": True,
    }


def test_the_listener_session_has_the_server_timeouts_and_a_standby_none(store: SQLDocumentStore) -> None:
    # Read on the signal's own sessions right after a takeover attempt: the listener's socket has the
    # server's tcp_user_timeout and keepalives in effect (and the idle-session timeout); a standby's has
    # neither timeout (it holds nothing).
    listener = PostgresJobSignal(store.engine, takeover_interval=0.2, session_timeout=2.0)
    standby = PostgresJobSignal(store.engine, takeover_interval=0.2, session_timeout=2.0)
    names = (
        "idle_session_timeout",
        "tcp_user_timeout",
        "tcp_keepalives_idle",
        "tcp_keepalives_interval",
        "tcp_keepalives_count",
    )
    seen: dict[str, dict[str, str]] = {}

    def record_after(signal: PostgresJobSignal, role: str, *, when_taken: bool) -> None:
        take = signal._take_lock

        async def take_and_read(connection: Any) -> bool:
            taken = bool(await take(connection))
            if taken == when_taken and role not in seen:
                settings = ", ".join(f"current_setting('{name}')" for name in names)
                row = await (await connection.execute(f"SELECT {settings}")).fetchone()
                seen[role] = dict(zip(names, row, strict=True))
            return taken

        signal._take_lock = take_and_read  # type: ignore[method-assign]

    record_after(listener, "listener", when_taken=True)
    record_after(standby, "standby", when_taken=False)

    async def main() -> None:
        await woken(listener, ENDS_WITHIN)
        assert await until(lambda: listener.listening)
        await woken(standby, ENDS_WITHIN)
        assert standby.standing_by
        await close(listener, standby)

    asyncio.run(main())
    assert seen["listener"] == {
        "idle_session_timeout": "2s",
        "tcp_user_timeout": "2000",  # ms
        "tcp_keepalives_idle": "1",  # seconds, read back from the socket: a quarter of 2 s, at least 1
        "tcp_keepalives_interval": "1",
        "tcp_keepalives_count": "3",
    }
    assert (seen["standby"]["idle_session_timeout"], seen["standby"]["tcp_user_timeout"]) == ("0", "0")


def test_listener_settings_by_server_version() -> None:
    # PostgreSQL 13 has no idle_session_timeout, 12 has tcp_user_timeout, 11 neither (keepalives only).
    assert listener_settings(150000, 20.0) == {
        "idle_session_timeout": 20000,
        "tcp_user_timeout": 20000,
        "tcp_keepalives_idle": 5,
        "tcp_keepalives_interval": 5,
        "tcp_keepalives_count": 3,
    }
    assert set(listener_settings(130000, 20.0)) == {
        "tcp_user_timeout",
        "tcp_keepalives_idle",
        "tcp_keepalives_interval",
        "tcp_keepalives_count",
    }
    assert "tcp_user_timeout" not in listener_settings(110000, 20.0)
    assert listener_settings(150000, 0.8)["tcp_keepalives_idle"] == 1


def test_a_listener_that_stops_reading_under_a_flood_of_notifications_loses_the_role(
    store: SQLDocumentStore, other_worker: LoopThread
) -> None:
    # The listener's loop stalls while tens of MB of notifications are sent to it: its socket buffers
    # fill, the server's backend blocks in its send (pg_stat_activity: ClientWrite), where the idle-session
    # timeout is not acted on, so the lock stayed for as long as the stall (before). With tcp_user_timeout
    # the server drops the connection once its data stays unacknowledged for the session timeout, which
    # releases the lock; a standby listens while the old listener is still stalled.
    session = 3.0
    stall = 12.0
    engine = store.engine
    stalled = PostgresJobSignal(engine, takeover_interval=0.2, session_timeout=session)
    standby = PostgresJobSignal(engine, takeover_interval=0.2, session_timeout=session)

    def flood(listener_pid: int | None) -> bool:
        """About 42 MB of notifications on the jobs channel (distinct payloads: none folded); whether the
        listener's backend was seen blocked in its send (``ClientWrite``) after one of the six commits."""
        blocked = False
        with engine.connect() as connection:
            for _ in range(6):
                connection.execute(
                    text(
                        f"SELECT pg_notify('{JOBS_CHANNEL}', g::text || repeat('x', 7000))"
                        " FROM generate_series(1, 1000) g"
                    )
                )
                connection.commit()
                time.sleep(0.05)
                wait_event = connection.execute(
                    text("SELECT wait_event FROM pg_stat_activity WHERE pid = :pid"), {"pid": listener_pid}
                ).scalar()
                connection.commit()
                blocked |= wait_event == "ClientWrite"
        return blocked

    async def main() -> dict[str, Any]:
        other_worker.start(woken(stalled, ENDS_WITHIN))
        assert await until(lambda: stalled.listening)
        listener_pid = await asyncio.to_thread(lock_holder, engine)
        await woken(standby, ENDS_WITHIN)
        assert standby.standing_by
        resumed = other_worker.stall(stall)
        seen: dict[str, Any] = {"blocked_in_its_send": await asyncio.to_thread(flood, listener_pid)}
        await until(lambda: standby.listening or resumed.is_set(), within=stall + ENDS_WITHIN)
        seen["took_over_while_stalled"] = standby.listening and not resumed.is_set()
        seen["old_pid_gone"] = await asyncio.to_thread(lock_holder, engine) != listener_pid
        await woken(standby, ENDS_WITHIN)
        await asyncio.to_thread(enqueue, store)
        seen["woken_by_the_next_job"] = await woken(standby, ENDS_WITHIN)
        assert await asyncio.to_thread(resumed.wait, stall + ENDS_WITHIN)
        seen["old_stands_by"] = await until(lambda: stalled.standing_by and not stalled.listening)
        await other_worker.run(close(stalled))
        await close(standby)
        return seen

    assert asyncio.run(main()) == {
        "blocked_in_its_send": True,
        "took_over_while_stalled": True,
        "old_pid_gone": True,
        "woken_by_the_next_job": True,
        "old_stands_by": True,
    }


def _warnings(caplog: pytest.LogCaptureFixture, text_in: str) -> int:
    return sum(
        text_in in r.getMessage()
        for r in caplog.records
        if r.name == "gateway.worker" and r.levelname == "WARNING"
    )


def _infos(caplog: pytest.LogCaptureFixture, text_in: str) -> int:
    return sum(
        text_in in r.getMessage()
        for r in caplog.records
        if r.name == "gateway.worker" and r.levelname == "INFO"
    )


def test_a_server_that_fails_each_new_connection_after_accepting_it_is_logged_once(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that accepts the connection, then fails its first statement (in recovery after a failover,
    # a pooler refusing the session...): each attempt connected, so each failure was logged as a lost
    # connection, one warning every RELISTEN_DELAY for the whole outage, each after a "connects again"
    # (before). The outage is logged once; "connects again" once the signal listens or stands by.
    caplog.set_level(logging.INFO, logger="gateway.worker")
    refusals = [psycopg.OperationalError(f"refused after connecting ({n})") for n in range(3)]
    take = PostgresJobSignal._take_lock

    async def refusing(self: PostgresJobSignal, connection: Any) -> bool:
        if refusals:
            raise refusals.pop(0)
        return await take(self, connection)

    monkeypatch.setattr(PostgresJobSignal, "_take_lock", refusing)
    signal = PostgresJobSignal(store.engine, takeover_interval=0.2)

    async def main() -> dict[str, Any]:
        try:
            await woken(signal, ENDS_WITHIN)
            return {
                "listens": await until(lambda: signal.listening),
                "refusals_left": len(refusals),
                "warnings": _warnings(caplog, "job wake-up signal failed"),
                "connects_again": _infos(caplog, "connects again"),
            }
        finally:
            await close(signal)

    assert asyncio.run(main()) == {"listens": True, "refusals_left": 0, "warnings": 1, "connects_again": 1}


def test_a_hand_on_connection_that_cannot_be_made_is_logged_once(
    store: SQLDocumentStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hand-on connection cannot be made (the server is down while the listener owes the standbys a
    # wake-up): the task tries again every RELISTEN_DELAY, and logged each attempt (before: one warning
    # every 5 s for the whole outage). Logged once; the wake-up still reaches the standby once it connects.
    caplog.set_level(logging.INFO, logger="gateway.worker")
    connect = psycopg.AsyncConnection.connect
    refusals = [OSError(f"connection refused ({n})") for n in range(3)]

    async def refusing(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if refusals and task is not None and task.get_name() == "job-signal-overflow":
            raise refusals.pop(0)
        return await connect(*args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", refusing)
    listener = PostgresJobSignal(store.engine, takeover_interval=0.2)
    standby = PostgresJobSignal(store.engine, takeover_interval=0.2)

    async def main() -> dict[str, Any]:
        try:
            await woken(listener, ENDS_WITHIN)
            assert await until(lambda: listener.listening)
            await woken(standby, ENDS_WITHIN)  # its first wake-up, after its LISTEN
            assert standby.standing_by
            listener.busy(True)  # a wake-up owed to the standbys: the hand-on connection is made
            standby_woken = await woken(standby, 3 * (RETRY_AFTER + 1) + ENDS_WITHIN)
            # "Works again" is logged once the NOTIFY's reply is read, which may come after the standby
            # got the notification (a loaded loop reads the two sockets in either order): wait for it.
            await until(lambda: _infos(caplog, "handing on job wake-ups works again") > 0)
            return {
                "standby_woken": standby_woken,
                "refusals_left": len(refusals),
                "warnings": _warnings(caplog, "handing on a job wake-up failed"),
                "works_again": _infos(caplog, "handing on job wake-ups works again"),
            }
        finally:
            await close(listener, standby)

    assert asyncio.run(main()) == {
        "standby_woken": True,
        "refusals_left": 0,
        "warnings": 1,
        "works_again": 1,
    }


def test_the_urls_options_and_connect_timeout_are_kept_beside_the_lock_timeout(
    store: SQLDocumentStore,
) -> None:
    # An operator's URL sets `options` (a statement timeout) and `connect_timeout`: make_engine's own
    # `options` (the lock timeout) and `connect_timeout` replaced them, silently, on the engine's connections
    # and since the signal connects as the engine does, on its connections too (before). Both are kept;
    # the lock timeout is added to the URL's options unless they set one.
    url = store.engine.url.set(
        query={"options": "-c statement_timeout=5000", "connect_timeout": "7", "application_name": "r8"}
    )
    engine = make_engine(url, busy_timeout=3)
    try:
        with engine.connect() as connection:
            settings = connection.execute(
                text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
            ).one()
        _, params = listener_connect_args(engine)
    finally:
        engine.dispose()
    own = make_engine(url.update_query_dict({"options": "-c lock_timeout=1500"}))
    try:
        with own.connect() as connection:
            own_lock_timeout = connection.execute(text("SELECT current_setting('lock_timeout')")).scalar()
    finally:
        own.dispose()
    assert tuple(settings) == ("5s", "3s")
    assert str(params["connect_timeout"]) == "7"
    assert "statement_timeout=5000" in params["options"]
    assert "lock_timeout=3000" in params["options"]
    assert own_lock_timeout == "1500ms"
